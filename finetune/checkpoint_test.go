package finetune

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckpointBadInput: damaged or foreign checkpoints give errors naming
// the file, and a round trip restores weights and moments exactly.
func TestCheckpointBadInput(t *testing.T) {
	m, err := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["cla"], 5)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNet(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range n.Params {
		p.G[0] = 1
	}
	(&AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8}).Update(n.Params, 1e-2)
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointName)
	if err := SaveCheckpoint(path, n, State{Step: 7, Seed: 3, Epoch: 1, Pos: 4}); err != nil {
		t.Fatal(err)
	}
	n2, _ := NewNet(m)
	st, err := LoadCheckpoint(path, n2)
	if err != nil || st.Step != 7 || st.Epoch != 1 || st.Pos != 4 {
		t.Fatalf("round trip: %+v, %v", st, err)
	}
	for i, p := range n.Params {
		q := n2.Params[i]
		for j := range p.W {
			if p.W[j] != q.W[j] || p.M[j] != q.M[j] || p.V[j] != q.V[j] {
				t.Fatalf("%s[%d] differs after the round trip", p.Name, j)
			}
		}
	}
	full, _ := os.ReadFile(path)
	other, _ := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["vanilla"], 5)
	otherNet, _ := NewNet(other)
	for name, c := range map[string]struct {
		data []byte
		net  *Net
	}{
		"magic":     {append([]byte("NOTCKPT!"), full[8:]...), n2},
		"truncated": {full[:len(full)-10], n2},
		"header":    {full[:20], n2},
		"model":     {full, otherNet},
	} {
		p := filepath.Join(dir, name+".bin")
		os.WriteFile(p, c.data, 0o644)
		if _, err := LoadCheckpoint(p, c.net); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name %s", name, err, p)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".checkpoint-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

package finetune

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
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
	if err := SaveCheckpoint(path, n, State{Step: 7, Seed: 3, Epoch: 1, Pos: 4, Windows: 10}); err != nil {
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
	if matches, _ := filepath.Glob(filepath.Join(dir, ".checkpoint*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o044 == 0 {
		t.Errorf("checkpoint mode %v, want 0644 minus the umask", fi.Mode().Perm())
	}
}

// resealed is a checkpoint with its JSON header edited and the checksum
// recomputed, so only the field checks can catch the edit.
func resealed(t *testing.T, full []byte, edit func(h map[string]any)) []byte {
	t.Helper()
	hl := binary.LittleEndian.Uint64(full[8:16])
	var h map[string]any
	if err := json.Unmarshal(full[16:16+hl], &h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	hdr, _ := json.Marshal(h)
	out := append([]byte(nil), full[:8]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(hdr)))
	out = append(out, hdr...)
	out = append(out, full[16+hl:len(full)-4]...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
}

// TestCheckpointHostile: a flipped bit, trailing bytes, a wrong moments
// flag, out-of-range fields and non-finite values are refused with the file
// name and the reason; nothing is trained from them.
func TestCheckpointHostile(t *testing.T) {
	m, err := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["cla"], 5)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := NewNet(m)
	for _, p := range n.Params {
		p.G[0] = 1
	}
	(&AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8}).Update(n.Params, 1e-2)
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointName)
	if err := SaveCheckpoint(path, n, State{Step: 3, Seed: 1, Pos: 2, Windows: 5}); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	flipped := append([]byte(nil), full...)
	flipped[len(flipped)/2] ^= 0x10
	nan := append([]byte(nil), full...)
	binary.LittleEndian.PutUint32(nan[len(nan)-8:], math.Float32bits(float32(math.NaN())))
	nan = append(nan[:len(nan)-4], binary.LittleEndian.AppendUint32(nil, crc32.Checksum(nan[:len(nan)-4], crc32.MakeTable(crc32.Castagnoli)))...)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"flipped bit", flipped, "checksum"},
		{"trailing garbage", append(append([]byte(nil), full...), "garbage"...), "bytes, but its header describes"},
		{"moments flag", resealed(t, full, func(h map[string]any) { h["params"].([]any)[0].(map[string]any)["moments"] = false }), "wrong moments flag"},
		{"data_pos -1", resealed(t, full, func(h map[string]any) { h["data_pos"] = -1 }), "data_pos -1"},
		{"data_pos past windows", resealed(t, full, func(h map[string]any) { h["data_pos"] = 6 }), "data_pos 6"},
		{"step -100", resealed(t, full, func(h map[string]any) { h["step"] = -100 }), "step -100"},
		{"tokens", resealed(t, full, func(h map[string]any) { h["tokens"] = -1 }), "tokens -1"},
		{"unknown field", resealed(t, full, func(h map[string]any) { h["extra"] = 1 }), "unknown field"},
		{"duplicate tensor", resealed(t, full, func(h map[string]any) {
			ps := h["params"].([]any)
			ps[1] = ps[0]
		}), "does not match the model"},
		{"NaN weight", nan, "value NaN"},
		{"header length", append(append([]byte(nil), full[:8]...), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0), "header length"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".bin")
		os.WriteFile(p, c.data, 0o644)
		n2, _ := NewNet(m)
		_, err := LoadCheckpoint(p, n2)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q and the file name", c.name, err, c.want)
		}
	}
}

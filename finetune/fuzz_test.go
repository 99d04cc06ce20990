package finetune

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadCheckpoint feeds LoadCheckpoint arbitrary files: it restores a
// valid checkpoint or gives an error, never panics or allocates from a
// length it has not checked against the file.
func FuzzLoadCheckpoint(f *testing.F) {
	m, err := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["cla"], 5)
	if err != nil {
		f.Fatal(err)
	}
	n, err := NewNet(m)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range n.Params[:3] {
		p.G[0] = 1
	}
	(&AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8}).Update(n.Params[:3], 1e-2)
	dir := f.TempDir()
	path := filepath.Join(dir, CheckpointName)
	if err := SaveCheckpoint(path, n, State{Step: 2, Pos: 1, Windows: 3, History: []Point{{Step: 1, Loss: 2}}}); err != nil {
		f.Fatal(err)
	}
	valid, _ := os.ReadFile(path)
	f.Add(valid)
	f.Add(valid[:len(valid)/3])
	f.Add([]byte(ckptMagic + "\x10\x00\x00\x00\x00\x00\x00\x00{\"step\":1}      "))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "c.bin")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		net, _ := NewNet(m)
		st, err := LoadCheckpoint(p, net)
		if err != nil {
			return
		}
		if st.Step < 0 || st.Pos < 0 || st.Pos > st.Windows {
			t.Fatalf("accepted state %+v", st)
		}
	})
}

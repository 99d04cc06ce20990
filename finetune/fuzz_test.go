package finetune

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// smallNet is a net of three small tensors, two with AdamW moments: enough
// for every part of the checkpoint format, small enough to fuzz quickly.
func smallNet() *Net {
	mk := func(name string, shape []int, moments bool) *Param {
		n := 1
		for _, d := range shape {
			n *= d
		}
		p := &Param{Name: name, Shape: shape, W: make([]float32, n), G: make([]float32, n)}
		for i := range p.W {
			p.W[i] = float32(i) / 8
		}
		if moments {
			p.M, p.V = make([]float32, n), make([]float32, n)
			p.M[0], p.V[0] = 0.5, 0.25
		}
		return p
	}
	return &Net{Params: []*Param{mk("a.weight", []int{4, 3}, true), mk("b.bias", []int{5}, false), mk("c.weight", []int{2, 2}, true)}}
}

// FuzzLoadCheckpoint feeds the checkpoint reader arbitrary files: it
// restores a valid checkpoint or gives an error, never panics or allocates
// from a length it has not checked against the file.
func FuzzLoadCheckpoint(f *testing.F) {
	n := smallNet()
	path := filepath.Join(f.TempDir(), CheckpointName)
	if err := SaveCheckpoint(path, n, State{Step: 2, Pos: 1, Windows: 3, History: []Point{{Step: 1, Loss: 2}}}); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/3])
	f.Add([]byte(ckptMagic + "\x10\x00\x00\x00\x00\x00\x00\x00{\"step\":1}      "))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := readCheckpoint(bytes.NewReader(data), int64(len(data)), smallNet())
		if err != nil {
			return
		}
		if st.Step < 0 || st.Pos < 0 || st.Pos > st.Windows {
			t.Fatalf("accepted state %+v", st)
		}
	})
}

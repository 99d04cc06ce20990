package gguf

import (
	"github.com/retrofit-llm/retrofit/safetensors"
	"path/filepath"
	"testing"
)

// hfTensor is a tensor read from a safetensors file by readHF.
type hfTensor struct {
	dtype string
	shape []int
	raw   []byte
}

// readHF reads every tensor of an HF checkpoint directory (one file or shards)
// with the safetensors container package, independent of the loaders under test.
func readHF(t *testing.T, dir string) map[string]hfTensor {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(files) == 0 {
		t.Fatalf("%s: no safetensors files", dir)
	}
	out := map[string]hfTensor{}
	for _, name := range files {
		f, err := safetensors.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range f.Tensors {
			_, raw, _ := f.Bytes(ti.Name)
			out[ti.Name] = hfTensor{ti.DType, ti.Shape, raw}
		}
	}
	return out
}

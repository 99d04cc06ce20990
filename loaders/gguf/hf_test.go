package gguf

import (
	"encoding/binary"
	"encoding/json"
	"os"
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
// with a minimal safetensors parser, independent of the loaders under test.
func readHF(t *testing.T, dir string) map[string]hfTensor {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(files) == 0 {
		t.Fatalf("%s: no safetensors files", dir)
	}
	out := map[string]hfTensor{}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		n := binary.LittleEndian.Uint64(raw)
		var hdr map[string]json.RawMessage
		if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, v := range hdr {
			if k == "__metadata__" {
				continue
			}
			var e struct {
				DType   string   `json:"dtype"`
				Shape   []int    `json:"shape"`
				Offsets [2]int64 `json:"data_offsets"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				t.Fatalf("%s: %s: %v", name, k, err)
			}
			base := 8 + int64(n)
			out[k] = hfTensor{e.DType, e.Shape, raw[base+e.Offsets[0] : base+e.Offsets[1]]}
		}
	}
	return out
}

package testutil

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// SyntheticCheckpoint writes an HF directory in dir with the given
// config.json fields (model_type, sizes) and a model.safetensors of BF16
// tensors: a large checkpoint made quickly, for tests of memory, signals and
// file handling. With dense false the data is a hole (zeros, made in
// milliseconds, but pages of a hole cost no memory when read); with dense
// true it is a repeated pattern of typical weight values, written out. It
// returns the size of the weights file and of its largest tensor.
func SyntheticCheckpoint(tb testing.TB, dir string, cfg map[string]any, dense bool) (size, largest int64) {
	tb.Helper()
	cfgJSON, _ := json.Marshal(cfg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
		tb.Fatal(err)
	}
	c, layout, _, err := model.ParseHFConfig(cfgJSON)
	if err != nil {
		tb.Fatal(err)
	}
	shapes := model.ExpectedShapes(c, layout)
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	specs := make([]safetensors.Spec, len(names))
	for i, n := range names {
		specs[i] = safetensors.Spec{Name: n, DType: "BF16", Shape: shapes[n]}
	}
	hdr, sizes, err := safetensors.EncodeHeader(map[string]string{"format": "pt"}, specs)
	if err != nil {
		tb.Fatal(err)
	}
	size = int64(len(hdr))
	for _, sz := range sizes {
		size += sz
		largest = max(largest, sz)
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(hdr); err != nil {
		tb.Fatal(err)
	}
	if dense {
		chunk := make([]byte, 1<<20)
		for i := 0; i < len(chunk); i += 2 {
			// sign, exponent 2^-12..2^-4, varied mantissa: typical weights.
			v := uint16(i*2654435761>>7)&0x807f | uint16(115+(i>>1)%8)<<7
			binary.LittleEndian.PutUint16(chunk[i:], v)
		}
		for left := size - int64(len(hdr)); left > 0; left -= int64(len(chunk)) {
			if _, err := f.Write(chunk[:min(int64(len(chunk)), left)]); err != nil {
				tb.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	return size, largest
}

// Qwen3Shape is a qwen3 config.json of the given sizes (head_dim 128,
// tied embeddings), for SyntheticCheckpoint.
func Qwen3Shape(vocab, hidden, intermediate, layers, heads, kvHeads int) map[string]any {
	return map[string]any{
		"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "vocab_size": vocab,
		"hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
		"num_attention_heads": heads, "num_key_value_heads": kvHeads, "head_dim": 128,
		"rms_norm_eps": 1e-6, "rope_theta": 1000000, "max_position_embeddings": 4096,
		"tie_word_embeddings": true, "torch_dtype": "bfloat16",
	}
}

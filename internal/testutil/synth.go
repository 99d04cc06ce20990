package testutil

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

// SparseCheckpoint writes an HF directory in dir with the given config.json
// fields (model_type, sizes) and a model.safetensors of BF16 tensors whose
// data is a hole (zeros): a large checkpoint made in milliseconds, for
// tests of memory, signals and file handling. It returns the size of the
// weights file and of its largest tensor.
func SparseCheckpoint(tb testing.TB, dir string, cfg map[string]any) (size, largest int64) {
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
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	for _, n := range names {
		sz := 2 * model.Elements(shapes[n])
		header[n] = map[string]any{"dtype": "BF16", "shape": shapes[n], "data_offsets": []int64{off, off + sz}}
		off += sz
		largest = max(largest, sz)
	}
	hdr, _ := json.Marshal(header)
	hdr = append(hdr, []byte(strings.Repeat(" ", (8-len(hdr)%8)%8))...)
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	if _, err := f.Write(append(b, hdr...)); err != nil {
		tb.Fatal(err)
	}
	size = 8 + int64(len(hdr)) + off
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	return size, largest
}

// Qwen3Shape is a qwen3 config.json of the given sizes (head_dim 128,
// tied embeddings), for SparseCheckpoint.
func Qwen3Shape(vocab, hidden, intermediate, layers, heads, kvHeads int) map[string]any {
	return map[string]any{
		"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "vocab_size": vocab,
		"hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
		"num_attention_heads": heads, "num_key_value_heads": kvHeads, "head_dim": 128,
		"rms_norm_eps": 1e-6, "rope_theta": 1000000, "max_position_embeddings": 4096,
		"tie_word_embeddings": true, "torch_dtype": "bfloat16",
	}
}

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// shapes are the Qwen3 configurations the bench synthesizes (random
// weights, real shapes), keyed by name.
var shapes = map[string]map[string]any{
	"qwen3-0.6b": qwen3Config(1024, 3072, 28, 16, 8, true),
	"qwen3-4b":   qwen3Config(2560, 9728, 36, 32, 8, true),
	"qwen3-8b":   qwen3Config(4096, 12288, 36, 32, 8, false),
}

func qwen3Config(hidden, mlp, layers, heads, kvHeads int, tied bool) map[string]any {
	return map[string]any{
		"architectures": []string{"Qwen3ForCausalLM"}, "model_type": "qwen3", "vocab_size": 151936,
		"hidden_size": hidden, "intermediate_size": mlp, "num_hidden_layers": layers, "num_attention_heads": heads,
		"num_key_value_heads": kvHeads, "head_dim": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000,
		"max_position_embeddings": 40960, "tie_word_embeddings": tied, "bos_token_id": 151643, "eos_token_id": 151645,
		"attention_bias": false, "torch_dtype": "bfloat16",
	}
}

// writeCheckpoint writes an HF directory of the named shape: config.json,
// the real Qwen3 tokenizer from fixtures, and one model.safetensors of random
// bf16 weights (matrices with typical magnitudes 2⁻¹²…2⁻⁴, norms 1), streamed.
func writeCheckpoint(dir, shape, fixtures string) error {
	cfgMap, ok := shapes[shape]
	if !ok {
		return fmt.Errorf("unknown shape %q", shape)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfgJSON, _ := json.Marshal(cfgMap)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
		return err
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(fixtures, "qwen3-"+name))
		if err != nil {
			return fmt.Errorf("the real Qwen3 tokenizer: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	cfg, layout, _, err := model.ParseHFConfig(cfgJSON)
	if err != nil {
		return err
	}
	shp := model.ExpectedShapes(cfg, layout)
	names := make([]string, 0, len(shp))
	for n := range shp {
		names = append(names, n)
	}
	sort.Strings(names)
	specs := make([]safetensors.Spec, len(names))
	for i, n := range names {
		specs[i] = safetensors.Spec{Name: n, DType: "BF16", Shape: shp[n]}
	}
	tmp := filepath.Join(dir, "model.safetensors.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := safetensors.NewWriter(bw, map[string]string{"format": "pt"}, specs)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	for _, n := range names {
		vector := len(shp[n]) == 1
		for left := 2 * model.Elements(shp[n]); left > 0; {
			chunk := buf[:min(int64(len(buf)), left)]
			for i := 0; i < len(chunk); i += 8 {
				x := r.Uint64()
				for k := 0; k < 4; k++ {
					h := uint16(x >> (16 * k))
					v := h&0x807f | uint16(115+int(h>>7&7))<<7 // sign, exponent 2^-12..2^-5, random mantissa
					if vector {
						v = 0x3f80 // 1.0
					}
					binary.LittleEndian.PutUint16(chunk[i+2*k:], v)
				}
			}
			if _, err := w.Write(chunk); err != nil {
				return err
			}
			left -= int64(len(chunk))
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "model.safetensors"))
}

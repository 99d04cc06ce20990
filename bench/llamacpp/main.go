// Command llamacpp writes the models whose KV cache and decode speed
// runtimes/llama.cpp/bench.sh measures in llama.cpp: Qwen3-0.6B's shapes (28
// layers, hidden 1024, 16 query / 8 KV heads of 128, MLP 3072, vocab 151,936,
// tied head) with random weights and the real Qwen3 tokenizer, as vanilla,
// CLA2 (every other layer reads the K/V of the layer before) and MLKV-4 (4 of
// the 28 layers store K/V, at 0, 7, 14, 21 as the MLKV conversion places them):
//
//	go run ./bench/llamacpp -o DIR [-dtype q8_0] [-fixtures ../shared/fixtures]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/finetune"
	"github.com/retrofit-llm/retrofit/model"
)

func main() {
	out := flag.String("o", ".", "output directory")
	dtype := flag.String("dtype", "q8_0", "GGUF weight dtype: f32, f16, bf16 or q8_0")
	fix := flag.String("fixtures", "../shared/fixtures", "fixtures directory (for qwen3-tokenizer.json)")
	flag.Parse()
	if err := run(*out, *dtype, *fix); err != nil {
		fmt.Fprintln(os.Stderr, "llamacpp:", err)
		os.Exit(1)
	}
}

// layouts returns the benchmarked layouts of n layers by name.
func layouts(n int) map[string]model.Layout {
	vanilla := model.DefaultLayout(n)
	cla2 := model.DefaultLayout(n)
	mlkv4 := model.DefaultLayout(n)
	kvLayers := []int{0}
	for i := 0; i < 3; i++ {
		kvLayers = append(kvLayers, (i+1)*n/4)
	}
	for l := 0; l < n; l++ {
		cla2.KVSource[l] = l - l%2
		for _, k := range kvLayers {
			if k <= l {
				mlkv4.KVSource[l] = k
			}
		}
	}
	return map[string]model.Layout{"vanilla": vanilla, "cla2": cla2, "mlkv4": mlkv4}
}

func run(out, dtype, fix string) error {
	dt, err := model.ParseDType(dtype)
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(filepath.Join(fix, "qwen3-tokenizer.json"))
	if err != nil {
		return err
	}
	tokCfg, err := os.ReadFile(filepath.Join(fix, "qwen3-tokenizer_config.json"))
	if err != nil {
		return err
	}
	c := model.Config{Family: "qwen3", Architecture: "Qwen3ForCausalLM", VocabSize: 151936, Hidden: 1024, Intermediate: 3072,
		Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128, RMSEps: 1e-6, RopeTheta: 1e6, MaxPositions: 131072,
		TiedEmbeddings: true, QKNorm: true, BOS: -1, EOS: 151645, PAD: 151643}
	for _, name := range []string{"vanilla", "cla2", "mlkv4"} {
		t0 := time.Now()
		m, err := finetune.RandomModel(c, layouts(c.Layers)[name], 1)
		if err != nil {
			return err
		}
		m.Files = map[string][]byte{"tokenizer.json": tok, "tokenizer_config.json": tokCfg}
		path := filepath.Join(out, fmt.Sprintf("qwen3-0.6b-shape-%s-%s.gguf", name, dtype))
		if err := export.GGUF(m, path, export.GGUFOptions{DType: dt}); err != nil {
			return err
		}
		fmt.Printf("%s: %d KV layers, %d B/token KV (fp16), %.0fs\n", path, m.Layout.KVLayers(), model.KVBytesPerToken(c, m.Layout), time.Since(t0).Seconds())
	}
	return nil
}

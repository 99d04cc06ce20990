package all_test

import (
	"path/filepath"
	"testing"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/gguf"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

// TestConvertedGGUFRoundTrip exports converted models to GGUF (F32, so no
// rounding) and checks that the file loaded back gives the in-memory
// converted model's logits bit for bit, and that the decode path through the
// cache gives the prefill logits of the last token.
func TestConvertedGGUFRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		opts map[string]string
	}{
		{"cla", map[string]string{"factor": "2", "init": "mean"}},
		{"mlkv", map[string]string{"kv_layers": "2", "kv_heads": "1"}},
		{"looped", map[string]string{"block": "2", "init": "average"}},
		{"depthattn", map[string]string{"stride": "2"}},
		{"depthattn", map[string]string{"stride": "1", "warm": "4.5"}}, // a warm start mid-anneal
	}
	for _, fixture := range []string{"qwen3-micro", "qwen2-micro"} {
		ids := refIDs(t, fixture, "ids_docs_val")[:64]
		for _, tc := range cases {
			m := load(t, fixture)
			apply(t, m, tc.name, tc.opts, transforms.Env{})
			want := logitsOf(t, m, ids)

			path := filepath.Join(t.TempDir(), tc.name+".gguf")
			if err := export.GGUF(m, path, export.GGUFOptions{DType: model.F32}); err != nil {
				t.Fatalf("%s %s: %v", fixture, tc.name, err)
			}
			back, err := loaders.Load(path)
			if err != nil {
				t.Fatalf("%s %s: %v", fixture, tc.name, err)
			}
			if !equalLayouts(back.Layout, m.Layout) || len(back.Provenance) != len(m.Provenance) {
				t.Errorf("%s %s: layout %+v / provenance %v after the round trip, want %+v / %v",
					fixture, tc.name, back.Layout, back.Provenance, m.Layout, m.Provenance)
			}
			got := logitsOf(t, back, ids)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %s: logit %d is %v after the GGUF round trip, %v in memory", fixture, tc.name, i, got[i], want[i])
				}
			}

			// Decode one token at a time and compare the last row with prefill.
			e, err := engine.New(back)
			if err != nil {
				t.Fatal(err)
			}
			cache := e.NewCache(len(ids))
			var last []float32
			for _, id := range ids {
				if last, err = e.Forward([]int{id}, cache, nil); err != nil {
					t.Fatal(err)
				}
			}
			v := back.Config.VocabSize
			var worst float64
			for j, x := range last {
				worst = max(worst, abs(float64(x-want[(len(ids)-1)*v+j])))
			}
			if worst > 1e-4 {
				t.Errorf("%s %s: decode differs from prefill by %g", fixture, tc.name, worst)
			}
			back.Close()
		}
	}
}

func logitsOf(t *testing.T, m *model.Model, ids []int) []float32 {
	t.Helper()
	e, err := engine.New(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Forward(ids, e.NewCache(len(ids)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalLayouts(a, b model.Layout) bool {
	if a.DepthStride != b.DepthStride || a.DepthWindow != b.DepthWindow || a.DepthSelfBias != b.DepthSelfBias || len(a.KVSource) != len(b.KVSource) {
		return false
	}
	for i := range a.KVSource {
		if a.KVSource[i] != b.KVSource[i] || a.DepthMix[i] != b.DepthMix[i] || a.LayerMap[i] != b.LayerMap[i] {
			return false
		}
	}
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

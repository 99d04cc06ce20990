package all_test

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
	"github.com/retrofit-llm/retrofit/transforms"
)

// refIDs reads the I32 tensor name ("ids_docs_val": docs-val.txt tokenized)
// from a fixture's *-refs.safetensors.
func refIDs(t testing.TB, fixture, name string) []int {
	t.Helper()
	f, err := safetensors.ReadFile(testutil.Fixture(t, fixture+"-refs.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := f.Ints(name)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// nll returns the mean next-token negative log-likelihood of ids.
func nll(t *testing.T, e *engine.Engine, ids []int) float64 {
	t.Helper()
	logits, err := e.Forward(ids, e.NewCache(len(ids)), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := e.Config().VocabSize
	var sum float64
	for i := 0; i+1 < len(ids); i++ {
		row := logits[i*v : (i+1)*v]
		mx := row[0]
		for _, x := range row {
			mx = max(mx, x)
		}
		var z float64
		for _, x := range row {
			z += math.Exp(float64(x - mx))
		}
		sum += math.Log(z) + float64(mx) - float64(row[ids[i+1]])
	}
	return sum / float64(len(ids)-1)
}

// TestConvertedModelsRun runs every method through the engine: identity
// options reproduce the original logits exactly, the others give a finite
// perplexity on 256 tokens of docs-val (no training, so only sanity bounds).
func TestConvertedModelsRun(t *testing.T) {
	for _, fixture := range []string{"qwen3-micro", "qwen2-micro"} {
		ids := refIDs(t, fixture, "ids_docs_val")[:256]
		orig, err := engine.New(load(t, fixture))
		if err != nil {
			t.Fatal(err)
		}
		base := nll(t, orig, ids)
		if ppl := math.Exp(base); ppl < 5 || ppl > 40 {
			t.Fatalf("%s: original ppl %.2f on 256 tokens, far from the ≈13 of the refs", fixture, ppl)
		}
		for _, tc := range []struct {
			name     string
			opts     map[string]string
			identity bool
		}{
			{"cla", map[string]string{"factor": "1"}, true},
			{"looped", map[string]string{"block": fmt.Sprint(orig.Config().Layers)}, true},
			{"cla", nil, false},
			{"cla", map[string]string{"init": "mean"}, false},
			{"mlkv", map[string]string{"kv_layers": "2", "kv_heads": "1"}, false},
			{"looped", map[string]string{"block": "2"}, false},
			{"depthattn", nil, false},
			{"depthattn", map[string]string{"stride": "1"}, false},
		} {
			m := load(t, fixture)
			apply(t, m, tc.name, tc.opts, transforms.Env{})
			e, err := engine.New(m)
			if err != nil {
				t.Fatalf("%s %s %v: %v", fixture, tc.name, tc.opts, err)
			}
			got := nll(t, e, ids)
			t.Logf("%s %s %v: ppl %.3f → %.3f", fixture, tc.name, tc.opts, math.Exp(base), math.Exp(got))
			if tc.identity && got != base {
				t.Errorf("%s %s %v: nll %v, want the original %v exactly", fixture, tc.name, tc.opts, got, base)
			}
			if math.IsNaN(got) || got <= 0 || got > math.Log(float64(m.Config.VocabSize))*2 {
				t.Errorf("%s %s %v: nll %v is not a plausible value", fixture, tc.name, tc.opts, got)
			}
		}
	}
}

func TestKVSharer(t *testing.T) {
	ids := refIDs(t, "qwen3-micro", "ids_docs_val")
	var calib [][]int
	for s := 0; s < 4; s++ {
		calib = append(calib, ids[s*64:(s+1)*64])
	}
	run := func(order string) (*model.Model, *transforms.Plan, string) {
		m := load(t, "qwen3-micro")
		var log bytes.Buffer
		p := apply(t, m, "kvsharer", map[string]string{"share": "1/3", "order": order}, transforms.Env{Calib: calib, Log: &log})
		return m, p, log.String()
	}
	for _, order := range []string{"dissimilar", "similar"} {
		t.Run(order, func(t *testing.T) {
			m1, p1, log1 := run(order)
			m2, _, log2 := run(order)
			t.Log("\n" + log1)
			if !reflect.DeepEqual(m1.Layout, m2.Layout) || log1 != log2 {
				t.Fatalf("two searches differ:\n%s\n%s", log1, log2)
			}
			// apply ran Plan, then the plan's Apply: the log holds one search.
			half := strings.Split(strings.TrimSpace(log1), "\n")
			if n := strings.Count(log1, " samples × "); n != 1 {
				t.Fatalf("Plan + Apply logged %d searches, want 1:\n%s", n, log1)
			}
			replaced := 6 - m1.Layout.KVLayers()
			accepted, prev := 0, math.NaN()
			for _, l := range half[1 : len(half)-1] {
				var i, j int
				var dist, sim float64
				var verdict string
				if _, err := fmt.Sscanf(l, "kvsharer: layer %d ← %d  distance %g  similarity %g  %s", &i, &j, &dist, &sim, &verdict); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				if i <= j || sim > 1+1e-9 || (verdict == "accepted") != (sim > 0.5) {
					t.Errorf("log line %q is inconsistent", l)
				}
				if order == "dissimilar" && dist > prev || order == "similar" && dist < prev {
					t.Errorf("pairs out of %s order at %q", order, l)
				}
				prev = dist
				if verdict == "accepted" {
					accepted++
					if m1.Layout.KVSource[i] == i {
						t.Errorf("accepted layer %d still stores K/V", i)
					}
				}
			}
			if accepted != replaced || replaced < 1 || replaced > 2 {
				t.Errorf("%d accepted, %d layers replaced; want the same, 1 or 2", accepted, replaced)
			}
			if p1.ParamsAfter != q3Params-int64(replaced)*q3KVPart || p1.KVBytesAfter != int64(6-replaced)*256 {
				t.Errorf("plan: %d params, %d KV bytes for %d replaced layers", p1.ParamsAfter, p1.KVBytesAfter, replaced)
			}
			if _, err := engine.New(m1); err != nil {
				t.Fatal(err)
			}
		})
	}
}

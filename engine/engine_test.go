package engine

import (
	"math"
	"sync"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
	"github.com/retrofit-llm/retrofit/internal/testutil"
)

var microModels = []string{"qwen3-micro", "qwen2-micro"}

// engines caches one engine per fixture for the tests of this package.
var (
	enginesMu sync.Mutex
	engines   = map[string]*Engine{}
)

func microEngine(t testing.TB, name string) *Engine {
	t.Helper()
	enginesMu.Lock()
	defer enginesMu.Unlock()
	if e := engines[name]; e != nil {
		return e
	}
	m := reftest.Model(t, name)
	e, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	engines[name] = e
	return e
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestLogitsMatchTransformers(t *testing.T) {
	for _, name := range microModels {
		for _, which := range []string{"a", "b"} {
			t.Run(name+"/"+which, func(t *testing.T) {
				e := microEngine(t, name)
				refs := reftest.Load(t, name)
				ids, want := refs.I32["ids_"+which], refs.F32["logits_"+which]
				if len(want) != len(ids)*e.Config().VocabSize {
					t.Fatalf("refs: logits_%s has %d values for %d ids", which, len(want), len(ids))
				}
				got, err := e.Forward(ids, e.NewCache(len(ids)), nil)
				if err != nil {
					t.Fatal(err)
				}
				d := maxAbsDiff(got, want)
				t.Logf("max |Δlogit| = %.3g over %d×%d", d, len(ids), e.Config().VocabSize)
				if d > 1e-3 {
					t.Errorf("max |Δlogit| = %g > 1e-3", d)
				}
			})
		}
	}
}

func TestGreedyDecodeMatchesTransformers(t *testing.T) {
	for _, name := range microModels {
		t.Run(name, func(t *testing.T) {
			e := microEngine(t, name)
			refs := reftest.Load(t, name)
			ids, want := refs.I32["ids_a"], refs.I32["greedy_a"]
			got, err := e.Generate(t.Context(), ids, len(want), nil, Greedy(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("generated %d tokens, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("token %d: got %d, want %d (got %v, want %v)", i, got[i], want[i], got, want)
				}
			}
		})
	}
}

// TestNLLMatchesTransformers scores ids_docs_val the way the refs do:
// windows of 512 inputs, each predicting the next token of every input.
func TestNLLMatchesTransformers(t *testing.T) {
	testutil.SkipIfEmulated(t, "7680 tokens per model; TestLogitsMatchTransformers, TestGreedyDecodeMatchesTransformers and TestLayoutRefs (NLL and logits of every layout) still run")
	for _, name := range microModels {
		t.Run(name, func(t *testing.T) {
			e := microEngine(t, name)
			refs := reftest.Load(t, name)
			ids, want := refs.I32["ids_docs_val"], refs.F32["nll_docs_val"]
			if len(want) != refs.Toks || len(ids) != refs.Toks+1 {
				t.Fatalf("refs: %d ids, %d nlls, tokens_docs_val %d", len(ids), len(want), refs.Toks)
			}
			const ctx = 512
			v := e.Config().VocabSize
			cache := e.NewCache(ctx)
			var got []float64
			for s := 0; s+1 < len(ids); s += ctx {
				in := ids[s:min(s+ctx, len(ids)-1)]
				cache.Reset()
				logits, err := e.Forward(in, cache, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i := range in {
					got = append(got, nll(logits[i*v:(i+1)*v], ids[s+i+1]))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("scored %d tokens, refs have %d", len(got), len(want))
			}
			var worst, sum float64
			for i := range want {
				worst = max(worst, math.Abs(got[i]-float64(want[i])))
				sum += got[i]
			}
			ppl := math.Exp(sum / float64(len(got)))
			t.Logf("max |ΔNLL| = %.3g over %d tokens; ppl %.6f (transformers %.6f)", worst, len(got), ppl, refs.PPL)
			if worst > 1e-4 {
				t.Errorf("max |ΔNLL| = %g > 1e-4", worst)
			}
			if math.Abs(ppl-refs.PPL)/refs.PPL > 5e-5 {
				t.Errorf("ppl %.6f, transformers %.6f", ppl, refs.PPL)
			}
		})
	}
}

func nll(row []float32, target int) float64 {
	m := float64(row[0])
	for _, x := range row {
		m = max(m, float64(x))
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x) - m)
	}
	return m + math.Log(s) - float64(row[target])
}

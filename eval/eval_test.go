package eval

import (
	"context"
	"math"
	"testing"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/engine/reftest"
)

func load(t *testing.T, name string) (*engine.Engine, *reftest.Refs) {
	t.Helper()
	e, err := engine.New(reftest.Model(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return e, reftest.Load(t, name)
}

func TestPerplexityMatchesTransformers(t *testing.T) {
	for _, name := range []string{"qwen3-micro", "qwen2-micro"} {
		t.Run(name, func(t *testing.T) {
			e, refs := load(t, name)
			ids, want := refs.I32["ids_docs_val"], refs.F32["nll_docs_val"]
			var calls int
			res, err := Perplexity(e, ids, Options{Progress: func(done, total int) {
				calls++
				if total != refs.Toks {
					t.Errorf("progress total %d, want %d", total, refs.Toks)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tokens != refs.Toks || len(res.NLLs) != len(want) {
				t.Fatalf("scored %d tokens (%d NLLs), refs %d", res.Tokens, len(res.NLLs), refs.Toks)
			}
			var worst float64
			for i := range want {
				worst = max(worst, math.Abs(float64(res.NLLs[i]-want[i])))
			}
			t.Logf("ppl %.6f (transformers %.6f), max |ΔNLL| %.3g, %d windows, %.0f tok/s", res.PPL, refs.PPL, worst, calls, res.TokensPerSec)
			if worst > 1e-4 {
				t.Errorf("max |ΔNLL| %g > 1e-4", worst)
			}
			if got, ref := sig4(res.PPL), sig4(refs.PPL); got != ref {
				t.Errorf("ppl %.6f, transformers %.6f (4 significant digits differ)", res.PPL, refs.PPL)
			}
			if calls != (refs.Toks+511)/512 {
				t.Errorf("%d progress calls, want %d windows", calls, (refs.Toks+511)/512)
			}
			if res.KVBytesPerToken != e.KVBytesPerToken() || res.Interrupted {
				t.Errorf("KVBytesPerToken %d, Interrupted %v", res.KVBytesPerToken, res.Interrupted)
			}
		})
	}
}

func sig4(x float64) float64 {
	p := math.Pow(10, 3-math.Floor(math.Log10(x)))
	return math.Round(x*p) / p
}

// TestSlidingAndLimits checks the strided recipe, MaxTokens and cancellation.
func TestSlidingAndLimits(t *testing.T) {
	e, refs := load(t, "qwen3-micro")
	ids := refs.I32["ids_docs_val"][:1025]
	plain, err := Perplexity(e, ids, Options{Ctx: 256})
	if err != nil {
		t.Fatal(err)
	}
	slide, err := Perplexity(e, ids, Options{Ctx: 256, Stride: 128})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Tokens != 1024 || slide.Tokens != 1024 {
		t.Fatalf("tokens: plain %d, sliding %d, want 1024", plain.Tokens, slide.Tokens)
	}
	// The first window is shared; later tokens see more context when sliding.
	for i := 0; i < 256; i++ {
		if plain.NLLs[i] != slide.NLLs[i] {
			t.Fatalf("token %d: NLL %g plain, %g sliding; the first window should agree", i+1, plain.NLLs[i], slide.NLLs[i])
		}
	}
	t.Logf("ctx 256: ppl %.4f non-overlapping, %.4f stride 128", plain.PPL, slide.PPL)
	if slide.PPL >= plain.PPL {
		t.Errorf("sliding ppl %.4f not below non-overlapping %.4f", slide.PPL, plain.PPL)
	}
	// Sliding token i equals a direct window ending at i.
	direct, err := Perplexity(e, ids[256-128:256+128+1], Options{Ctx: 256})
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(direct.NLLs[255] - slide.NLLs[256+127])); d > 1e-5 {
		t.Errorf("sliding NLL of token 384 differs from a direct window by %g", d)
	}

	limited, err := Perplexity(e, ids, Options{Ctx: 256, MaxTokens: 300})
	if err != nil || limited.Tokens != 300 {
		t.Fatalf("MaxTokens 300: %d tokens, %v", limited.Tokens, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	part, err := Perplexity(e, ids, Options{Ctx: 256, Context: ctx, Progress: func(done, _ int) {
		if done >= 512 {
			cancel()
		}
	}})
	if err != nil || !part.Interrupted || part.Tokens != 512 {
		t.Errorf("cancelled after 2 windows: %d tokens, interrupted %v, err %v", part.Tokens, part.Interrupted, err)
	}
	if _, err := Perplexity(e, ids[:1], Options{}); err == nil {
		t.Error("one token: no error")
	}
}

// TestSecondHalfMatchesTransformers scores llama-perplexity's way (second
// half of each 512-token window) and compares each scored NLL with the
// transformers reference of the same window and row.
func TestSecondHalfMatchesTransformers(t *testing.T) {
	e, refs := load(t, "qwen3-micro")
	ids, want := refs.I32["ids_docs_val"], refs.F32["nll_docs_val"]
	res, err := Perplexity(e, ids[:4*512+100], Options{Ctx: 512, SecondHalf: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens != 4*255 {
		t.Fatalf("scored %d tokens, want 4 windows × 255", res.Tokens)
	}
	var worst float64
	for w := 0; w < 4; w++ {
		for i := 256; i < 511; i++ {
			worst = max(worst, math.Abs(float64(res.NLLs[w*255+i-256]-want[w*512+i])))
		}
	}
	t.Logf("second-half ppl %.4f, max |ΔNLL| %.3g", res.PPL, worst)
	if worst > 1e-4 {
		t.Errorf("max |ΔNLL| %g > 1e-4", worst)
	}
}

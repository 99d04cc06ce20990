package eval

import (
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

// TestDepthAttentionConversionCost converts qwen3-micro to Depth-Attention
// (no training) and checks the shape of the cost docs/methods.md reports from
// an independent reference (1.015×, 1.12×, 1.13× for strides 3, 2, 1): every
// stride costs some perplexity, the sparse stride the least, and none breaks
// the model. (This engine measures 1.043×, 1.149×, 1.172× on ids_docs_val.)
func TestDepthAttentionConversionCost(t *testing.T) {
	e, refs := load(t, "qwen3-micro")
	ids := refs.I32["ids_docs_val"]
	base, err := Perplexity(e, ids, Options{})
	if err != nil {
		t.Fatal(err)
	}
	prev := 1.0
	for _, tt := range []struct {
		stride int
		ratio  float64
	}{{3, 1.015}, {2, 1.12}, {1, 1.13}} {
		l := model.DefaultLayout(e.Config().Layers)
		for i := range l.DepthMix {
			l.DepthMix[i] = true
		}
		l.DepthStride = tt.stride
		de, err := e.WithLayout(l)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Perplexity(de, ids, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := r.PPL / base.PPL
		t.Logf("stride %d: ppl %.4f, %.4f× the original (methods.md: %.3f×)", tt.stride, r.PPL, got, tt.ratio)
		if got <= prev || got > 1.25 {
			t.Errorf("stride %d: ppl ratio %.4f, want in (%.4f, 1.25] (methods.md: %.3f)", tt.stride, got, prev, tt.ratio)
		}
		prev = got
	}
}

package finetune

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/layoutrefs"
	"github.com/retrofit-llm/retrofit/loaders"
)

func TestSelfBias(t *testing.T) {
	tests := []struct {
		k, w int
		b0   float64
		want float64
	}{
		{0, 60, 118, 118},          // before the first step: the original model
		{1, 60, 118, math.Log(60)}, // candidates at 1/60 of their weight
		{30, 60, 118, math.Log(2)}, // half way: half their weight
		{59, 60, 118, math.Log(60.0 / 59)},
		{60, 60, 118, 0}, // annealed: plain Depth-Attention
		{200, 60, 118, 0},
		{1, 1000, 5, 5}, // capped at the converted bias
		{3, 60, 0, 0},   // a cold start has nothing to anneal
	}
	for _, tc := range tests {
		if got := SelfBias(tc.k, tc.w, tc.b0); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("SelfBias(%d, %d, %g) = %g, want %g", tc.k, tc.w, tc.b0, got, tc.want)
		}
	}
}

// TestForwardDepthWarmStart: the training forward of every Depth-Attention
// case of layout-refs converted with warm=on reproduces the reference of the
// same layout without depth mixing, and with warm=0 the case's own.
func TestForwardDepthWarmStart(t *testing.T) {
	for _, w := range layoutrefs.WarmCases(layoutrefs.Load(t)) {
		for _, c := range []struct{ built, ref layoutrefs.Case }{{w.Warm, w.Base}, {w.Zero, w.Zero}} {
			t.Run(c.built.Name, func(t *testing.T) {
				ids := c.built.IDs(t)
				n, err := NewNet(c.built.Build(t))
				if err != nil {
					t.Fatal(err)
				}
				tp := &Tape{}
				if err := n.Forward(tp, ids[:c.built.T], 1, c.built.T); err != nil {
					t.Fatal(err)
				}
				c.ref.Check(t, tp.Logits(), ids)
			})
		}
	}
}

// TestWarmStartRun: a warm start evaluates before training exactly as the
// same weights without depth mixing; its bias anneals to 0 by WarmSteps, so
// the exported model is plain Depth-Attention; an interrupted run resumes on
// the same curve.
func TestWarmStartRun(t *testing.T) {
	cfg := func(dir string, warm bool) Config {
		c := tinyRunConfig(t, dir, 5)
		m, err := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["vanilla"], 3)
		if err != nil {
			t.Fatal(err)
		}
		c.Model = m
		if warm {
			c.Model.Layout = tinyLayouts()["depth"]
			c.Model.Layout.DepthSelfBias = 118
			c.WarmSteps = 3
		}
		return c
	}
	vanilla, err := Run(context.Background(), cfg(t.TempDir(), false))
	if err != nil {
		t.Fatal(err)
	}
	full := cfg(t.TempDir(), true)
	full.NoExport = false
	want, err := Run(context.Background(), full)
	if err != nil {
		t.Fatal(err)
	}
	if want.History[0].EvalNLL != vanilla.History[0].EvalNLL {
		t.Errorf("warm start evaluates to nll %v before training, the model without depth mixing to %v", want.History[0].EvalNLL, vanilla.History[0].EvalNLL)
	}
	if want.History[2].Loss == vanilla.History[2].Loss {
		t.Errorf("step 2 (bias %g) trains exactly as the vanilla model: the bias is not annealed", SelfBias(2, 3, 118))
	}
	m, err := loaders.Load(want.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Layout.DepthMix[1] || m.Layout.DepthSelfBias != 0 {
		t.Errorf("exported layout %+v: want depth mixing with bias 0", m.Layout)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	part := cfg(dir, true)
	part.Log = stopAfter{"step 2/5", cancel}
	if r, err := Run(ctx, part); !errors.Is(err, context.Canceled) || r.Steps != 2 {
		t.Fatalf("interrupted run: %+v, %v", r, err)
	}
	again := cfg(dir, true)
	again.Resume = true
	got, err := Run(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if !equalF(losses(want.History), losses(got.History)) {
		t.Fatalf("resumed curve differs:\n%v\n%v", losses(want.History), losses(got.History))
	}
}

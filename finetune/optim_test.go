package finetune

import (
	"math"
	"testing"
)

func TestLR(t *testing.T) {
	for _, c := range []struct {
		s    int
		want float64
	}{{0, 2.5e-4}, {3, 1e-3}, {4, 1e-3}, {14, 1e-4}, {9, 1e-4 + 0.5*9e-4}} {
		if got := LR(c.s, 15, 4, 1e-3, 1e-4); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LR(%d) = %g, want %g", c.s, got, c.want)
		}
	}
}

func TestSetTrainable(t *testing.T) {
	m, err := RandomModel(tinyConfig("qwen2", 2), tinyLayouts()["vanilla"], 1)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNet(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec string
		want int64
	}{
		// per layer: q 16·16+16, k,v 2·(8·16+8), o 16·16, input norm 16.
		{"attn", 4 * (272 + 272 + 256 + 16)},
		// per layer: gate, up 2·24·16, down 16·24, post norm 16.
		{"mlp", 4 * (768 + 384 + 16)},
		{"model.norm.weight,lm_head", 16 + 32*16},
		{"model.layers.0.*", 272 + 272 + 256 + 16 + 768 + 384 + 16},
	} {
		got, err := n.SetTrainable(c.spec)
		if err != nil || got != c.want {
			t.Errorf("SetTrainable(%q) = %d, %v; want %d", c.spec, got, err, c.want)
		}
	}
	if _, err := n.SetTrainable("nothing.matches"); err == nil {
		t.Error("a pattern matching nothing was accepted")
	}
	// Frozen tensors get no gradient and do not move.
	n.SetTrainable("mlp")
	tp := &Tape{}
	ids := []int{1, 2, 3, 4, 5, 6}
	targets := []int{2, 3, 4, 5, 6, 7}
	n.ZeroGrad()
	if err := n.Forward(tp, ids, 1, 6); err != nil {
		t.Fatal(err)
	}
	tp.Loss(targets, nil, 0, 1, 1.0/6)
	n.Backward(tp, ids)
	before := map[string][]float32{}
	for _, p := range n.Params {
		before[p.Name] = append([]float32(nil), p.W...)
	}
	(&AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}).Update(n.Params, 1e-2)
	for _, p := range n.Params {
		moved := false
		for i := range p.W {
			moved = moved || p.W[i] != before[p.Name][i]
		}
		var g float64
		for _, v := range p.G {
			g += math.Abs(float64(v))
		}
		if moved != p.Train || (!p.Train && g != 0) {
			t.Errorf("%s: train %v, moved %v, |g|₁ %g", p.Name, p.Train, moved, g)
		}
	}
}

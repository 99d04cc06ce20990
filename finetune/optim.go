package finetune

import (
	"fmt"
	"math"
	"path"
	"strings"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter): for each
// trainable parameter, m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
// w ← w − lr·(m̂/(√v̂ + ε) + wd·w) with bias-corrected m̂, v̂; wd only where
// Param.Decay (matrices, not norms or biases).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	Step                           int // optimizer steps taken
}

// Update applies one step with learning rate lr.
func (o *AdamW) Update(params []*Param, lr float64) {
	o.Step++
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1 := float32(1 - math.Pow(o.Beta1, float64(o.Step)))
	c2 := float32(1 - math.Pow(o.Beta2, float64(o.Step)))
	eps := float32(o.Eps)
	for _, p := range params {
		if !p.Train {
			continue
		}
		if p.M == nil {
			p.M, p.V = make([]float32, len(p.W)), make([]float32, len(p.W))
		}
		decay := float32(0)
		if p.Decay {
			decay = float32(lr * o.WeightDecay)
		}
		step := float32(lr)
		for i, g := range p.G {
			m := b1*p.M[i] + (1-b1)*g
			v := b2*p.V[i] + (1-b2)*g*g
			p.M[i], p.V[i] = m, v
			mh, vh := m/c1, v/c2
			p.W[i] -= step*mh/(float32(math.Sqrt(float64(vh)))+eps) + decay*p.W[i]
		}
	}
}

// ClipGradNorm scales the trainable gradients so their global L2 norm is at
// most maxNorm (no-op when maxNorm ≤ 0) and returns the norm before clipping.
// The norm is summed in float64 in parameter order (deterministic).
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if !p.Train {
			continue
		}
		for _, g := range p.G {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 && norm > maxNorm {
		s := float32(maxNorm / (norm + 1e-6))
		for _, p := range params {
			if p.Train {
				for i := range p.G {
					p.G[i] *= s
				}
			}
		}
	}
	return norm
}

// LR returns the learning rate at optimizer step s (0-based) of total: linear
// warmup from lr/warmup to lr over warmup steps, then cosine decay to minLR.
func LR(s, total, warmup int, lr, minLR float64) float64 {
	if warmup > 0 && s < warmup {
		return lr * float64(s+1) / float64(warmup)
	}
	if total <= warmup {
		return lr
	}
	p := float64(s-warmup) / float64(max(total-warmup-1, 1))
	p = min(max(p, 0), 1)
	return minLR + 0.5*(lr-minLR)*(1+math.Cos(math.Pi*p))
}

// SetTrainable marks which parameters train: "all" (or ""), "attn" (the
// self_attn tensors and the attention norm), "mlp" (mlp tensors and the
// post-attention norm), or a comma list of patterns matched against tensor
// names (path.Match globs; a pattern without glob characters matches names
// containing it). It returns the number of trainable parameters.
func (n *Net) SetTrainable(spec string) (int64, error) {
	spec = strings.TrimSpace(spec)
	var match func(name string) bool
	switch spec {
	case "", "all":
		match = func(string) bool { return true }
	case "attn":
		match = func(s string) bool {
			return strings.Contains(s, ".self_attn.") || strings.Contains(s, ".input_layernorm.")
		}
	case "mlp":
		match = func(s string) bool {
			return strings.Contains(s, ".mlp.") || strings.Contains(s, ".post_attention_layernorm.")
		}
	default:
		pats := strings.Split(spec, ",")
		for _, p := range pats {
			if _, err := path.Match(strings.TrimSpace(p), ""); err != nil {
				return 0, fmt.Errorf("finetune: train pattern %q: %w", p, err)
			}
		}
		match = func(s string) bool {
			for _, p := range pats {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if ok, _ := path.Match(p, s); ok || (!strings.ContainsAny(p, "*?[") && strings.Contains(s, p)) {
					return true
				}
			}
			return false
		}
	}
	var cnt int64
	for _, p := range n.Params {
		p.Train = match(p.Name)
		if p.Train {
			cnt += int64(len(p.W))
		}
	}
	if cnt == 0 {
		return 0, fmt.Errorf("finetune: train %q matches no tensor", spec)
	}
	return cnt, nil
}

package finetune

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The layer-wise loss's gradient (every layer's output against a random
// teacher, plus CE) matches a central difference of the loss, for both
// kinds, on a CLA layout.
func TestLayerLossGradients(t *testing.T) {
	for _, kind := range layerKinds {
		for _, fam := range []string{"qwen3", "qwen2"} {
			t.Run(kind+"/"+fam, func(t *testing.T) {
				m, err := RandomModel(tinyConfig(fam, 2), tinyLayouts()["cla"], 7)
				if err != nil {
					t.Fatal(err)
				}
				n, err := NewNet(m)
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(3, 4))
				B, T := 2, 5
				N := B * T
				ids, targets := make([]int, N), make([]int, N)
				for i := range ids {
					ids[i], targets[i] = r.IntN(32), r.IntN(32)
				}
				teacher := make([][]float32, n.Cfg.Layers)
				use := make([]bool, n.Cfg.Layers)
				for l := range teacher {
					teacher[l] = make([]float32, N*n.Cfg.Hidden)
					for i := range teacher[l] {
						teacher[l][i] = float32(r.NormFloat64())
					}
					use[l] = l != 1
				}
				const w = 0.7
				tp := &Tape{}
				loss := func() float64 {
					if err := n.Forward(tp, ids, B, T); err != nil {
						t.Fatal(err)
					}
					st := tp.Loss(targets, nil, 0, 1, 1/float32(N))
					lh := n.layerLoss(tp, teacher, use, kind, w/float32(N))
					return st.Value(0) + w*lh/float64(N)
				}
				n.ZeroGrad()
				loss()
				n.Backward(tp, ids)
				const eps = 1e-2
				for _, p := range n.Params {
					u := make([]float64, len(p.W))
					var norm, analytic float64
					for i := range u {
						u[i] = r.NormFloat64()
						norm += u[i] * u[i]
					}
					norm = math.Sqrt(norm)
					for i := range u {
						u[i] /= norm
						analytic += float64(p.G[i]) * u[i]
					}
					orig := append([]float32(nil), p.W...)
					set := func(s float64) {
						for i := range p.W {
							p.W[i] = float32(float64(orig[i]) + s*u[i])
						}
					}
					set(eps)
					lp := loss()
					set(-eps)
					lm := loss()
					copy(p.W, orig)
					numeric := (lp - lm) / (2 * eps)
					if diff := math.Abs(numeric - analytic); diff > 2e-3*math.Max(math.Abs(numeric), 0.05) {
						t.Errorf("%s: analytic %.6g numeric %.6g (diff %.2g)", p.Name, analytic, numeric, diff)
					}
				}
			})
		}
	}
}

package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/retrofit-llm/retrofit/model"
)

// RandomModel builds an in-memory F32 model with the tensors cfg and layout
// call for, filled from seed: matrices ~ N(0, 1/in), norms 1 ± 0.1, biases
// ± 0.1. For tests and benchmarks.
func RandomModel(cfg model.Config, layout model.Layout, seed uint64) (*model.Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("finetune: random model: %w", err)
	}
	if err := layout.Validate(cfg.Layers); err != nil {
		return nil, fmt.Errorf("finetune: random model: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	shapes := model.ExpectedShapes(cfg, layout)
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	m := &model.Model{Path: "random", Format: "memory", Config: cfg, Layout: layout.Clone()}
	for _, n := range names {
		shape := shapes[n]
		v := make([]float32, model.Elements(shape))
		switch {
		case len(shape) == 2:
			s := 1 / math.Sqrt(float64(shape[1]))
			for i := range v {
				v[i] = float32(r.NormFloat64() * s)
			}
		case len(n) > 12 && n[len(n)-12:] == "norm.weight" || n == model.FinalNormName || contains(n, "layernorm"):
			for i := range v {
				v[i] = float32(1 + 0.1*(2*r.Float64()-1))
			}
		default:
			for i := range v {
				v[i] = float32(0.1 * (2*r.Float64() - 1))
			}
		}
		m.Tensors = append(m.Tensors, model.FromFloat32(n, shape, v))
	}
	return m, nil
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

package finetune

import (
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
)

// BenchmarkTrainStepMicro times one fwd+bwd+AdamW step of qwen3-micro on a
// 4×256 batch and reports training tok/s.
func BenchmarkTrainStepMicro(b *testing.B) {
	m, err := loaders.Load(testutil.Fixture(b, "qwen3-micro"))
	if err != nil {
		b.Fatal(err)
	}
	n, err := NewNet(m)
	if err != nil {
		b.Fatal(err)
	}
	B, T := 4, 256
	ids, targets := make([]int, B*T), make([]int, B*T)
	for i := range ids {
		ids[i] = (i*7919 + 13) % n.Cfg.VocabSize
		targets[i] = (i*104729 + 7) % n.Cfg.VocabSize
	}
	tp := &Tape{}
	opt := &AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.01}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.ZeroGrad()
		if err := n.Forward(tp, ids, B, T); err != nil {
			b.Fatal(err)
		}
		tp.Loss(targets, nil, 0, 1, 1/float32(B*T))
		n.Backward(tp, ids)
		ClipGradNorm(n.Params, 1)
		opt.Update(n.Params, 1e-4)
	}
	b.ReportMetric(float64(b.N*B*T)/b.Elapsed().Seconds(), "tok/s")
}

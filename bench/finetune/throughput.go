package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/retrofit-llm/retrofit/finetune"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/sgemm"
)

// throughputCmd times fwd+bwd+AdamW steps on random tokens.
func throughputCmd(args []string) error {
	fs := flag.NewFlagSet("throughput", flag.ExitOnError)
	fix := fs.String("fixtures", "/work/shared/fixtures", "fixtures directory")
	which := fs.String("model", "micro", "micro (qwen3-micro) or qwen3-0.6b (random, Qwen3-0.6B shape)")
	steps := fs.Int("steps", 5, "timed steps (after one warm-up step)")
	batch := fs.Int("batch", 4, "batch")
	ctxLen := fs.Int("ctx", 256, "context")
	fs.Parse(args)
	var m *model.Model
	var err error
	switch *which {
	case "micro":
		m, err = loaders.Load(filepath.Join(*fix, "qwen3-micro"))
	case "qwen3-0.6b":
		c := model.Config{Family: "qwen3", VocabSize: 151936, Hidden: 1024, Intermediate: 3072, Layers: 28, Heads: 16,
			KVHeads: 8, HeadDim: 128, RMSEps: 1e-6, RopeTheta: 1e6, TiedEmbeddings: true, QKNorm: true, BOS: -1, EOS: -1, PAD: -1}
		m, err = finetune.RandomModel(c, model.DefaultLayout(28), 1)
	default:
		err = fmt.Errorf("unknown model %q", *which)
	}
	if err != nil {
		return err
	}
	net, err := finetune.NewNet(m)
	if err != nil {
		return err
	}
	m.Tensors = nil // drop the source copy
	c := net.Cfg
	B, T := *batch, *ctxLen
	ids := make([]int, B*T)
	targets := make([]int, B*T)
	for i := range ids {
		ids[i] = (i*7919 + 13) % c.VocabSize
		targets[i] = (i*104729 + 7) % c.VocabSize
	}
	tp := &finetune.Tape{}
	opt := &finetune.AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.01}
	step := func() {
		net.ZeroGrad()
		if err := net.Forward(tp, ids, B, T); err != nil {
			panic(err)
		}
		tp.Loss(targets, nil, 0, 1, 1/float32(B*T))
		net.Backward(tp, ids)
		finetune.ClipGradNorm(net.Params, 1)
		opt.Update(net.Params, 1e-4)
	}
	step()
	t0 := time.Now()
	for i := 0; i < *steps; i++ {
		step()
	}
	el := time.Since(t0).Seconds()
	tok := float64(*steps * B * T)
	// 6·N·tokens for the matmul parameters (the head counted once even when
	// tied, embedding lookups excluded), plus attention: forward QKᵀ and PV
	// over the full T×T square (as computed) 4·T·d per token per head, ×3
	// for fwd+bwd.
	params := float64(net.ParamCount())
	if c.TiedEmbeddings {
		// the tied matrix is used once as a matmul (the head)
	} else {
		params -= float64(c.VocabSize * c.Hidden)
	}
	flops := 6*params*tok + 3*4*float64(c.Layers*c.Heads*c.HeadDim*T)*tok
	fmt.Printf("| model | params | batch×ctx | steps | s/step | tok/s | GFLOP/s | sgemm |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %s | %.1fM | %d×%d | %d | %.3f | %.0f | %.1f | %s |\n", *which, float64(net.ParamCount())/1e6, B, T, *steps,
		el/float64(*steps), tok/el, flops/el/1e9, sgemm.Backend())
	return nil
}

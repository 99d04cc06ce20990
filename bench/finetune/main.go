// Command finetune measures uptraining: recovery of a CLA-converted
// qwen3-micro (ppl before conversion, right after, after finetuning with and
// without distillation) and training throughput (tok/s, GFLOP/s).
//
//	go run ./bench/finetune recover -steps 300 -kd 0.5 -out /tmp/ft-kd
//	go run ./bench/finetune throughput -model micro|qwen3-0.6b -steps 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/eval"
	"github.com/retrofit-llm/retrofit/finetune"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: finetune recover|throughput [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "recover":
		err = recoverCmd(os.Args[2:])
	case "throughput":
		err = throughputCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "finetune:", err)
		os.Exit(1)
	}
}

// refIDs reads ids_docs_val from a refs safetensors file.
func refIDs(path string) ([]int, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Ints("ids_docs_val")
}

func ppl(m *model.Model, ids []int) (float64, error) {
	e, err := engine.New(m)
	if err != nil {
		return 0, err
	}
	r, err := eval.Perplexity(e, ids, eval.Options{Ctx: 512})
	if err != nil {
		return 0, err
	}
	return r.PPL, nil
}

func recoverCmd(args []string) error {
	fs := flag.NewFlagSet("recover", flag.ExitOnError)
	fix := fs.String("fixtures", "/work/shared/fixtures", "fixtures directory")
	steps := fs.Int("steps", 200, "optimizer steps")
	lr := fs.Float64("lr", 1e-3, "peak learning rate")
	ctxLen := fs.Int("ctx", 256, "context")
	batch := fs.Int("batch", 8, "batch")
	kd := fs.Float64("kd", 0, "distillation weight")
	temp := fs.Float64("temp", 1, "distillation temperature")
	train := fs.String("train", "all", "trainable tensors")
	out := fs.String("out", "/tmp/ft-recover", "output directory")
	seed := fs.Uint64("seed", 1, "seed")
	evalEvery := fs.Int("eval-every", 50, "eval every N steps")
	resume := fs.Bool("resume", false, "resume")
	fs.Parse(args)

	ids, err := refIDs(filepath.Join(*fix, "qwen3-micro-refs.safetensors"))
	if err != nil {
		return err
	}
	orig, err := loaders.Load(filepath.Join(*fix, "qwen3-micro"))
	if err != nil {
		return err
	}
	p0, err := ppl(orig, ids)
	if err != nil {
		return err
	}
	conv, err := loaders.Load(filepath.Join(*fix, "qwen3-micro"))
	if err != nil {
		return err
	}
	t, err := transforms.Lookup("cla")
	if err != nil {
		return err
	}
	if _, err := t.Apply(conv, map[string]string{"factor": "2"}, transforms.Env{}); err != nil {
		return err
	}
	p1, err := ppl(conv, ids)
	if err != nil {
		return err
	}
	fmt.Printf("qwen3-micro docs-val ppl (refs ids, 15×512): original %.4f, CLA2 before finetune %.4f\n", p0, p1)
	cfg := finetune.Config{Model: conv, DataFiles: []string{filepath.Join(*fix, "docs-train.txt")},
		EvalFile: filepath.Join(*fix, "docs-val.txt"), OutDir: *out, Steps: *steps, LR: *lr, Ctx: *ctxLen, Batch: *batch,
		Seed: *seed, KDWeight: *kd, KDTemp: *temp, Train: *train, EvalEvery: *evalEvery, SaveEvery: *evalEvery,
		EvalTokens: 8192, Resume: *resume, Log: os.Stdout, WeightDecay: 0.01}
	if *kd > 0 {
		cfg.Teacher = orig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	t0 := time.Now()
	res, err := finetune.Run(ctx, cfg)
	if err != nil {
		return err
	}
	trained, err := loaders.Load(res.ModelDir)
	if err != nil {
		return err
	}
	p2, err := ppl(trained, ids)
	if err != nil {
		return err
	}
	fmt.Printf("| run | steps | tokens | wall | tok/s | ppl orig | ppl CLA2 | ppl finetuned | gap closed |\n|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| kd=%g T=%g lr=%g | %d | %d | %s | %.0f | %.4f | %.4f | %.4f | %.1f%% |\n", *kd, *temp, *lr, res.Steps, res.Tokens,
		time.Since(t0).Round(time.Second), res.TokPerSec, p0, p1, p2, 100*(p1-p2)/(p1-p0))
	return nil
}

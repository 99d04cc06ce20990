// Command finetune measures uptraining: recovery of a CLA-converted
// qwen3-micro (ppl before conversion, right after, after finetuning with and
// without distillation) and training throughput (tok/s, GFLOP/s).
//
//	go run ./bench/finetune recover -steps 300 -kd 0.5 -out /tmp/ft-kd
//	go run ./bench/finetune throughput -model micro|qwen3-0.6b -steps 3
//	go run ./bench/finetune plot -in OUT/uptrain.json -out loss.png   (a scripts/uptrain_hf.py run)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/eval"
	"github.com/retrofit-llm/retrofit/finetune"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
	"github.com/retrofit-llm/retrofit/tokenizer"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: finetune recover|throughput|plot [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "recover":
		err = recoverCmd(os.Args[2:])
	case "throughput":
		err = throughputCmd(os.Args[2:])
	case "plot":
		err = plotCmd(os.Args[2:])
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
	name := fs.String("model", "qwen3-micro", "fixture to convert")
	to := fs.String("to", "cla", "transform")
	opts := fs.String("opts", "factor=2", "transform options, comma separated key=value")
	calibN := fs.Int("calib-samples", 128, "calibration samples (init=align, kvsharer) from docs-train.txt")
	calibCtx := fs.Int("calib-ctx", 256, "tokens per calibration sample")
	layerW := fs.Float64("layer", 0, "layer-wise distillation weight")
	layerLoss := fs.String("layer-loss", "mse", "layer-wise loss: mse or cos")
	layerAnneal := fs.Int("layer-anneal", 0, "steps over which the layer weight decays to 0 (0: constant)")
	local := fs.Int("local", 0, "local-stage steps (changed layers only, layer loss only)")
	warm := fs.Int("warm", 0, "Depth-Attention warm-start anneal steps (convert with -opts …,warm=on)")
	wd := fs.Float64("wd", 0.01, "AdamW weight decay")
	evalTok := fs.Int("eval-tokens", 8192, "in-run eval tokens")
	data := fs.String("data", "", "training text (default FIXTURES/docs-train.txt)")
	fs.Parse(args)
	if *data == "" {
		*data = filepath.Join(*fix, "docs-train.txt")
	}
	ids, err := refIDs(filepath.Join(*fix, *name+"-refs.safetensors"))
	if err != nil {
		return err
	}
	orig, err := loaders.Load(filepath.Join(*fix, *name))
	if err != nil {
		return err
	}
	p0, err := ppl(orig, ids)
	if err != nil {
		return err
	}
	conv, err := loaders.Load(filepath.Join(*fix, *name))
	if err != nil {
		return err
	}
	o := map[string]string{}
	for _, kv := range strings.Split(*opts, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			o[k] = v
		}
	}
	if *to != "none" { // none: the vanilla control
		if err := convert(conv, *to, o, *data, *calibN, *calibCtx); err != nil {
			return err
		}
	}
	p1, err := ppl(conv, ids)
	if err != nil {
		return err
	}
	fmt.Printf("%s docs-val ppl (refs ids, 15×512): original %.4f, %s %s before finetune %.4f (%.3f×)\n", *name, p0, *to, *opts, p1, p1/p0)
	cfg := finetune.Config{Model: conv, DataFiles: []string{*data},
		EvalFile: filepath.Join(*fix, "docs-val.txt"), OutDir: *out, Steps: *steps, LR: *lr, Ctx: *ctxLen, Batch: *batch,
		Seed: *seed, KDWeight: *kd, KDTemp: *temp, Train: *train, EvalEvery: *evalEvery, SaveEvery: *evalEvery,
		EvalTokens: *evalTok, Resume: *resume, Log: os.Stdout, WeightDecay: *wd, WarmSteps: *warm,
		LayerWeight: *layerW, LayerLoss: *layerLoss, LayerAnneal: *layerAnneal, LocalSteps: *local}
	if *kd > 0 || *layerW > 0 || *local > 0 {
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
	fmt.Printf("| kd=%g T=%g lr=%g layer=%g/%s anneal %d local %d | %d | %d | %s | %.0f | %.4f | %.4f | %.4f | %.1f%% |\n", *kd, *temp, *lr,
		*layerW, *layerLoss, *layerAnneal, *local, res.Steps, res.Tokens,
		time.Since(t0).Round(time.Second), res.TokPerSec, p0, p1, p2, 100*(p1-p2)/(p1-p0))
	fmt.Printf("ppl ratio after: %.4f× the original (KV bytes/token %d → %d)\n", p2/p0, orig.KVBytesPerToken(), conv.KVBytesPerToken())
	return nil
}

// convert applies transform to m, calibrating on the text file data when
// it needs calibration (init=align, kvsharer).
func convert(m *model.Model, to string, o map[string]string, data string, n, ctx int) error {
	t, err := transforms.Lookup(to)
	if err != nil {
		return err
	}
	env := transforms.Env{Log: os.Stdout}
	if o["init"] == "align" || to == "kvsharer" {
		if env.Calib, err = calibration(data, m, n, ctx); err != nil {
			return err
		}
	}
	tc := time.Now()
	plan, err := t.Apply(m, o, env)
	if err != nil {
		return err
	}
	fmt.Printf("%s\nconversion took %s\n", plan, time.Since(tc).Round(time.Millisecond))
	return nil
}

// calibration tokenizes the first documents of docs-train.txt (split on
// blank-line triples) that hold at least ctx tokens, truncated to ctx.
func calibration(path string, m *model.Model, n, ctx int) ([][]int, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.ForModel(m)
	if err != nil {
		return nil, err
	}
	var out [][]int
	for _, doc := range strings.Split(string(text), "\n\n\n") {
		if len(out) == n {
			break
		}
		if ids := tok.Encode(doc); len(ids) >= ctx {
			out = append(out, ids[:ctx])
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("%s: only %d documents hold %d tokens", path, len(out), ctx)
	}
	return out, nil
}

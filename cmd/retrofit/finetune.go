package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/finetune"
	"github.com/retrofit-llm/retrofit/internal/safefile"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
)

func finetuneCommand() *cli.Command {
	return &cli.Command{
		Name:      "finetune",
		Usage:     "uptrain a (converted) model on text on the CPU: LM loss plus optional distillation from the original",
		ArgsUsage: "MODEL",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "data", Usage: "training text files or directories (repeatable)", Required: true},
			&cli.StringFlag{Name: "eval", Usage: "held-out text file (default: hold out 2% of the training windows)"},
			&cli.StringFlag{Name: "out", Usage: "output directory: checkpoint, metrics.jsonl, loss.png, model/", Required: true},
			&cli.IntFlag{Name: "steps", Usage: "optimizer steps"},
			&cli.Int64Flag{Name: "tokens", Usage: "training tokens (when --steps is not given)"},
			&cli.Float64Flag{Name: "lr", Value: 5e-4, Usage: "peak learning rate"},
			&cli.Float64Flag{Name: "min-lr", Usage: "final learning rate of the cosine (default lr/10; 0 decays to zero)"},
			&cli.IntFlag{Name: "warmup", Usage: "linear warmup steps (default min(50, steps/10); 0 for none)"},
			&cli.Float64Flag{Name: "weight-decay", Usage: "AdamW decoupled weight decay (matrices only)"},
			&cli.Float64Flag{Name: "clip", Value: 1, Usage: "global gradient-norm clip (0 or negative disables)"},
			&cli.IntFlag{Name: "ctx", Value: 256, Usage: "tokens per training window"},
			&cli.IntFlag{Name: "batch", Value: 8, Usage: "windows per micro-batch"},
			&cli.IntFlag{Name: "accum", Value: 1, Usage: "micro-batches per optimizer step"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "data order seed"},
			&cli.StringFlag{Name: "teacher", Usage: "original model to distill from"},
			&cli.Float64Flag{Name: "kd-weight", Value: 0.5, Usage: "w in (1−w)·CE + w·T²·KL (with --teacher)"},
			&cli.Float64Flag{Name: "kd-temp", Value: 1, Usage: "distillation temperature T"},
			&cli.Float64Flag{Name: "layer-weight", Usage: "layer-wise distillation: weight of the loss on every layer's output vs the teacher's (with --teacher)"},
			&cli.StringFlag{Name: "layer-loss", Value: "mse", Usage: "layer-wise loss per token: mse (‖s−t‖²/‖t‖²) or cos (1 − cosine)"},
			&cli.IntFlag{Name: "layer-anneal", Usage: "steps over which --layer-weight decays linearly to 0 after the local stage (0: constant)"},
			&cli.IntFlag{Name: "local-steps", Usage: "first steps train only the layers whose layout differs from the teacher's, on their layer loss alone (with --teacher; counted in --steps)"},
			&cli.StringFlag{Name: "train", Value: "all", Usage: "what to train: all, attn, mlp, or a comma list of tensor-name patterns"},
			&cli.IntFlag{Name: "eval-every", Usage: "steps between evaluations (0: start and end only)"},
			&cli.IntFlag{Name: "save-every", Usage: "steps between checkpoints (0: end only)"},
			&cli.IntFlag{Name: "warm-steps", Usage: "Depth-Attention warm start (convert --opt warm=on): steps over which the self-score bias anneals to 0 (default steps/2)"},
			&cli.BoolFlag{Name: "resume", Usage: "continue from OUT/checkpoint when present"},
			&cli.StringFlag{Name: "dtype", Value: "bf16", Usage: "dtype of the exported model: f32, f16 or bf16"},
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "MODEL")
			if err != nil {
				return err
			}
			if c.Int("steps") <= 0 && c.Int64("tokens") <= 0 {
				return fmt.Errorf("finetune: give --steps N or --tokens N")
			}
			dt, err := model.ParseDType(c.String("dtype"))
			if err != nil || dt.Quantized() {
				return fmt.Errorf("finetune --dtype %q: want f32, f16 or bf16", c.String("dtype"))
			}
			if !c.IsSet("teacher") {
				for _, f := range []string{"kd-weight", "kd-temp", "layer-weight", "layer-loss", "layer-anneal", "local-steps"} {
					if c.IsSet(f) {
						return fmt.Errorf("finetune: --%s applies with --teacher only", f)
					}
				}
			}
			sched, err := finetuneSchedule(c)
			if err != nil {
				return err
			}
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			defer m.Close()
			if err := checkFinetuneOutputs(c, m); err != nil {
				return err
			}
			cfg := finetune.Config{
				Model: m, DataFiles: c.StringSlice("data"), EvalFile: c.String("eval"), OutDir: c.String("out"),
				Steps: c.Int("steps"), Tokens: c.Int64("tokens"), LR: c.Float64("lr"), MinLR: sched.minLR,
				Warmup: sched.warmup, WeightDecay: c.Float64("weight-decay"), Clip: sched.clip,
				Ctx: c.Int("ctx"), Batch: c.Int("batch"), Accum: c.Int("accum"), Seed: c.Uint64("seed"),
				Train: c.String("train"), EvalEvery: c.Int("eval-every"), SaveEvery: c.Int("save-every"),
				Resume: c.Bool("resume"), ExportDType: dt, Log: c.App.ErrWriter,
			}
			cfg.WarmSteps = c.Int("warm-steps")
			if t := c.String("teacher"); t != "" {
				teacher, err := loaders.Load(t)
				if err != nil {
					return fmt.Errorf("--teacher: %w", err)
				}
				defer teacher.Close()
				cfg.Teacher, cfg.KDWeight, cfg.KDTemp = teacher, c.Float64("kd-weight"), c.Float64("kd-temp")
				cfg.LayerWeight, cfg.LayerLoss = c.Float64("layer-weight"), c.String("layer-loss")
				cfg.LayerAnneal, cfg.LocalSteps = c.Int("layer-anneal"), c.Int("local-steps")
			}
			res, err := finetune.Run(c.Context, cfg)
			if err != nil {
				return err
			}
			state := "done"
			if res.Interrupted {
				state = "interrupted (checkpoint saved; --resume continues)"
			}
			fmt.Fprintf(c.App.Writer, "%s: %d steps, %d tokens, %.0f tok/s, train loss %.4f, eval ppl %.3f → %.3f\n",
				state, res.Steps, res.Tokens, res.TokPerSec, res.TrainLoss, res.InitEvalPPL, res.EvalPPL)
			if res.ModelDir != "" {
				fmt.Fprintf(c.App.Writer, "model written to %s\n", res.ModelDir)
			}
			return nil
		},
	}
}

// checkFinetuneOutputs refuses, before any training, an --out directory
// whose files (model/, checkpoint, metrics, plot) would replace an input:
// the model, the teacher, or a data file.
func checkFinetuneOutputs(c *cli.Context, m *model.Model) error {
	out := c.String("out")
	inputs := export.Inputs(m)
	inputs = append(inputs, c.StringSlice("data")...)
	if f := c.String("eval"); f != "" {
		inputs = append(inputs, f)
	}
	if t := c.String("teacher"); t != "" {
		inputs = append(inputs, t)
	}
	for _, p := range []string{filepath.Join(out, "model"), filepath.Join(out, finetune.CheckpointName),
		filepath.Join(out, "metrics.jsonl"), filepath.Join(out, "loss.png")} {
		if err := safefile.CheckNotInput(p, inputs); err != nil {
			return fmt.Errorf("finetune --out %s: %w", out, err)
		}
	}
	return nil
}

// schedule holds the flags whose zero means something: passed to
// finetune.Config, where zero means "default", as its negative forms.
type schedule struct {
	minLR, clip float64
	warmup      int
}

// finetuneSchedule checks the numeric flags and maps an explicit 0 of
// --warmup, --min-lr and --clip to what finetune.Config reads as none.
func finetuneSchedule(c *cli.Context) (schedule, error) {
	s := schedule{minLR: c.Float64("min-lr"), clip: c.Float64("clip"), warmup: c.Int("warmup")}
	switch {
	case c.Float64("lr") <= 0:
		return s, fmt.Errorf("finetune: --lr %g must be positive", c.Float64("lr"))
	case s.minLR < 0 || s.warmup < 0:
		return s, fmt.Errorf("finetune: --min-lr %g and --warmup %d must not be negative", s.minLR, s.warmup)
	case c.Int("ctx") < 2 || c.Int("batch") < 1 || c.Int("accum") < 1:
		return s, fmt.Errorf("finetune: --ctx %d (≥ 2), --batch %d and --accum %d (≥ 1) are out of range", c.Int("ctx"), c.Int("batch"), c.Int("accum"))
	case c.Int("eval-every") < 0 || c.Int("save-every") < 0 || c.Int("steps") < 0 || c.Int64("tokens") < 0:
		return s, fmt.Errorf("finetune: --steps, --tokens, --eval-every and --save-every must not be negative")
	}
	if c.IsSet("min-lr") && s.minLR == 0 {
		s.minLR = -1
	}
	if c.IsSet("warmup") && s.warmup == 0 {
		s.warmup = -1
	}
	if c.IsSet("clip") && s.clip == 0 {
		s.clip = -1
	}
	return s, nil
}

package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/finetune/plot"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/tokenizer"
)

// Config configures Run. Zero values take the defaults noted.
type Config struct {
	Model   *model.Model // the student (converted model); required
	Teacher *model.Model // the original model for distillation, or nil

	DataFiles []string // text files or directories of them; required
	EvalFile  string   // held-out text; "" holds out the last EvalSplit of the training windows
	EvalSplit float64  // default 0.02 (when EvalFile is "")
	OutDir    string   // checkpoint, metrics.jsonl, loss.png and model/; required

	Steps  int   // optimizer steps; 0 derives them from Tokens
	Tokens int64 // training tokens when Steps is 0

	LR          float64 // peak learning rate (default 5e-4)
	MinLR       float64 // final learning rate of the cosine (default LR/10)
	Warmup      int     // linear warmup steps (default min(50, Steps/10))
	WeightDecay float64 // AdamW decoupled decay on matrices (default 0; set e.g. 0.01)
	Clip        float64 // global gradient-norm clip (default 1; negative disables)
	Ctx         int     // tokens per training window (default 256)
	Batch       int     // windows per micro-batch (default 8)
	Accum       int     // micro-batches per optimizer step (default 1)
	Seed        uint64  // data order
	KDWeight    float64 // w in (1−w)·CE + w·T²·KL (0 = LM loss only)
	KDTemp      float64 // T (default 1)
	Train       string  // "all" | "attn" | "mlp" | comma list of name patterns
	EvalEvery   int     // steps between evaluations (0: only at the start and end)
	EvalTokens  int     // cap on evaluated tokens (default 32768)
	SaveEvery   int     // steps between checkpoints (0: only at the end)
	Resume      bool    // continue from OutDir/checkpoint.bin when present
	ExportDType model.DType
	NoExport    bool // skip writing OutDir/model (benchmarks, tests)

	// Encoder and EOS override the model's tokenizer (tests; EOS −1 = none).
	Encoder Encoder
	EOS     int

	Log io.Writer // progress lines (nil: none)
}

// Result summarises a run.
type Result struct {
	Steps       int
	Tokens      int64
	TrainLoss   float64 // mean loss of the last step
	EvalPPL     float64 // last evaluation (0 if none)
	InitEvalPPL float64 // evaluation before the first step of this run
	TokPerSec   float64 // training throughput of this run
	Params      int64   // trainable parameters
	History     []Point
	ModelDir    string // exported model ("" with NoExport)
	Checkpoint  string
	Interrupted bool
}

func (c *Config) defaults() error {
	if c.Model == nil {
		return errors.New("finetune: no model")
	}
	if len(c.DataFiles) == 0 && c.Encoder == nil {
		return errors.New("finetune: no data files")
	}
	if c.OutDir == "" {
		return errors.New("finetune: no output directory")
	}
	if c.Ctx == 0 {
		c.Ctx = 256
	}
	if c.Batch == 0 {
		c.Batch = 8
	}
	if c.Accum == 0 {
		c.Accum = 1
	}
	if c.Ctx < 2 || c.Batch < 1 || c.Accum < 1 {
		return fmt.Errorf("finetune: ctx %d, batch %d, accum %d must be positive (ctx ≥ 2)", c.Ctx, c.Batch, c.Accum)
	}
	perStep := int64(c.Ctx * c.Batch * c.Accum)
	if c.Steps == 0 {
		c.Steps = int((c.Tokens + perStep - 1) / perStep)
	}
	if c.Steps <= 0 {
		return errors.New("finetune: give Steps or Tokens")
	}
	if c.LR == 0 {
		c.LR = 5e-4
	}
	if c.MinLR == 0 {
		c.MinLR = c.LR / 10
	}
	if c.Warmup == 0 {
		c.Warmup = min(50, c.Steps/10)
	}
	if c.Clip == 0 {
		c.Clip = 1
	}
	if c.KDTemp == 0 {
		c.KDTemp = 1
	}
	if c.KDWeight < 0 || c.KDWeight > 1 {
		return fmt.Errorf("finetune: kd weight %g outside [0, 1]", c.KDWeight)
	}
	if c.KDWeight > 0 && c.Teacher == nil {
		return fmt.Errorf("finetune: kd weight %g needs a teacher model", c.KDWeight)
	}
	if c.EvalSplit == 0 {
		c.EvalSplit = 0.02
	}
	if c.EvalTokens == 0 {
		c.EvalTokens = 32768
	}
	return nil
}

// Run uptrains cfg.Model and writes checkpoints, metrics.jsonl, loss.png and
// (unless NoExport) the trained model to OutDir/model. Cancelling ctx saves
// a checkpoint and returns the result so far with Interrupted set.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", a...)
		}
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	net, err := NewNet(cfg.Model)
	if err != nil {
		return nil, err
	}
	trainable, err := net.SetTrainable(cfg.Train)
	if err != nil {
		return nil, err
	}

	// Data.
	enc, eos := cfg.Encoder, cfg.EOS
	if enc == nil {
		tok, err := tokenizer.ForModel(cfg.Model)
		if err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		enc, eos = tok, cfg.Model.Config.EOS
		if id, ok := tok.TokenID("<|endoftext|>"); ok {
			eos = id
		}
	}
	files, err := ListFiles(cfg.DataFiles)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	train, err := Tokenize(files, enc, eos, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	starts := Windows(len(train), cfg.Ctx)
	var evalIDs []int
	var evalStarts []int
	if cfg.EvalFile != "" {
		if evalIDs, err = Tokenize([]string{cfg.EvalFile}, enc, eos, runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
		evalStarts = Windows(len(evalIDs), cfg.Ctx)
	} else {
		k := max(1, int(float64(len(starts))*cfg.EvalSplit))
		if k >= len(starts) {
			return nil, fmt.Errorf("finetune: %d training windows of %d tokens are too few to hold out %d for eval", len(starts), cfg.Ctx, k)
		}
		evalIDs, evalStarts = train, starts[len(starts)-k:]
		starts = starts[:len(starts)-k]
	}
	if len(starts) == 0 {
		return nil, fmt.Errorf("finetune: %v: %d tokens make no window of %d", cfg.DataFiles, len(train), cfg.Ctx+1)
	}
	if max(1, cfg.EvalTokens/cfg.Ctx) < len(evalStarts) {
		evalStarts = evalStarts[:max(1, cfg.EvalTokens/cfg.Ctx)]
	}
	logf("data: %d files, %d tokens, %d windows of %d (+1); eval %d windows; tokenized in %s; trainable %d of %d params",
		len(files), len(train), len(starts), cfg.Ctx, len(evalStarts), time.Since(t0).Round(time.Millisecond), trainable, net.ParamCount())

	var teacher *engine.Engine
	var tcache *engine.Cache
	if cfg.KDWeight > 0 {
		if teacher, err = engine.New(cfg.Teacher); err != nil {
			return nil, fmt.Errorf("finetune: teacher: %w", err)
		}
		if teacher.Config().VocabSize != net.Cfg.VocabSize {
			return nil, fmt.Errorf("finetune: teacher vocabulary %d ≠ student %d", teacher.Config().VocabSize, net.Cfg.VocabSize)
		}
		tcache = teacher.NewCache(cfg.Ctx)
	}

	opt := &AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: cfg.WeightDecay}
	sampler := NewSampler(starts, cfg.Seed)
	ckpt := filepath.Join(cfg.OutDir, CheckpointName)
	st := State{Seed: cfg.Seed, Windows: len(starts)}
	if cfg.Resume {
		if _, err := os.Stat(ckpt); err == nil {
			if st, err = LoadCheckpoint(ckpt, net); err != nil {
				return nil, err
			}
			if st.Windows != len(starts) || st.Seed != cfg.Seed {
				return nil, fmt.Errorf("finetune: resume %s: the checkpoint saw %d windows with seed %d, this run has %d with seed %d",
					ckpt, st.Windows, st.Seed, len(starts), cfg.Seed)
			}
			opt.Step = st.AdamStep
			sampler.Epoch, sampler.Pos = st.Epoch, st.Pos
			logf("resumed %s at step %d (%d tokens)", ckpt, st.Step, st.Tokens)
		}
	}
	if err := writeMetrics(cfg.OutDir, st.History); err != nil {
		return nil, err
	}
	mf, err := os.OpenFile(filepath.Join(cfg.OutDir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	defer mf.Close()

	B, T := cfg.Batch, cfg.Ctx
	tp := &Tape{}
	ids := make([]int, B*T)
	targets := make([]int, B*T)
	var tlogits []float32
	V := net.Cfg.VocabSize
	if teacher != nil {
		tlogits = make([]float32, B*T*V)
	}
	evaluate := func() (float64, error) {
		var sum float64
		var cnt int
		for w0 := 0; w0 < len(evalStarts); w0 += B {
			nb := min(B, len(evalStarts)-w0)
			for b := 0; b < B; b++ {
				s := evalStarts[w0+min(b, nb-1)]
				copy(ids[b*T:(b+1)*T], evalIDs[s:s+T])
				for i := 0; i < T; i++ {
					targets[b*T+i] = evalIDs[s+1+i]
					if b >= nb {
						targets[b*T+i] = -1
					}
				}
			}
			if err := net.Forward(tp, ids, B, T); err != nil {
				return 0, err
			}
			s, c := tp.NLL(targets)
			sum += s
			cnt += c
		}
		return sum / float64(cnt), nil
	}

	res := &Result{Params: trainable, Checkpoint: ckpt}
	save := func() error {
		st.AdamStep, st.Epoch, st.Pos = opt.Step, sampler.Epoch, sampler.Pos
		if err := SaveCheckpoint(ckpt, net, st); err != nil {
			return err
		}
		return drawPlot(cfg.OutDir, st.History)
	}
	nll0, err := evaluate()
	if err != nil {
		return nil, err
	}
	res.InitEvalPPL = math.Exp(nll0)
	if len(st.History) == 0 {
		st.History = append(st.History, Point{Step: 0, EvalNLL: nll0, EvalPPL: res.InitEvalPPL})
		if b, err := json.Marshal(st.History[0]); err == nil {
			mf.Write(append(b, '\n'))
		}
	}
	logf("step %d: eval ppl %.4f (nll %.4f)", st.Step, res.InitEvalPPL, nll0)
	start := time.Now()
	startStep, startTok, elapsed0 := st.Step, st.Tokens, st.Elapsed
	norm := 1 / float32(B*T*cfg.Accum)
	lastEval := 0.0
	for st.Step < cfg.Steps {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		net.ZeroGrad()
		var ls LossStats
		for a := 0; a < cfg.Accum; a++ {
			for b := 0; b < B; b++ {
				s := sampler.Next()
				copy(ids[b*T:(b+1)*T], train[s:s+T])
				for i := 0; i < T; i++ {
					targets[b*T+i] = train[s+1+i]
				}
				if teacher != nil {
					tcache.Reset()
					if _, err := teacher.Forward(ids[b*T:(b+1)*T], tcache, &engine.ForwardOptions{Logits: tlogits[b*T*V : (b+1)*T*V]}); err != nil {
						return nil, fmt.Errorf("finetune: teacher: %w", err)
					}
				}
			}
			if err := net.Forward(tp, ids, B, T); err != nil {
				return nil, err
			}
			l := tp.Loss(targets, tlogits, cfg.KDWeight, cfg.KDTemp, norm)
			ls.CE, ls.KD, ls.Tokens = ls.CE+l.CE, ls.KD+l.KD, ls.Tokens+l.Tokens
			net.Backward(tp, ids)
		}
		gnorm := ClipGradNorm(net.Params, cfg.Clip)
		lr := LR(st.Step, cfg.Steps, cfg.Warmup, cfg.LR, cfg.MinLR)
		opt.Update(net.Params, lr)
		st.Step++
		st.Tokens += int64(ls.Tokens)
		el := time.Since(start).Seconds()
		tps := float64(st.Tokens-startTok) / el
		pt := Point{Step: st.Step, Tokens: st.Tokens, Loss: ls.Value(cfg.KDWeight), CE: ls.CE / float64(ls.Tokens),
			KD: ls.KD / float64(ls.Tokens), LR: lr, Norm: gnorm, TokPerS: tps}
		if (cfg.EvalEvery > 0 && st.Step%cfg.EvalEvery == 0) || st.Step == cfg.Steps {
			nll, err := evaluate()
			if err != nil {
				return nil, err
			}
			pt.EvalNLL, pt.EvalPPL = nll, math.Exp(nll)
			lastEval = pt.EvalPPL
		}
		st.History = append(st.History, pt)
		st.Elapsed = elapsed0 + el
		if b, err := json.Marshal(pt); err == nil {
			mf.Write(append(b, '\n'))
		}
		eta := time.Duration(float64(cfg.Steps-st.Step) * el / float64(st.Step-startStep) * float64(time.Second))
		evs := ""
		if pt.EvalPPL > 0 {
			evs = fmt.Sprintf(" eval ppl %.4f", pt.EvalPPL)
		}
		logf("step %d/%d tok %d loss %.4f (ce %.4f kd %.4f) lr %.2e |g| %.3f%s %.0f tok/s ETA %s",
			st.Step, cfg.Steps, st.Tokens, pt.Loss, pt.CE, pt.KD, lr, gnorm, evs, tps, eta.Round(time.Second))
		if cfg.SaveEvery > 0 && st.Step%cfg.SaveEvery == 0 && st.Step < cfg.Steps {
			if err := save(); err != nil {
				return nil, err
			}
		}
	}
	if err := save(); err != nil {
		return nil, err
	}
	res.Steps, res.Tokens, res.History, res.EvalPPL = st.Step, st.Tokens, st.History, lastEval
	if n := len(st.History); n > 0 && st.History[n-1].Step > 0 {
		res.TrainLoss = st.History[n-1].Loss
	}
	if el := time.Since(start).Seconds(); el > 0 {
		res.TokPerSec = float64(st.Tokens-startTok) / el
	}
	if res.Interrupted {
		logf("interrupted: checkpoint %s at step %d", ckpt, st.Step)
		return res, ctx.Err()
	}
	if !cfg.NoExport {
		out := net.ToModel(cfg.Model)
		out.Provenance = append(out.Provenance, model.Step{Transform: "finetune", Options: map[string]string{
			"steps": strconv.Itoa(st.Step), "tokens": strconv.FormatInt(st.Tokens, 10), "lr": fmt.Sprint(cfg.LR),
			"ctx": strconv.Itoa(cfg.Ctx), "batch": strconv.Itoa(cfg.Batch), "accum": strconv.Itoa(cfg.Accum),
			"kd_weight": fmt.Sprint(cfg.KDWeight), "kd_temp": fmt.Sprint(cfg.KDTemp), "train": cfg.Train,
			"seed": strconv.FormatUint(cfg.Seed, 10)}})
		res.ModelDir = filepath.Join(cfg.OutDir, "model")
		opts := export.SafeTensorsOptions{DType: cfg.ExportDType, ForceDType: true}
		if err := export.SafeTensors(out, res.ModelDir, opts); err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		logf("wrote %s", res.ModelDir)
	}
	return res, nil
}

// NLL returns the summed negative log-likelihood of the targets (−1 skipped)
// under the logits of the last Forward, and the number of targets.
func (t *Tape) NLL(targets []int) (float64, int) {
	V := len(t.logits) / len(targets)
	var s float64
	var n int
	for i, y := range targets {
		if y < 0 {
			continue
		}
		s += numerics.NLL(t.logits[i*V:(i+1)*V], y)
		n++
	}
	return s, n
}

// writeMetrics rewrites OutDir/metrics.jsonl from the history.
func writeMetrics(dir string, h []Point) error {
	path := filepath.Join(dir, "metrics.jsonl")
	var b []byte
	for _, p := range h {
		j, _ := json.Marshal(p)
		b = append(append(b, j...), '\n')
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	return nil
}

// drawPlot writes OutDir/loss.png.
func drawPlot(dir string, h []Point) error {
	var tr, ev plot.Series
	tr.Name, ev.Name = "train CE", "eval NLL"
	for _, p := range h {
		if p.Step > 0 {
			tr.X, tr.Y = append(tr.X, float64(p.Step)), append(tr.Y, p.CE)
		}
		if p.EvalPPL > 0 {
			ev.X, ev.Y = append(ev.X, float64(p.Step)), append(ev.Y, p.EvalNLL)
		}
	}
	return plot.Loss(filepath.Join(dir, "loss.png"), "finetune", tr, ev)
}

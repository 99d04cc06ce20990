package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/tokenizer"
)

// trainer is one Run: its steps, in order, are loadData, loadTeacher,
// restore, evaluateStart, step (repeated) and finish.
type trainer struct {
	cfg       Config
	net       *Net
	trainable int64

	train, starts       []int // training ids and window starts
	evalIDs, evalStarts []int // held-out ids and window starts

	teacher *engine.Engine // nil without distillation
	tcache  *engine.Cache
	tlogits []float32   // teacher logits of one micro-batch [B·T × vocab]
	thidden [][]float32 // teacher layer outputs of one micro-batch, per layer [B·T × hidden] (layer-wise)
	changed []int       // layers whose layout differs from the teacher's (local stage)
	stage   string      // the Train pattern in force

	opt     *AdamW
	sampler *Sampler
	ckpt    string
	st      State
	metrics *os.File // OutDir/metrics.jsonl, appended to

	tp           *Tape
	ids, targets []int // one micro-batch [B·T]

	start     time.Time // of this run's first step
	startStep int
	startTok  int64
	elapsed0  float64
	res       *Result
	ctx       context.Context // Run's: cancelling it stops the final export too
}

// newTrainer checks cfg, creates OutDir and the trainable net.
func newTrainer(cfg Config) (*trainer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
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
	n := cfg.Batch * cfg.Ctx
	ckpt := filepath.Join(cfg.OutDir, CheckpointName)
	return &trainer{cfg: cfg, net: net, trainable: trainable, ckpt: ckpt, tp: &Tape{}, stage: cfg.Train,
		ids: make([]int, n), targets: make([]int, n), res: &Result{Params: trainable, Checkpoint: ckpt}}, nil
}

func (tr *trainer) close() {
	if tr.metrics != nil {
		tr.metrics.Close()
	}
}

func (tr *trainer) logf(format string, a ...any) {
	if tr.cfg.Log != nil {
		fmt.Fprintf(tr.cfg.Log, format+"\n", a...)
	}
}

// encoder returns the tokenizer and end-of-document id the data uses.
func (tr *trainer) encoder() (Encoder, int, error) {
	if tr.cfg.Encoder != nil {
		return tr.cfg.Encoder, tr.cfg.EOS, nil
	}
	tok, err := tokenizer.ForModel(tr.cfg.Model)
	if err != nil {
		return nil, 0, fmt.Errorf("finetune: %w", err)
	}
	eos := tr.cfg.Model.Config.EOS
	if id, ok := tok.TokenID("<|endoftext|>"); ok {
		eos = id
	}
	return tok, eos, nil
}

// loadData tokenizes the training text and cuts it into windows; the eval
// windows come from EvalFile or are the last EvalSplit of the training ones.
func (tr *trainer) loadData() error {
	cfg := tr.cfg
	enc, eos, err := tr.encoder()
	if err != nil {
		return err
	}
	files, err := ListFiles(cfg.DataFiles)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if tr.train, err = Tokenize(files, enc, eos, runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	tr.starts = Windows(len(tr.train), cfg.Ctx)
	if cfg.EvalFile != "" {
		if tr.evalIDs, err = Tokenize([]string{cfg.EvalFile}, enc, eos, runtime.GOMAXPROCS(0)); err != nil {
			return err
		}
		tr.evalStarts = Windows(len(tr.evalIDs), cfg.Ctx)
	} else {
		k := max(1, int(float64(len(tr.starts))*cfg.EvalSplit))
		if k >= len(tr.starts) {
			return fmt.Errorf("finetune: %d training windows of %d tokens are too few to hold out %d for eval", len(tr.starts), cfg.Ctx, k)
		}
		tr.evalIDs, tr.evalStarts = tr.train, tr.starts[len(tr.starts)-k:]
		tr.starts = tr.starts[:len(tr.starts)-k]
	}
	if len(tr.starts) == 0 {
		return fmt.Errorf("finetune: %v: %d tokens make no window of %d", cfg.DataFiles, len(tr.train), cfg.Ctx+1)
	}
	tr.evalStarts = tr.evalStarts[:min(len(tr.evalStarts), max(1, cfg.EvalTokens/cfg.Ctx))]
	tr.logf("data: %d files, %d tokens, %d windows of %d (+1); eval %d windows; tokenized in %s; trainable %d of %d params",
		len(files), len(tr.train), len(tr.starts), cfg.Ctx, len(tr.evalStarts), time.Since(t0).Round(time.Millisecond), tr.trainable, tr.net.ParamCount())
	return nil
}

// loadTeacher builds the distillation teacher's engine (when KDWeight > 0).
func (tr *trainer) loadTeacher() error {
	if tr.cfg.KDWeight == 0 && !tr.cfg.layerWise() {
		return nil
	}
	t, err := engine.New(tr.cfg.Teacher)
	if err != nil {
		return fmt.Errorf("finetune: teacher: %w", err)
	}
	if v := tr.net.Cfg.VocabSize; t.Config().VocabSize != v {
		return fmt.Errorf("finetune: teacher vocabulary %d ≠ student %d", t.Config().VocabSize, v)
	}
	tr.teacher, tr.tcache = t, t.NewCache(tr.cfg.Ctx)
	if tr.cfg.KDWeight > 0 {
		tr.tlogits = make([]float32, len(tr.ids)*tr.net.Cfg.VocabSize)
	}
	if tr.cfg.layerWise() {
		if tr.changed, err = changedLayers(tr.cfg.Model, tr.cfg.Teacher); err != nil && tr.cfg.LocalSteps > 0 {
			return err
		}
		tr.thidden = make([][]float32, tr.net.Cfg.Layers)
		for l := range tr.thidden {
			tr.thidden[l] = make([]float32, len(tr.ids)*tr.net.Cfg.Hidden)
		}
	}
	return nil
}

// restore sets up the optimizer and data order, continues from the
// checkpoint when Resume asks and one exists, and reopens metrics.jsonl with
// the restored history.
func (tr *trainer) restore() error {
	cfg := tr.cfg
	tr.opt = &AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: cfg.WeightDecay}
	tr.sampler = NewSampler(tr.starts, cfg.Seed)
	tr.st = State{Seed: cfg.Seed, Windows: len(tr.starts)}
	if _, err := os.Stat(tr.ckpt); cfg.Resume && err == nil {
		st, err := LoadCheckpoint(tr.ckpt, tr.net)
		if err != nil {
			return err
		}
		if st.Windows != len(tr.starts) || st.Seed != cfg.Seed {
			return fmt.Errorf("finetune: resume %s: the checkpoint saw %d windows with seed %d, this run has %d with seed %d",
				tr.ckpt, st.Windows, st.Seed, len(tr.starts), cfg.Seed)
		}
		tr.st = st
		tr.opt.Step = st.AdamStep
		tr.sampler.Epoch, tr.sampler.Pos = st.Epoch, st.Pos
		tr.logf("resumed %s at step %d (%d tokens)", tr.ckpt, st.Step, st.Tokens)
	}
	if err := writeMetrics(cfg.OutDir, tr.st.History); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(cfg.OutDir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	tr.metrics = f
	return nil
}

// evaluate returns the mean NLL over the eval windows, B at a time (the
// last batch padded with ignored rows).
func (tr *trainer) evaluate() (float64, error) {
	B, T := tr.cfg.Batch, tr.cfg.Ctx
	var sum float64
	var cnt int
	for w0 := 0; w0 < len(tr.evalStarts); w0 += B {
		nb := min(B, len(tr.evalStarts)-w0)
		for b := 0; b < B; b++ {
			s := tr.evalStarts[w0+min(b, nb-1)]
			copy(tr.ids[b*T:(b+1)*T], tr.evalIDs[s:s+T])
			for i := 0; i < T; i++ {
				tr.targets[b*T+i] = tr.evalIDs[s+1+i]
				if b >= nb {
					tr.targets[b*T+i] = -1
				}
			}
		}
		if err := tr.net.Forward(tr.tp, tr.ids, B, T); err != nil {
			return 0, err
		}
		s, c := tr.tp.NLL(tr.targets)
		sum += s
		cnt += c
	}
	return sum / float64(cnt), nil
}

// evaluateStart evaluates before the first step of this run (recorded as
// step 0 of a fresh run) and starts the clocks.
func (tr *trainer) evaluateStart() error {
	nll, err := tr.evaluate()
	if err != nil {
		return err
	}
	if !finite(nll) {
		return tr.nonFinite(fmt.Sprintf("the evaluation before training gives nll %v (NaN or Inf in the weights?)", nll))
	}
	tr.res.InitEvalPPL = math.Exp(nll)
	if len(tr.st.History) == 0 {
		p := Point{Step: 0, EvalNLL: nll, EvalPPL: tr.res.InitEvalPPL}
		tr.st.History = append(tr.st.History, p)
		tr.appendMetrics(p)
	}
	tr.logf("step %d: eval ppl %.4f (nll %.4f)", tr.st.Step, tr.res.InitEvalPPL, nll)
	tr.start = time.Now()
	tr.startStep, tr.startTok, tr.elapsed0 = tr.st.Step, tr.st.Tokens, tr.st.Elapsed
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// nonFinite is the error that stops training before a NaN or Inf reaches
// the weights: the last checkpoint saved stays as it was.
func (tr *trainer) nonFinite(what string) error {
	keep := "no checkpoint was saved yet"
	if _, err := os.Stat(tr.ckpt); err == nil {
		keep = "the last good checkpoint " + tr.ckpt + " is kept (--resume continues from it)"
	}
	return fmt.Errorf("finetune: %s: stopped before the update; %s", what, keep)
}

// step runs one optimizer step over Accum micro-batches, then evaluates,
// records and saves as configured.
func (tr *trainer) step() error {
	cfg := tr.cfg
	if err := tr.setStage(); err != nil {
		return err
	}
	tr.net.ZeroGrad()
	var ls LossStats
	norm := 1 / float32(len(tr.ids)*cfg.Accum)
	for a := 0; a < cfg.Accum; a++ {
		l, err := tr.microBatch(norm)
		if err != nil {
			return err
		}
		ls.CE, ls.KD, ls.LH, ls.Tokens = ls.CE+l.CE, ls.KD+l.KD, ls.LH+l.LH, ls.Tokens+l.Tokens
	}
	gnorm := ClipGradNorm(tr.net.Params, cfg.Clip)
	if loss := ls.Value(cfg.KDWeight); !finite(loss) || !finite(gnorm) {
		return tr.nonFinite(fmt.Sprintf("step %d: loss %v, gradient norm %v", tr.st.Step+1, loss, gnorm))
	}
	lr := LR(tr.st.Step, cfg.Steps, cfg.Warmup, cfg.LR, cfg.MinLR)
	tr.opt.Update(tr.net.Params, lr)
	tr.st.Step++
	tr.st.Tokens += int64(ls.Tokens)
	el := time.Since(tr.start).Seconds()
	pt := Point{Step: tr.st.Step, Tokens: tr.st.Tokens, Loss: ls.Value(cfg.KDWeight), CE: ls.CE / float64(ls.Tokens),
		KD: ls.KD / float64(ls.Tokens), LH: ls.LH / float64(ls.Tokens), LR: lr, Norm: gnorm, TokPerS: float64(tr.st.Tokens-tr.startTok) / el}
	if (cfg.EvalEvery > 0 && tr.st.Step%cfg.EvalEvery == 0) || tr.st.Step == cfg.Steps {
		nll, err := tr.evaluate()
		if err != nil {
			return err
		}
		if !finite(nll) {
			return tr.nonFinite(fmt.Sprintf("step %d: evaluation nll %v", tr.st.Step, nll))
		}
		pt.EvalNLL, pt.EvalPPL = nll, math.Exp(nll)
		tr.res.EvalPPL = pt.EvalPPL
	}
	tr.st.History = append(tr.st.History, pt)
	tr.st.Elapsed = tr.elapsed0 + el
	tr.appendMetrics(pt)
	tr.logStep(pt, el)
	if cfg.SaveEvery > 0 && tr.st.Step%cfg.SaveEvery == 0 && tr.st.Step < cfg.Steps {
		return tr.save()
	}
	return nil
}

// microBatch samples B windows, runs the teacher on them, and adds the
// student's loss gradient (scaled by norm) to the parameters.
func (tr *trainer) microBatch(norm float32) (LossStats, error) {
	B, T, V := tr.cfg.Batch, tr.cfg.Ctx, tr.net.Cfg.VocabSize
	for b := 0; b < B; b++ {
		s := tr.sampler.Next()
		copy(tr.ids[b*T:(b+1)*T], tr.train[s:s+T])
		for i := 0; i < T; i++ {
			tr.targets[b*T+i] = tr.train[s+1+i]
		}
		if err := tr.runTeacher(b*T, (b+1)*T, V); err != nil {
			return LossStats{}, err
		}
	}
	if err := tr.net.Forward(tr.tp, tr.ids, B, T); err != nil {
		return LossStats{}, err
	}
	l := tr.tp.Loss(tr.targets, tr.tlogits, tr.cfg.KDWeight, tr.cfg.KDTemp, norm)
	local := tr.st.Step < tr.cfg.LocalSteps
	if local {
		clear(tr.tp.logits) // the local stage trains on the layer loss alone
	}
	if tr.thidden != nil {
		use := make([]bool, tr.net.Cfg.Layers)
		w := tr.cfg.layerWeightAt(tr.st.Step)
		if local {
			w = 1
			for _, c := range tr.changed {
				use[c] = true
			}
		} else {
			for i := range use {
				use[i] = w > 0
			}
		}
		l.LH = tr.net.layerLoss(tr.tp, tr.thidden, use, tr.cfg.LayerLoss, float32(w)*norm)
	}
	tr.net.Backward(tr.tp, tr.ids)
	return l, nil
}

// runTeacher runs the teacher on the window ids[i0:i1], keeping its logits
// (distillation) and layer outputs (layer-wise) as the run needs them.
func (tr *trainer) runTeacher(i0, i1, V int) error {
	if tr.teacher == nil {
		return nil
	}
	var logits []float32
	if tr.tlogits != nil {
		logits = tr.tlogits[i0*V : i1*V]
	}
	var err error
	if tr.thidden != nil {
		err = teacherHidden(tr.teacher, tr.tcache, tr.ids[i0:i1], tr.thidden, i0*tr.net.Cfg.Hidden, logits)
	} else {
		tr.tcache.Reset()
		_, err = tr.teacher.Forward(tr.ids[i0:i1], tr.tcache, &engine.ForwardOptions{Logits: logits})
	}
	if err != nil {
		return fmt.Errorf("finetune: teacher: %w", err)
	}
	return nil
}

// setStage makes the local stage's layers the only trainable ones during
// the first LocalSteps steps, and cfg.Train after.
func (tr *trainer) setStage() error {
	want := tr.cfg.Train
	if tr.st.Step < tr.cfg.LocalSteps {
		want = localPattern(tr.cfg.Model, tr.changed)
	}
	if want == tr.stage {
		return nil
	}
	if _, err := tr.net.SetTrainable(want); err != nil {
		return err
	}
	if tr.stage != "" || want != tr.cfg.Train {
		tr.logf("step %d: training %q", tr.st.Step, want)
	}
	tr.stage = want
	return nil
}

func (tr *trainer) appendMetrics(p Point) {
	if b, err := json.Marshal(p); err == nil {
		tr.metrics.Write(append(b, '\n'))
	}
}

func (tr *trainer) logStep(pt Point, el float64) {
	done := tr.st.Step - tr.startStep
	eta := time.Duration(float64(tr.cfg.Steps-tr.st.Step) * el / float64(done) * float64(time.Second))
	evs := ""
	if pt.EvalPPL > 0 {
		evs = fmt.Sprintf(" eval ppl %.4f", pt.EvalPPL)
	}
	tr.logf("step %d/%d tok %d loss %.4f (ce %.4f kd %.4f) lr %.2e |g| %.3f%s %.0f tok/s ETA %s",
		tr.st.Step, tr.cfg.Steps, tr.st.Tokens, pt.Loss, pt.CE, pt.KD, pt.LR, pt.Norm, evs, pt.TokPerS, eta.Round(time.Second))
}

// save writes the checkpoint (weights, AdamW moments, data position,
// history) and loss.png.
func (tr *trainer) save() error {
	tr.st.AdamStep, tr.st.Epoch, tr.st.Pos = tr.opt.Step, tr.sampler.Epoch, tr.sampler.Pos
	if err := SaveCheckpoint(tr.ckpt, tr.net, tr.st); err != nil {
		return err
	}
	return drawPlot(tr.cfg.OutDir, tr.st.History)
}

// finish saves a last checkpoint, fills the result and, for a run that was
// not interrupted, exports the model.
func (tr *trainer) finish() error {
	if err := tr.save(); err != nil {
		return err
	}
	st, res := tr.st, tr.res
	res.Steps, res.Tokens, res.History = st.Step, st.Tokens, st.History
	if n := len(st.History); n > 0 && st.History[n-1].Step > 0 {
		res.TrainLoss = st.History[n-1].Loss
	}
	if el := time.Since(tr.start).Seconds(); el > 0 {
		res.TokPerSec = float64(st.Tokens-tr.startTok) / el
	}
	if res.Interrupted {
		tr.logf("interrupted: checkpoint %s at step %d", tr.ckpt, st.Step)
		return nil
	}
	if tr.cfg.NoExport {
		return nil
	}
	return tr.export()
}

// export writes the trained model to OutDir/model with a finetune
// provenance step.
func (tr *trainer) export() error {
	cfg, st := tr.cfg, tr.st
	out := tr.net.ToModel(cfg.Model)
	out.Provenance = append(out.Provenance, model.Step{Transform: "finetune", Options: map[string]string{
		"steps": strconv.Itoa(st.Step), "tokens": strconv.FormatInt(st.Tokens, 10), "lr": fmt.Sprint(cfg.LR),
		"ctx": strconv.Itoa(cfg.Ctx), "batch": strconv.Itoa(cfg.Batch), "accum": strconv.Itoa(cfg.Accum),
		"kd_weight": fmt.Sprint(cfg.KDWeight), "kd_temp": fmt.Sprint(cfg.KDTemp), "train": cfg.Train,
		"seed": strconv.FormatUint(cfg.Seed, 10)}})
	tr.res.ModelDir = filepath.Join(cfg.OutDir, "model")
	opts := export.SafeTensorsOptions{DType: cfg.ExportDType, ForceDType: true, Context: tr.ctx}
	if err := export.SafeTensors(out, tr.res.ModelDir, opts); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	tr.logf("wrote %s", tr.res.ModelDir)
	return nil
}

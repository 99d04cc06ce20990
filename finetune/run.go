package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/retrofit-llm/retrofit/finetune/plot"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/model"
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
	MinLR       float64 // final learning rate of the cosine (default LR/10; negative: 0)
	Warmup      int     // linear warmup steps (default min(50, Steps/10); negative: none)
	WeightDecay float64 // AdamW decoupled decay on matrices (default 0; set e.g. 0.01)
	Clip        float64 // global gradient-norm clip (default 1; negative disables)
	Ctx         int     // tokens per training window (default 256)
	Batch       int     // windows per micro-batch (default 8)
	Accum       int     // micro-batches per optimizer step (default 1)
	Seed        uint64  // data order
	KDWeight    float64 // w in (1−w)·CE + w·T²·KL (0 = LM loss only)
	KDTemp      float64 // T (default 1)
	// Layer-wise distillation (needs Teacher with the same layer count):
	// LayerWeight·mean over layers and tokens of LayerLoss ("mse":
	// ‖s − t‖²/‖t‖², or "cos": 1 − cos) between each layer's output and the
	// teacher's, the weight decayed linearly to 0 over LayerAnneal steps
	// after the local stage (0: constant). LocalSteps first steps train only
	// the layers whose layout differs from the teacher's, on the layer loss
	// of those layers alone; they count in Steps.
	LayerWeight float64
	LayerLoss   string
	LayerAnneal int
	LocalSteps  int
	Train       string // "all" | "attn" | "mlp" | comma list of name patterns
	EvalEvery   int    // steps between evaluations (0: only at the start and end)
	EvalTokens  int    // cap on evaluated tokens (default 32768)
	SaveEvery   int    // steps between checkpoints (0: only at the end)
	Resume      bool   // continue from OutDir/checkpoint.bin when present
	ExportDType model.DType
	NoExport    bool // skip writing OutDir/model (benchmarks, tests)

	// WarmSteps anneals a Depth-Attention warm start's self-score bias
	// (Model.Layout.DepthSelfBias) to 0 over this many steps (SelfBias;
	// default Steps/2 when the model has one).
	WarmSteps int

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
	} else if c.MinLR < 0 {
		c.MinLR = 0
	}
	if c.Warmup == 0 {
		c.Warmup = min(50, c.Steps/10)
	} else if c.Warmup < 0 {
		c.Warmup = 0
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
	if err := c.layerDefaults(); err != nil {
		return err
	}
	if c.EvalSplit == 0 {
		c.EvalSplit = 0.02
	}
	if c.EvalTokens == 0 {
		c.EvalTokens = 32768
	}
	return c.warmDefaults()
}

// Run uptrains cfg.Model and writes checkpoints, metrics.jsonl, loss.png and
// (unless NoExport) the trained model to OutDir/model. Cancelling ctx saves
// a checkpoint and returns the result so far with Interrupted set.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	tr, err := newTrainer(cfg)
	if err != nil {
		return nil, err
	}
	defer tr.close()
	tr.ctx = ctx
	for _, prepare := range []func() error{tr.loadData, tr.loadTeacher, tr.restore, tr.warmStart, tr.evaluateStart} {
		if err := prepare(); err != nil {
			return nil, err
		}
	}
	for tr.st.Step < tr.cfg.Steps {
		if ctx.Err() != nil {
			tr.res.Interrupted = true
			break
		}
		tr.anneal(tr.st.Step + 1)
		if err := tr.step(); err != nil {
			return nil, err
		}
	}
	if err := tr.finish(); err != nil {
		return nil, err
	}
	if tr.res.Interrupted {
		return tr.res, ctx.Err()
	}
	return tr.res, nil
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

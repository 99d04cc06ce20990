package finetune

import (
	"fmt"
	"math"
	"strings"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/model"
)

// Layer-wise distillation: a loss on each layer's output hidden state
// against the teacher's, added to the LM/distillation loss with a weight
// that is annealed linearly to zero, and an optional first stage that
// trains only the layers whose layout differs from the teacher's on that
// local loss alone. The output of layer l < L−1 is the residual stream
// entering layer l+1; for the last layer it is the final-normed hidden
// state (what the head reads).

// layerKinds are the per-token losses: normalised MSE ‖s − t‖²/‖t‖², and
// cosine distance 1 − cos(s, t).
var layerKinds = []string{"mse", "cos"}

func (c *Config) layerDefaults() error {
	if c.LayerWeight < 0 || c.LocalSteps < 0 || c.LayerAnneal < 0 {
		return fmt.Errorf("finetune: layer weight %g, local steps %d and layer anneal %d must not be negative", c.LayerWeight, c.LocalSteps, c.LayerAnneal)
	}
	if c.LayerLoss == "" {
		c.LayerLoss = "mse"
	}
	ok := false
	for _, k := range layerKinds {
		ok = ok || c.LayerLoss == k
	}
	if !ok {
		return fmt.Errorf("finetune: layer loss %q: want %s", c.LayerLoss, strings.Join(layerKinds, " or "))
	}
	if (c.LayerWeight > 0 || c.LocalSteps > 0) && c.Teacher == nil {
		return fmt.Errorf("finetune: layer-wise distillation needs a teacher model")
	}
	if c.LocalSteps >= c.Steps && c.LocalSteps > 0 {
		return fmt.Errorf("finetune: local steps %d leave none of the %d steps for the end-to-end run", c.LocalSteps, c.Steps)
	}
	return nil
}

// layerWise reports whether the run needs the teacher's hidden states.
func (c *Config) layerWise() bool { return c.LayerWeight > 0 || c.LocalSteps > 0 }

// layerWeightAt is the layer loss weight at optimizer step s (0-based) of
// the end-to-end stage: LayerWeight decayed linearly to 0 over LayerAnneal
// steps after the local stage (constant when LayerAnneal is 0).
func (c *Config) layerWeightAt(s int) float64 {
	if c.LayerAnneal == 0 {
		return c.LayerWeight
	}
	p := float64(s-c.LocalSteps) / float64(c.LayerAnneal)
	return c.LayerWeight * max(0, 1-p)
}

// changedLayers returns the student's logical layers whose layout differs
// from the teacher's (K/V source, depth mixing, block, or K/V head count).
func changedLayers(s, t *model.Model) ([]int, error) {
	if s.Config.Layers != t.Config.Layers {
		return nil, fmt.Errorf("finetune: the teacher has %d layers, the student %d; layer-wise distillation pairs them one to one", t.Config.Layers, s.Config.Layers)
	}
	var out []int
	sl, tl := s.Layout, t.Layout
	for l := 0; l < s.Config.Layers; l++ {
		if sl.KVSource[l] != tl.KVSource[l] || sl.DepthMix[l] != tl.DepthMix[l] || sl.LayerMap[l] != tl.LayerMap[l] ||
			s.Config.KVHeads != t.Config.KVHeads {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("finetune: the student's layout equals the teacher's; no changed layer to train in the local stage")
	}
	return out, nil
}

// localPattern is the Train pattern of the blocks the changed layers run.
func localPattern(s *model.Model, layers []int) string {
	seen := map[int]bool{}
	var pats []string
	for _, l := range layers {
		if b := s.Layout.LayerMap[l]; !seen[b] {
			seen[b] = true
			pats = append(pats, fmt.Sprintf("model.layers.%d.", b))
		}
	}
	return strings.Join(pats, ",")
}

// teacherHidden runs the teacher on one window and copies its layer outputs
// into dst[l][off:] (layers 0..L−2 from the next layer's input, the last
// from the final-normed hidden state), alongside the logits when wanted.
func teacherHidden(t *engine.Engine, cache *engine.Cache, ids []int, dst [][]float32, off int, logits []float32) error {
	h := t.Config().Hidden
	n := len(ids)
	L := len(dst)
	opts := &engine.ForwardOptions{Hidden: dst[L-1][off : off+n*h], LayerInput: func(l int, x []float32) {
		if l > 0 {
			copy(dst[l-1][off:off+n*h], x)
		}
	}}
	if logits != nil {
		opts.Logits = logits
	} else {
		opts.LastOnly = true
	}
	cache.Reset()
	_, err := t.Forward(ids, cache, opts)
	return err
}

// layerLoss adds, for the layers in use, the loss of the student's layer
// outputs against the teacher's to the tape's hidden-state gradients (scaled
// by scale per token and layer) and returns the summed per-token loss
// averaged over the layers.
func (n *Net) layerLoss(tp *Tape, teacher [][]float32, use []bool, kind string, scale float32) float64 {
	c := n.Cfg
	L, h, N := c.Layers, c.Hidden, tp.B*tp.T
	if tp.hgrad == nil {
		tp.hgrad = make([][]float32, L)
	}
	used := 0
	for _, u := range use {
		if u {
			used++
		}
	}
	if used == 0 {
		clear(tp.hgrad)
		return 0
	}
	sc := scale / float32(used)
	var total float64
	rows := grow(tp.rowH, N)
	tp.rowH = rows
	for l := 0; l < L; l++ {
		if !use[l] {
			tp.hgrad[l] = nil
			continue
		}
		s := tp.xnf
		if l < L-1 {
			s = tp.layers[l+1].xin
		}
		if len(tp.hgrad[l]) != N*h {
			tp.hgrad[l] = make([]float32, N*h)
		}
		g, t := tp.hgrad[l], teacher[l]
		rowsParallel(N, func(i int) {
			rows[i] = hiddenLossRow(g[i*h:(i+1)*h], s[i*h:(i+1)*h], t[i*h:(i+1)*h], kind, sc)
		})
		for _, x := range rows[:N] {
			total += x
		}
	}
	return total / float64(used)
}

// hiddenLossRow returns one token's loss and writes its gradient (times sc)
// with respect to s into g.
func hiddenLossRow(g, s, t []float32, kind string, sc float32) float64 {
	var ss, tt, st float64
	for i := range s {
		a, b := float64(s[i]), float64(t[i])
		ss, tt, st = ss+a*a, tt+b*b, st+a*b
	}
	const eps = 1e-12
	if kind == "cos" {
		ns, nt := math.Sqrt(ss)+eps, math.Sqrt(tt)+eps
		cos := st / (ns * nt)
		// d(1 − cos)/ds = −t/(|s||t|) + cos·s/|s|².
		a, b := -1/(ns*nt), cos/(ns*ns)
		for i := range g {
			g[i] = sc * float32(a*float64(t[i])+b*float64(s[i]))
		}
		return 1 - cos
	}
	inv := 1 / (tt + eps)
	var d2 float64
	for i := range g {
		d := float64(s[i]) - float64(t[i])
		d2 += d * d
		g[i] = sc * float32(2*d*inv)
	}
	return d2 * inv
}

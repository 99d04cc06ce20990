package engine

import (
	"fmt"
	"sync"

	"github.com/retrofit-llm/retrofit/model"
)

// Engine runs one model under one layout. Its weights are fp32 copies made
// once by New and shared by the engines WithLayout derives. Forward calls on
// one Engine are serialized (it owns reusable scratch buffers); use
// WithLayout (or New) for another engine that runs concurrently.
type Engine struct {
	w      *weights
	cfg    model.Config
	layout model.Layout
	cands  [][]int // Depth-Attention candidates per layer

	mu sync.Mutex
	s  scratch
}

// New decodes the model's tensors to fp32 and returns an engine running the
// model's own layout. The model may be closed afterwards.
func New(m *model.Model) (*Engine, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	w, err := loadWeights(m)
	if err != nil {
		return nil, err
	}
	e := &Engine{w: w, cfg: m.Config}
	if err := e.setLayout(m.Layout.Clone()); err != nil {
		return nil, err
	}
	return e, nil
}

// WithLayout returns an engine running the same weights under layout l (for
// instance a layer that stops using its own K/V). It fails when l needs a
// block, or K/V projections of a block, that the weights do not have.
func (e *Engine) WithLayout(l model.Layout) (*Engine, error) {
	n := &Engine{w: e.w, cfg: e.cfg}
	if err := n.setLayout(l.Clone()); err != nil {
		return nil, err
	}
	return n, nil
}

func (e *Engine) setLayout(l model.Layout) error {
	c := e.cfg
	if err := l.Validate(c.Layers); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	for i := 0; i < c.Layers; i++ {
		p := l.LayerMap[i]
		if p >= len(e.w.blocks) {
			return fmt.Errorf("engine: layout: layer_map[%d] = %d, but the weights have %d blocks (no tensor %q)",
				i, p, len(e.w.blocks), model.BlockName(p, "self_attn.q_proj.weight"))
		}
		if l.StoresKV(i) && !e.w.blocks[p].hasKV {
			return fmt.Errorf("engine: layout: layer %d computes its own K/V, but block %d has no tensor %q",
				i, p, model.BlockName(p, "self_attn.k_proj.weight"))
		}
		if l.DepthMix[i] && !l.StoresKV(i) {
			return fmt.Errorf("engine: layout: depth_mix[%d] is set, but layer %d reads layer %d's K/V and has no value of its own to mix",
				i, i, l.KVSource[i])
		}
	}
	e.layout = l
	e.cands = make([][]int, c.Layers)
	for i := range e.cands {
		e.cands[i] = l.DepthCandidates(i)
	}
	return nil
}

// Config returns the model's hyper-parameters.
func (e *Engine) Config() model.Config { return e.cfg }

// Layout returns a copy of the layout the engine runs.
func (e *Engine) Layout() model.Layout { return e.layout.Clone() }

// KVBytesPerToken returns the fp16-equivalent KV-cache bytes per token of the
// engine's layout (model.KVBytesPerToken), the number papers report.
func (e *Engine) KVBytesPerToken() int64 { return model.KVBytesPerToken(e.cfg, e.layout) }

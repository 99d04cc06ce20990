package engine

import (
	"fmt"
	"strings"
	"sync"

	"github.com/retrofit-llm/retrofit/model"
)

// Engine runs one model under one layout. It computes on the model's stored
// weights (memory-mapped where the loader mapped the file; no fp32 copy),
// shared by the engines WithLayout derives. Forward calls on one Engine are
// serialized (it owns reusable scratch buffers); use WithLayout (or New) for
// another engine that runs concurrently.
type Engine struct {
	w      *weights
	cfg    model.Config
	layout model.Layout
	cands  [][]int // Depth-Attention candidates per layer
	opts   Options

	mu sync.Mutex
	s  scratch
}

// Mode selects the arithmetic of the matrix products.
type Mode int

const (
	// Exact computes in fp32 with the weights widened exactly to fp32 (BF16
	// and F16 widen without rounding), whatever their stored type: the
	// results equal those of an fp32 copy of the model.
	Exact Mode = iota
	// Fast computes the way llama.cpp does: BF16 dot products, activations
	// quantized per block to 8 bits against quantized weights.
	Fast
)

func (m Mode) String() string {
	if m == Fast {
		return "fast"
	}
	return "exact"
}

// CacheKind selects the element type of the KV cache.
type CacheKind int

const (
	// CacheDefault is F32 in exact mode and F16 in fast mode.
	CacheDefault CacheKind = iota
	CacheF32
	CacheF16
	CacheQ8_0
)

// Options choose how an engine computes. The zero value is exact mode with
// an fp32 KV cache.
type Options struct {
	Mode  Mode
	Cache CacheKind
}

// CacheType returns the element type of the engine's KV caches.
func (o Options) CacheType() model.DType {
	switch o.Cache {
	case CacheF32:
		return model.F32
	case CacheF16:
		return model.F16
	case CacheQ8_0:
		return model.Q8_0
	}
	if o.Mode == Fast {
		return model.F16
	}
	return model.F32
}

// ParseOptions reads a mode ("exact" or "fast", "" for exact) and a cache
// type ("f32", "f16", "q8_0", "" for the mode's default), as the command
// line spells them.
func ParseOptions(mode, cache string) (Options, error) {
	var o Options
	switch strings.ToLower(mode) {
	case "", "exact":
	case "fast":
		o.Mode = Fast
	default:
		return o, fmt.Errorf("engine: unknown mode %q (exact or fast)", mode)
	}
	switch strings.ToLower(cache) {
	case "":
	case "f32":
		o.Cache = CacheF32
	case "f16":
		o.Cache = CacheF16
	case "q8_0":
		o.Cache = CacheQ8_0
	default:
		return o, fmt.Errorf("engine: unknown KV cache type %q (f32, f16 or q8_0)", cache)
	}
	return o, nil
}

// New returns an exact-mode engine running the model's own layout.
func New(m *model.Model) (*Engine, error) { return NewWith(m, Options{}) }

// NewWith returns an engine running the model's own layout under opts. The
// engine reads the model's stored tensor bytes in place: the model must stay
// open (not Closed) while the engine is used.
func NewWith(m *model.Model, opts Options) (*Engine, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	w, err := loadWeights(m)
	if err != nil {
		return nil, err
	}
	e := &Engine{w: w, cfg: m.Config, opts: opts}
	if err := e.setLayout(m.Layout.Clone()); err != nil {
		return nil, err
	}
	return e, nil
}

// WithLayout returns an engine running the same weights under layout l (for
// instance a layer that stops using its own K/V). It fails when l needs a
// block, or K/V projections of a block, that the weights do not have.
func (e *Engine) WithLayout(l model.Layout) (*Engine, error) {
	n := &Engine{w: e.w, cfg: e.cfg, opts: e.opts}
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

// Options returns the options the engine was made with.
func (e *Engine) Options() Options { return e.opts }

// WeightBytes returns the stored bytes of the weight matrices the engine
// reads (what stays resident while it runs, besides the KV cache).
func (e *Engine) WeightBytes() int64 { return e.w.bytes() }

// WithOptions returns an engine running the same weights and layout under
// other options (mode, cache type).
func (e *Engine) WithOptions(o Options) *Engine {
	n := &Engine{w: e.w, cfg: e.cfg, opts: o}
	if err := n.setLayout(e.layout.Clone()); err != nil {
		panic(err) // the layout was valid for these weights
	}
	return n
}

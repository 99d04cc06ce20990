package model

import (
	"fmt"
	"math"
)

// Config holds a Qwen-style decoder's hyper-parameters.
type Config struct {
	Family         string  // "qwen2" or "qwen3"
	Architecture   string  // e.g. "Qwen3ForCausalLM"
	VocabSize      int     // rows of the embedding
	Hidden         int     // hidden_size
	Intermediate   int     // intermediate_size (MLP)
	Layers         int     // logical layers (num_hidden_layers)
	Heads          int     // query heads
	KVHeads        int     // key/value heads
	HeadDim        int     // per-head dimension
	RMSEps         float64 // rms_norm_eps
	RopeTheta      float64 // RoPE base
	RopeScaling    map[string]any
	TiedEmbeddings bool // lm_head shares model.embed_tokens.weight
	AttnBias       bool // q/k/v projections have biases (Qwen2)
	QKNorm         bool // per-head RMS norms on q and k (Qwen3)
	MaxPositions   int
	BOS, EOS, PAD  int // -1 when unset

	// Raw is the checkpoint's config.json as parsed, carried so an exporter
	// writes back the fields retrofit does not model.
	Raw map[string]any
}

// Limits bound a config's sizes before anything is allocated from them:
// far above any Qwen-style model (Qwen3-235B has 94 layers, hidden 4096,
// vocab 151936, 128K positions), far below what would exhaust memory.
const (
	MaxVocab     = 1 << 22
	MaxHidden    = 1 << 17
	MaxLayers    = 1 << 12
	MaxHeads     = 1 << 12
	MaxHeadDim   = 1 << 12
	MaxPositions = 1 << 24
)

// Validate checks that the numbers are consistent and within the Max*
// limits; token ids must be -1 (unset) or inside the vocabulary.
func (c *Config) Validate() error {
	if err := c.checkRanges(); err != nil {
		return err
	}
	switch {
	case c.Family != "qwen2" && c.Family != "qwen3":
		return fmt.Errorf("model_type %.40q: retrofit supports qwen2 and qwen3", c.Family)
	case c.VocabSize <= 0:
		return fmt.Errorf("vocab_size %d must be positive", c.VocabSize)
	case c.Hidden <= 0:
		return fmt.Errorf("hidden_size %d must be positive", c.Hidden)
	case c.Intermediate <= 0:
		return fmt.Errorf("intermediate_size %d must be positive", c.Intermediate)
	case c.Layers <= 0:
		return fmt.Errorf("num_hidden_layers %d must be positive", c.Layers)
	case c.Heads <= 0:
		return fmt.Errorf("num_attention_heads %d must be positive", c.Heads)
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("num_key_value_heads %d must divide num_attention_heads %d", c.KVHeads, c.Heads)
	case c.HeadDim <= 0 || c.HeadDim%2 != 0:
		return fmt.Errorf("head_dim %d must be positive and even", c.HeadDim)
	case c.RMSEps <= 0:
		return fmt.Errorf("rms_norm_eps %g must be positive", c.RMSEps)
	case c.RopeTheta <= 0:
		return fmt.Errorf("rope_theta %g must be positive", c.RopeTheta)
	}
	if c.RopeScaling != nil {
		kind, _ := c.RopeScaling["rope_type"].(string)
		if kind == "" {
			kind, _ = c.RopeScaling["type"].(string)
		}
		if kind != "" && kind != "default" {
			return fmt.Errorf("rope_scaling type %q is not implemented (only default RoPE)", kind)
		}
	}
	return nil
}

// checkRanges bounds every size field, so nothing is sized from a hostile value.
func (c *Config) checkRanges() error {
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"vocab_size", c.VocabSize, MaxVocab}, {"hidden_size", c.Hidden, MaxHidden},
		{"intermediate_size", c.Intermediate, 8 * MaxHidden}, {"num_hidden_layers", c.Layers, MaxLayers},
		{"num_attention_heads", c.Heads, MaxHeads}, {"num_key_value_heads", c.KVHeads, MaxHeads},
		{"head_dim", c.HeadDim, MaxHeadDim}, {"max_position_embeddings", c.MaxPositions, MaxPositions},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("%s %d is outside [0, %d]", f.name, f.v, f.max)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"bos_token_id", c.BOS}, {"eos_token_id", c.EOS}, {"pad_token_id", c.PAD}} {
		if f.v < -1 || (c.VocabSize > 0 && f.v >= c.VocabSize) {
			return fmt.Errorf("%s %d is not a token id in [0, %d)", f.name, f.v, c.VocabSize)
		}
	}
	return nil
}

// Layout is the per-layer attention layout that transforms rewrite.
// Index l is a logical layer (0 ≤ l < Config.Layers).
type Layout struct {
	// KVSource[l] is the layer whose K/V layer l attends with (≤ l; l itself by default).
	// A layer reading another's K/V has no K/V projections and stores nothing.
	KVSource []int
	// DepthMix[l] says layer l mixes values across depth (Depth-Attention).
	DepthMix []bool
	// DepthStride and DepthWindow choose Depth-Attention candidates (see docs/methods.md).
	DepthStride int
	DepthWindow int
	// DepthSelfBias is added to every mixing layer's own depth score: the
	// Depth-Attention warm start (large: the original model; annealed to 0
	// while uptraining; 0: plain Depth-Attention). Finite and ≥ 0.
	DepthSelfBias float64
	// LayerMap[l] is the physical block whose weights logical layer l runs.
	LayerMap []int
}

// DefaultLayout is the identity layout of an untransformed model with n layers.
func DefaultLayout(n int) Layout {
	l := Layout{KVSource: make([]int, n), DepthMix: make([]bool, n), LayerMap: make([]int, n)}
	for i := range n {
		l.KVSource[i] = i
		l.LayerMap[i] = i
	}
	return l
}

// Clone returns a deep copy.
func (l Layout) Clone() Layout {
	return Layout{
		KVSource:    append([]int(nil), l.KVSource...),
		DepthMix:    append([]bool(nil), l.DepthMix...),
		DepthStride: l.DepthStride,
		DepthWindow: l.DepthWindow,
		LayerMap:    append([]int(nil), l.LayerMap...),

		DepthSelfBias: l.DepthSelfBias,
	}
}

// IsDefault reports whether the layout is the identity (a stock model).
func (l Layout) IsDefault() bool {
	for i, s := range l.KVSource {
		if s != i {
			return false
		}
	}
	for _, d := range l.DepthMix {
		if d {
			return false
		}
	}
	for i, p := range l.LayerMap {
		if p != i {
			return false
		}
	}
	return true
}

// Blocks returns the number of physical blocks (max LayerMap + 1).
func (l Layout) Blocks() int {
	n := 0
	for _, p := range l.LayerMap {
		n = max(n, p+1)
	}
	return n
}

// StoresKV reports whether logical layer i computes and caches its own K/V.
func (l Layout) StoresKV(i int) bool { return l.KVSource[i] == i }

// KVLayers returns the number of layers that store K/V in the cache.
func (l Layout) KVLayers() int {
	n := 0
	for i := range l.KVSource {
		if l.StoresKV(i) {
			n++
		}
	}
	return n
}

// BlockHasKV reports whether physical block p needs K/V projections: some
// logical layer running p computes its own K/V.
func (l Layout) BlockHasKV(p int) bool {
	for i, b := range l.LayerMap {
		if b == p && l.StoresKV(i) {
			return true
		}
	}
	return false
}

// DepthCandidates returns the layers whose key and stored value enter layer
// l's depth softmax besides its own (empty unless DepthMix[l]), in increasing
// order; see docs/methods.md. A candidate j of C(l) = {j < l : j mod stride
// = 0} ∪ {j : l − window ≤ j < l} stands for the K/V it reads, KVSource[j],
// and the result is the set C'(l) = {KVSource[j] : j ∈ C(l)}: a layer whose
// K/V several candidates read enters once. Every entry stores K/V.
func (l Layout) DepthCandidates(layer int) []int {
	if layer >= len(l.DepthMix) || !l.DepthMix[layer] {
		return nil
	}
	in := make([]bool, layer)
	for j := 0; j < layer; j++ {
		if (l.DepthStride > 0 && j%l.DepthStride == 0) || (l.DepthWindow > 0 && j >= layer-l.DepthWindow) {
			in[l.KVSource[j]] = true
		}
	}
	var c []int
	for j, ok := range in {
		if ok {
			c = append(c, j)
		}
	}
	return c
}

// Validate checks the layout against n logical layers.
func (l Layout) Validate(n int) error {
	if len(l.KVSource) != n || len(l.DepthMix) != n || len(l.LayerMap) != n {
		return fmt.Errorf("layout: kv_source/depth_mix/layer_map have %d/%d/%d entries for %d layers",
			len(l.KVSource), len(l.DepthMix), len(l.LayerMap), n)
	}
	for i, s := range l.KVSource {
		if s < 0 || s > i {
			return fmt.Errorf("layout: kv_source[%d] = %d must be in [0, %d]", i, s, i)
		}
		if !l.StoresKV(s) {
			return fmt.Errorf("layout: kv_source[%d] = %d, but layer %d stores no K/V of its own (reads %d)", i, s, s, l.KVSource[s])
		}
	}
	seen := make([]bool, n)
	for i, p := range l.LayerMap {
		if p < 0 || p >= n {
			return fmt.Errorf("layout: layer_map[%d] = %d outside [0, %d)", i, p, n)
		}
		seen[p] = true
	}
	for p := 0; p < l.Blocks(); p++ {
		if !seen[p] {
			return fmt.Errorf("layout: physical block %d is run by no layer", p)
		}
	}
	if l.DepthStride < 0 || l.DepthWindow < 0 {
		return fmt.Errorf("layout: depth_stride %d and depth_window %d must not be negative", l.DepthStride, l.DepthWindow)
	}
	mixes := false
	for i, d := range l.DepthMix {
		if d && i > 0 && l.DepthStride == 0 && l.DepthWindow == 0 {
			return fmt.Errorf("layout: depth_mix[%d] set but depth_stride and depth_window are both 0", i)
		}
		mixes = mixes || d
	}
	if b := l.DepthSelfBias; math.IsNaN(b) || math.IsInf(b, 0) || b < 0 || b > MaxDepthSelfBias {
		return fmt.Errorf("layout: depth_self_bias %g: want a number in [0, %g]", b, float64(MaxDepthSelfBias))
	}
	if l.DepthSelfBias != 0 && !mixes {
		return fmt.Errorf("layout: depth_self_bias %g set but no layer mixes (depth_mix all false)", l.DepthSelfBias)
	}
	return nil
}

// MaxDepthSelfBias bounds Layout.DepthSelfBias: far beyond the point (about
// 104 plus the spread of the depth scores) where fp32's exp underflows and
// the own value is taken exactly.
const MaxDepthSelfBias = 1e4

// KVBytesPerToken returns the KV-cache bytes per token with an fp16 cache:
// 2 (K and V) · layers storing K/V · KV heads · head dim · 2 bytes.
func KVBytesPerToken(c Config, l Layout) int64 {
	return int64(2 * l.KVLayers() * c.KVHeads * c.HeadDim * 2)
}

// Step records one transform applied to the model, for provenance.
type Step struct {
	Transform string            `json:"transform"`
	Options   map[string]string `json:"options,omitempty"`
}

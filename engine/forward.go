package engine

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/model"
)

// chunkTokens is the most tokens a prefill pushes through the layers at once;
// longer inputs run in chunks so scratch memory stays bounded.
const chunkTokens = 512

// ForwardOptions tune one Forward call. The zero value returns every row of
// logits.
type ForwardOptions struct {
	// LastOnly returns only the last token's logits (the decode case).
	LastOnly bool
	// LogitsFrom returns only the logits of tokens LogitsFrom.. of this call
	// (ignored when LastOnly is set).
	LogitsFrom int
	// OnLogits, if set, receives the logits instead of the return value
	// (Forward returns nil): it is called with consecutive blocks of rows,
	// row0 being the index in ids of the block's first row, and
	// logits [rows × vocab] scratch valid during the call. Scoring long
	// inputs against a large vocabulary this way keeps memory bounded.
	OnLogits func(row0 int, logits []float32)
	// Logits, when large enough, receives the logits instead of a new slice
	// (generation reuses one buffer per token).
	Logits []float32
	// Hidden, if non-nil, receives the final normed hidden states of every
	// token of this call, [len(ids) × hidden].
	Hidden []float32
	// CaptureKV, if non-nil, is called once per layer that stores K/V, after
	// the whole call, with that layer's cached keys (after k_norm and RoPE)
	// and stored values (after Depth-Attention mixing) of this call's tokens,
	// each [len(ids) × KVHeads·HeadDim]. The slices alias the cache.
	CaptureKV func(layer int, k, v []float32)
	// LayerInput, if non-nil, is called before each layer runs with the
	// residual stream entering it, [tokens of the chunk × hidden] (one chunk
	// holds up to 512 tokens). The slice is scratch: copy what you keep.
	LayerInput func(layer int, x []float32)
	// AttnOutput, if non-nil, is called in each layer with the attention
	// output before o_proj, [tokens of the chunk × Heads·HeadDim] (scratch:
	// copy what you keep). init=align fits o_proj on it.
	AttnOutput func(layer int, y []float32)
	// Resume starts the call at a later layer instead of the embeddings.
	Resume *Resume
}

// Resume restarts a forward pass part-way through the network: a search that
// changes only layers ≥ Layer (the KVSharer calibration) reuses the unchanged
// prefix of a previous run instead of recomputing it.
type Resume struct {
	// Layer is the first layer to run.
	Layer int
	// Input is the residual stream entering Layer, [tokens × hidden], as
	// LayerInput reported it.
	Input []float32
	// Cache holds the earlier run's K/V of exactly these tokens; layers
	// below Layer must store K/V the same way in both layouts, and their
	// entries are copied from it.
	Cache *Cache
}

// scratch holds buffers reused across Forward calls.
type scratch struct {
	x, xn, q, k, v, attn, g, u []float32
	cos, sin                   []float32
	mix                        []float32
	mixK, mixV, mixKB, mixVB   [][]float32 // Depth-Attention rows by layer
	kw, vw                     []float32   // keys and values widened from a non-F32 cache
	logits                     []float32   // a block of rows for OnLogits
	workers                    [][]float32
	job                        attnJob
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Forward appends ids to the cache at positions cache.Len().. and returns
// their logits, [rows × vocab] row-major, where rows is len(ids), or 1 with
// LastOnly, or len(ids)-LogitsFrom.
func (e *Engine) Forward(ids []int, cache *Cache, opts *ForwardOptions) ([]float32, error) {
	if opts == nil {
		opts = &ForwardOptions{}
	}
	c := e.cfg
	n := len(ids)
	if n == 0 {
		return nil, fmt.Errorf("engine: Forward: no tokens")
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("engine: Forward: token %d (index %d) outside the vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	if err := e.checkCache(cache); err != nil {
		return nil, err
	}
	from := opts.LogitsFrom
	if opts.LastOnly {
		from = n - 1
	}
	if from < 0 || from >= n {
		return nil, fmt.Errorf("engine: Forward: LogitsFrom %d outside [0, %d)", from, n)
	}
	if opts.Hidden != nil && len(opts.Hidden) < n*c.Hidden {
		return nil, fmt.Errorf("engine: Forward: Hidden holds %d values, %d tokens need %d", len(opts.Hidden), n, n*c.Hidden)
	}
	start := cache.n
	if err := cache.ensure(start + n); err != nil {
		return nil, err
	}
	first := 0
	if r := opts.Resume; r != nil {
		if err := e.resume(r, cache, n); err != nil {
			return nil, err
		}
		first = r.Layer
	}
	logits := opts.Logits
	if need := (n - from) * c.VocabSize; opts.OnLogits != nil {
		logits = nil
	} else if cap(logits) >= need {
		logits = logits[:need]
	} else {
		logits = make([]float32, need)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	for c0 := 0; c0 < n; c0 += chunkTokens {
		c1 := min(c0+chunkTokens, n)
		e.chunk(ids[c0:c1], cache, start+c0, c0, from, logits, first, opts)
		cache.n = start + c1
	}
	if opts.CaptureKV != nil {
		for l, st := range cache.stores {
			if st {
				k, v, _, _ := cache.rows(l, start, start+n, nil, nil)
				opts.CaptureKV(l, k, v)
			}
		}
	}
	return logits, nil
}

// resume checks r and copies the K/V of the layers below r.Layer from
// r.Cache into the (empty) cache.
func (e *Engine) resume(r *Resume, cache *Cache, n int) error {
	c := e.cfg
	switch {
	case r.Layer < 0 || r.Layer >= c.Layers:
		return fmt.Errorf("engine: Forward: Resume.Layer %d outside [0, %d)", r.Layer, c.Layers)
	case cache.n != 0:
		return fmt.Errorf("engine: Forward: Resume needs an empty cache, this one holds %d tokens", cache.n)
	case n > chunkTokens:
		return fmt.Errorf("engine: Forward: Resume takes at most %d tokens, got %d", chunkTokens, n)
	case len(r.Input) != n*c.Hidden:
		return fmt.Errorf("engine: Forward: Resume.Input holds %d values, %d tokens need %d", len(r.Input), n, n*c.Hidden)
	case r.Cache == nil || r.Cache.n != n || r.Cache.kvd != cache.kvd || len(r.Cache.stores) != len(cache.stores) || r.Cache.typ != cache.typ:
		return fmt.Errorf("engine: Forward: Resume.Cache must hold the same %d tokens of this model, in a cache of the same type", n)
	}
	for l := 0; l < r.Layer; l++ {
		if r.Cache.stores[l] != cache.stores[l] {
			return fmt.Errorf("engine: Forward: Resume at layer %d, but layer %d stores K/V differently in the two layouts", r.Layer, l)
		}
	}
	cache.copyPrefix(r.Cache, r.Layer, n)
	return nil
}

func (e *Engine) checkCache(cache *Cache) error {
	if cache == nil {
		return fmt.Errorf("engine: Forward: nil cache")
	}
	if len(cache.stores) != e.cfg.Layers || cache.kvd != e.cfg.KVHeads*e.cfg.HeadDim {
		return fmt.Errorf("engine: Forward: the cache was made for another model")
	}
	for l, st := range cache.stores {
		if st != e.layout.StoresKV(l) {
			return fmt.Errorf("engine: Forward: the cache was made for another layout (layer %d)", l)
		}
	}
	return nil
}

// chunk runs tokens at positions pos0.. (index off.. of the Forward call)
// through every layer, then writes the logits of rows ≥ from and the hidden
// states.
func (e *Engine) chunk(ids []int, cache *Cache, pos0, off, from int, logits []float32, first int, opts *ForwardOptions) {
	hidden := opts.Hidden
	c := e.cfg
	n, h := len(ids), c.Hidden
	s := &e.s
	s.x = growF(s.x, n*h)
	s.xn = growF(s.xn, n*h)
	half := c.HeadDim / 2
	s.cos = growF(s.cos, n*half)
	s.sin = growF(s.sin, n*half)
	numerics.RopeTable(s.cos, s.sin, pos0, n, c.HeadDim, c.RopeTheta)
	if first > 0 {
		copy(s.x[:n*h], opts.Resume.Input)
	} else {
		for i, id := range ids {
			e.w.embed.widen(s.x[i*h:(i+1)*h], id, id+1)
		}
	}
	for l := first; l < c.Layers; l++ {
		if opts.LayerInput != nil {
			opts.LayerInput(l, s.x[:n*h])
		}
		e.layer(l, n, pos0, cache, opts.AttnOutput)
	}
	eps := float32(c.RMSEps)
	for i := 0; i < n; i++ {
		numerics.RMSNorm(s.xn[i*h:(i+1)*h], s.x[i*h:(i+1)*h], e.w.finalNorm, eps)
	}
	if hidden != nil {
		copy(hidden[off*h:(off+n)*h], s.xn)
	}
	r0 := max(from-off, 0)
	if r0 < n {
		v := c.VocabSize
		if opts.OnLogits == nil {
			e.matmul(logits[(off+r0-from)*v:], s.xn[r0*h:], n-r0, e.w.head, false)
			return
		}
		// Blocks of at most ~64 MB of logits.
		rows := max(1, (64<<20)/(4*v))
		for b0 := r0; b0 < n; b0 += rows {
			b1 := min(b0+rows, n)
			s.logits = growF(s.logits, (b1-b0)*v)
			e.matmul(s.logits, s.xn[b0*h:], b1-b0, e.w.head, false)
			opts.OnLogits(off+b0, s.logits)
		}
	}
}

// layer runs logical layer l on the n tokens in e.s.x (positions pos0..);
// attnOut, if non-nil, sees the attention output before o_proj.
func (e *Engine) layer(l, n, pos0 int, cache *Cache, attnOut func(int, []float32)) {
	c := e.cfg
	s := &e.s
	b := e.w.blocks[e.layout.LayerMap[l]]
	h, d := c.Hidden, c.HeadDim
	qd, kvd := c.Heads*d, c.KVHeads*d
	eps := float32(c.RMSEps)
	stores := e.layout.StoresKV(l)

	for i := 0; i < n; i++ {
		numerics.RMSNorm(s.xn[i*h:(i+1)*h], s.x[i*h:(i+1)*h], b.attnNorm, eps)
	}
	s.q = growF(s.q, n*qd)
	e.matmul(s.q, s.xn, n, b.wq, false)
	if stores {
		s.k = growF(s.k, n*kvd)
		s.v = growF(s.v, n*kvd)
		e.matmul(s.k, s.xn, n, b.wk, false)
		e.matmul(s.v, s.xn, n, b.wv, false)
	}
	half := d / 2
	for i := 0; i < n; i++ {
		q := s.q[i*qd : (i+1)*qd]
		addBias(q, b.bq)
		cs, sn := s.cos[i*half:(i+1)*half], s.sin[i*half:(i+1)*half]
		for hd := 0; hd < c.Heads; hd++ {
			qh := q[hd*d : (hd+1)*d]
			if b.qNorm != nil {
				numerics.RMSNorm(qh, qh, b.qNorm, eps)
			}
			numerics.Rope(qh, cs, sn)
		}
		if stores {
			kc, vc := s.k[i*kvd:(i+1)*kvd], s.v[i*kvd:(i+1)*kvd]
			addBias(kc, b.bk)
			addBias(vc, b.bv)
			for g := 0; g < c.KVHeads; g++ {
				k := kc[g*d : (g+1)*d]
				if b.kNorm != nil {
					numerics.RMSNorm(k, k, b.kNorm, eps)
				}
				numerics.Rope(k, cs, sn)
			}
			cache.put(l, pos0+i, kc, vc)
		}
	}
	if len(e.cands[l]) > 0 {
		e.depthMix(l, n, pos0, cache)
	}

	src := e.layout.KVSource[l]
	s.attn = growF(s.attn, n*qd)
	e.attend(cache, src, n, pos0)
	if attnOut != nil {
		attnOut(l, s.attn[:n*qd])
	}
	e.matmul(s.x, s.attn, n, b.wo, true)

	for i := 0; i < n; i++ {
		numerics.RMSNorm(s.xn[i*h:(i+1)*h], s.x[i*h:(i+1)*h], b.mlpNorm, eps)
	}
	im := c.Intermediate
	s.g = growF(s.g, n*im)
	s.u = growF(s.u, n*im)
	e.matmul(s.g, s.xn, n, b.wgate, false)
	e.matmul(s.u, s.xn, n, b.wup, false)
	numerics.SiLUMul(s.g, s.g, s.u)
	e.matmul(s.x, s.g, n, b.wdown, true)
}

// addBias adds b to x (nothing when b is nil).
func addBias(x, b []float32) {
	for j, v := range b {
		x[j] += v
	}
}

// depthMix replaces layer l's cached values at positions pos0..pos0+n-1 by
// their Depth-Attention mix over the candidate set e.cands[l] (layers that
// store K/V, each once; docs/methods.md), the own score raised by the warm
// start's DepthSelfBias. Keys are compared after RoPE: at one position the
// rotation cancels.
func (e *Engine) depthMix(l, n, pos0 int, cache *Cache) {
	c := e.cfg
	d, kvd := c.HeadDim, c.KVHeads*c.HeadDim
	grp := c.Heads / c.KVHeads
	s := &e.s
	nc := len(e.cands[l]) + 1
	s.mix = growF(s.mix, 2*d+nc)
	qbar, acc, alpha := s.mix[:d], s.mix[d:2*d], s.mix[2*d:]
	scale := numerics.ScoreScale(d)
	ks, vs := e.mixRows(cache, l, pos0, n)
	dm := numerics.Depth{Cands: e.cands[l], K: ks, V: vs, SelfBias: float32(e.layout.DepthSelfBias)}
	for i := 0; i < n; i++ {
		for g := 0; g < c.KVHeads; g++ {
			numerics.GroupMean(qbar, s.q[i*c.Heads*d:], g, grp, d)
			dm.Off = i*kvd + g*d
			dm.Key, dm.Value = ks[l][dm.Off:dm.Off+d], vs[l][dm.Off:dm.Off+d]
			dm.Mix(acc, alpha, qbar, scale)
			copy(dm.Value, acc)
		}
	}
	if cache.typ != model.F32 { // store the mixed values
		for i := 0; i < n; i++ {
			cache.putV(l, pos0+i, vs[l][i*kvd:(i+1)*kvd])
		}
	}
}

// mixRows returns, for layer l and its Depth-Attention candidates, the keys
// and values of positions [pos0, pos0+n) as fp32 [n × kvd] by layer: views
// of an F32 cache, widened copies of another.
func (e *Engine) mixRows(cache *Cache, l, pos0, n int) (ks, vs [][]float32) {
	s := &e.s
	L := e.cfg.Layers
	if len(s.mixK) < L {
		s.mixK, s.mixV = make([][]float32, L), make([][]float32, L)
		s.mixKB, s.mixVB = make([][]float32, L), make([][]float32, L)
	}
	for i := 0; i <= len(e.cands[l]); i++ {
		x := l
		if i < len(e.cands[l]) {
			x = e.cands[l][i]
		}
		s.mixK[x], s.mixV[x], s.mixKB[x], s.mixVB[x] = cache.rows(x, pos0, pos0+n, s.mixKB[x], s.mixVB[x])
	}
	return s.mixK, s.mixV
}

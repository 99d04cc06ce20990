package engine

import "fmt"

// Cache is the fp32 KV cache of one sequence, laid out per the engine's
// layout: only layers that compute their own K/V (KVSource[l] == l) store
// keys and values. Rows are position-major: position t of a storing layer
// holds KVHeads·HeadDim keys (after k_norm and RoPE) and as many values
// (after Depth-Attention mixing where the layer mixes).
type Cache struct {
	max    int
	n      int
	kvd    int
	k, v   [][]float32 // by logical layer; nil for layers that store nothing
	stored int
}

// NewCache returns an empty cache for up to maxTokens positions. Storage
// grows on demand (doubling), so a large maxTokens costs nothing up front.
func (e *Engine) NewCache(maxTokens int) *Cache {
	c := &Cache{max: maxTokens, kvd: e.cfg.KVHeads * e.cfg.HeadDim,
		k: make([][]float32, e.cfg.Layers), v: make([][]float32, e.cfg.Layers)}
	for l := range c.k {
		if e.layout.StoresKV(l) {
			c.k[l] = []float32{}
			c.v[l] = []float32{}
			c.stored++
		}
	}
	return c
}

// Len returns the number of cached positions.
func (c *Cache) Len() int { return c.n }

// Cap returns the maximum number of positions.
func (c *Cache) Cap() int { return c.max }

// Bytes returns the bytes the cached positions occupy (fp32):
// storing layers × 2 × KV heads × head dim × 4 × Len.
func (c *Cache) Bytes() int64 { return int64(c.stored) * 2 * int64(c.kvd) * 4 * int64(c.n) }

// Reset empties the cache, keeping its storage.
func (c *Cache) Reset() { c.n = 0 }

// Truncate drops every position from n on.
func (c *Cache) Truncate(n int) {
	if n >= 0 && n < c.n {
		c.n = n
	}
}

// ensure makes room for n positions in total.
func (c *Cache) ensure(n int) error {
	if n > c.max {
		return fmt.Errorf("engine: cache holds at most %d tokens, %d requested", c.max, n)
	}
	for l := range c.k {
		if c.k[l] == nil || len(c.k[l]) >= n*c.kvd {
			continue
		}
		size := min(max(n, 2*len(c.k[l])/c.kvd, 64), c.max) * c.kvd
		k, v := make([]float32, size), make([]float32, size)
		copy(k, c.k[l][:c.n*c.kvd])
		copy(v, c.v[l][:c.n*c.kvd])
		c.k[l], c.v[l] = k, v
	}
	return nil
}

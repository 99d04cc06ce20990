package engine

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/quant"
)

// Cache is the KV cache of one sequence, laid out per the engine's layout:
// only layers that compute their own K/V (KVSource[l] == l) store keys and
// values. Rows are position-major: position t of a storing layer holds
// KVHeads·HeadDim keys (after k_norm and RoPE) and as many values (after
// Depth-Attention mixing where the layer mixes). Entries are stored as F32
// (exact mode's default), F16 (fast mode's default, what llama.cpp keeps) or
// Q8_0 (blocks of 32 with an f16 scale, llama.cpp's rounding).
type Cache struct {
	typ    model.DType
	max    int
	n      int
	kvd    int
	k, v   [][]float32 // F32 storage by logical layer; nil for layers that store nothing
	kh, vh [][]uint16  // F16 storage
	kq, vq [][]byte    // Q8_0 storage, kvd/32 blocks per position
	stores []bool
	stored int
}

// NewCache returns an empty cache of the engine's cache type for up to
// maxTokens positions. Storage grows on demand (doubling), so a large
// maxTokens costs nothing up front.
func (e *Engine) NewCache(maxTokens int) *Cache {
	L := e.cfg.Layers
	c := &Cache{typ: e.opts.CacheType(), max: maxTokens, kvd: e.cfg.KVHeads * e.cfg.HeadDim, stores: make([]bool, L)}
	switch c.typ {
	case model.F16:
		c.kh, c.vh = make([][]uint16, L), make([][]uint16, L)
	case model.Q8_0:
		c.kq, c.vq = make([][]byte, L), make([][]byte, L)
	default:
		c.k, c.v = make([][]float32, L), make([][]float32, L)
	}
	for l := range c.stores {
		if e.layout.StoresKV(l) {
			c.stores[l] = true
			c.stored++
			switch c.typ {
			case model.F16:
				c.kh[l], c.vh[l] = []uint16{}, []uint16{}
			case model.Q8_0:
				c.kq[l], c.vq[l] = []byte{}, []byte{}
			default:
				c.k[l], c.v[l] = []float32{}, []float32{}
			}
		}
	}
	return c
}

// Type returns the element type of the cached keys and values.
func (c *Cache) Type() model.DType { return c.typ }

// Len returns the number of cached positions.
func (c *Cache) Len() int { return c.n }

// Cap returns the maximum number of positions.
func (c *Cache) Cap() int { return c.max }

// Bytes returns the bytes the cached positions occupy: storing layers × 2 ×
// the stored size of KV heads × head dim values × Len.
func (c *Cache) Bytes() int64 {
	row, _ := c.typ.ByteSize(int64(c.kvd))
	return int64(c.stored) * 2 * row * int64(c.n)
}

// Reset empties the cache, keeping its storage.
func (c *Cache) Reset() { c.n = 0 }

// Truncate drops every position from n on.
func (c *Cache) Truncate(n int) {
	if n >= 0 && n < c.n {
		c.n = n
	}
}

// rowBytes is the stored size of one position of one layer's keys.
func (c *Cache) rowBytes() int { return c.kvd / 32 * quant.BlockQ8_0 }

// ensure makes room for n positions in total.
func (c *Cache) ensure(n int) error {
	if n > c.max {
		return fmt.Errorf("engine: cache holds at most %d tokens, %d requested", c.max, n)
	}
	for l, s := range c.stores {
		if !s || c.capacity(l) >= n {
			continue
		}
		size := min(max(n, 2*c.capacity(l), 64), c.max)
		switch c.typ {
		case model.F16:
			c.kh[l], c.vh[l] = grow(c.kh[l], size*c.kvd, c.n*c.kvd), grow(c.vh[l], size*c.kvd, c.n*c.kvd)
		case model.Q8_0:
			rb := c.rowBytes()
			c.kq[l], c.vq[l] = grow(c.kq[l], size*rb, c.n*rb), grow(c.vq[l], size*rb, c.n*rb)
		default:
			c.k[l], c.v[l] = grow(c.k[l], size*c.kvd, c.n*c.kvd), grow(c.v[l], size*c.kvd, c.n*c.kvd)
		}
	}
	return nil
}

// capacity returns the positions layer l's storage holds.
func (c *Cache) capacity(l int) int {
	switch c.typ {
	case model.F16:
		return len(c.kh[l]) / c.kvd
	case model.Q8_0:
		return len(c.kq[l]) / c.rowBytes()
	}
	return len(c.k[l]) / c.kvd
}

func grow[T any](s []T, size, keep int) []T {
	out := make([]T, size)
	copy(out, s[:keep])
	return out
}

// put stores keys and values [kvd] at position t of layer l.
func (c *Cache) put(l, t int, k, v []float32) {
	d := c.kvd
	switch c.typ {
	case model.F16:
		toF16(c.kh[l][t*d:(t+1)*d], k)
		toF16(c.vh[l][t*d:(t+1)*d], v)
	case model.Q8_0:
		rb := c.rowBytes()
		quant.QuantizeQ8_0Into(c.kq[l][t*rb:(t+1)*rb], k[:d])
		quant.QuantizeQ8_0Into(c.vq[l][t*rb:(t+1)*rb], v[:d])
	default:
		copy(c.k[l][t*d:(t+1)*d], k)
		copy(c.v[l][t*d:(t+1)*d], v)
	}
}

// putV overwrites the values at position t of layer l.
func (c *Cache) putV(l, t int, v []float32) {
	d := c.kvd
	switch c.typ {
	case model.F16:
		toF16(c.vh[l][t*d:(t+1)*d], v)
	case model.Q8_0:
		rb := c.rowBytes()
		quant.QuantizeQ8_0Into(c.vq[l][t*rb:(t+1)*rb], v[:d])
	default:
		copy(c.v[l][t*d:(t+1)*d], v)
	}
}

// rows returns the keys and values of positions [t0, t1) of layer l as fp32
// [(t1-t0) × kvd]: the storage itself for an F32 cache, else widened into
// kbuf and vbuf (grown as needed; the grown buffers are returned too).
func (c *Cache) rows(l, t0, t1 int, kbuf, vbuf []float32) (k, v, kb, vb []float32) {
	d := c.kvd
	if c.typ == model.F32 {
		return c.k[l][t0*d : t1*d], c.v[l][t0*d : t1*d], kbuf, vbuf
	}
	n := (t1 - t0) * d
	kb, vb = growF(kbuf, n), growF(vbuf, n)
	switch c.typ {
	case model.F16:
		fromF16(kb, c.kh[l][t0*d:t1*d])
		fromF16(vb, c.vh[l][t0*d:t1*d])
	case model.Q8_0:
		rb := c.rowBytes()
		quant.DequantizeQ8_0(kb, c.kq[l][t0*rb:t1*rb])
		quant.DequantizeQ8_0(vb, c.vq[l][t0*rb:t1*rb])
	}
	return kb, vb, kb, vb
}

// copyPrefix copies positions [0, n) of every storing layer below layer
// from src, a cache of the same type.
func (c *Cache) copyPrefix(src *Cache, layer, n int) {
	d, rb := c.kvd, c.rowBytes()
	for l := 0; l < layer; l++ {
		if !c.stores[l] {
			continue
		}
		switch c.typ {
		case model.F16:
			copy(c.kh[l][:n*d], src.kh[l][:n*d])
			copy(c.vh[l][:n*d], src.vh[l][:n*d])
		case model.Q8_0:
			copy(c.kq[l][:n*rb], src.kq[l][:n*rb])
			copy(c.vq[l][:n*rb], src.vq[l][:n*rb])
		default:
			copy(c.k[l][:n*d], src.k[l][:n*d])
			copy(c.v[l][:n*d], src.v[l][:n*d])
		}
	}
}

package tokenizer

import (
	"hash/maphash"
	"math"
	"strings"
	"sync/atomic"
)

const noRank = math.MaxUint32

// bpe is the merge table: pair of ids → rank and merged id.
type bpe struct {
	merges pairTable  // a<<32|b → rank<<32|merged
	byteID [256]int32 // id of each byte's one-character token, -1 if absent
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// lookup returns the rank and merged id of the pair (a, b), or noRank.
func (m *bpe) lookup(a, b int32) (uint32, int32) {
	v, ok := m.merges.get(pairKey(a, b))
	if !ok {
		return noRank, -1
	}
	return uint32(v >> 32), int32(uint32(v))
}

// scratch holds buffers reused across the words of one Encode call.
type scratch struct {
	out   []int32
	syms  []int32
	ranks []uint32
	news  []int32
	heap  mergeHeap
	next  []int32
	prev  []int32
}

// linearMax is the longest word merged by rescanning pair ranks; longer words
// use a heap so that huge inputs stay O(n log n).
const linearMax = 256

// merge appends the ids of piece (raw bytes) after BPE to dst.
func (m *bpe) merge(dst []int32, piece string, sc *scratch) []int32 {
	syms := sc.syms[:0]
	for i := 0; i < len(piece); i++ {
		if id := m.byteID[piece[i]]; id >= 0 {
			syms = append(syms, id)
		}
	}
	sc.syms = syms
	if len(syms) > linearMax {
		return m.mergeHeap(dst, sc)
	}
	if len(syms) < 2 {
		return append(dst, syms...)
	}
	ranks, news := sc.ranks[:0], sc.news[:0]
	for i := 0; i+1 < len(syms); i++ {
		r, n := m.lookup(syms[i], syms[i+1])
		ranks = append(ranks, r)
		news = append(news, n)
	}
	for {
		best, k := uint32(noRank), -1
		for i, r := range ranks {
			if r < best {
				best, k = r, i
			}
		}
		if k < 0 {
			break
		}
		syms[k] = news[k]
		syms = append(syms[:k+1], syms[k+2:]...)
		ranks = append(ranks[:k], ranks[k+1:]...)
		news = append(news[:k], news[k+1:]...)
		if k > 0 {
			ranks[k-1], news[k-1] = m.lookup(syms[k-1], syms[k])
		}
		if k < len(ranks) {
			ranks[k], news[k] = m.lookup(syms[k], syms[k+1])
		}
	}
	sc.ranks, sc.news = ranks, news
	return append(dst, syms...)
}

type mergeItem struct {
	rank uint32
	pos  int32 // index of the left symbol
	id   int32 // merged id
}

// mergeHeap is a binary min-heap of merges (typed, so pushes don't box).
type mergeHeap []mergeItem

func (h mergeHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h mergeHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *mergeHeap) push(x mergeItem) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	s := *h
	x := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	(*h).down(0)
	return x
}

// mergeHeap merges sc.syms with a priority queue over a linked list of
// symbols: lowest rank first, leftmost first among equal ranks (as HF does).
func (m *bpe) mergeHeap(dst []int32, sc *scratch) []int32 {
	syms := sc.syms
	n := len(syms)
	next, prev := sc.next[:0], sc.prev[:0]
	for i := 0; i < n; i++ {
		next = append(next, int32(i+1))
		prev = append(prev, int32(i-1))
	}
	next[n-1] = -1
	h := sc.heap[:0]
	for i := 0; i+1 < n; i++ {
		if r, id := m.lookup(syms[i], syms[i+1]); r != noRank {
			h = append(h, mergeItem{r, int32(i), id})
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	alive := func(i int32) bool { return i >= 0 && syms[i] >= 0 }
	for len(h) > 0 {
		it := h.pop()
		a := it.pos
		if !alive(a) || next[a] < 0 {
			continue
		}
		b := next[a]
		if r, id := m.lookup(syms[a], syms[b]); r != it.rank || id != it.id {
			continue
		}
		syms[a] = it.id
		syms[b] = -1
		next[a] = next[b]
		if next[b] >= 0 {
			prev[next[b]] = a
		}
		if p := prev[a]; p >= 0 {
			if r, id := m.lookup(syms[p], syms[a]); r != noRank {
				h.push(mergeItem{r, p, id})
			}
		}
		if q := next[a]; q >= 0 {
			if r, id := m.lookup(syms[a], syms[q]); r != noRank {
				h.push(mergeItem{r, a, id})
			}
		}
	}
	sc.heap, sc.next, sc.prev = h, next, prev
	for i := int32(0); i >= 0; i = next[i] {
		dst = append(dst, syms[i])
	}
	return dst
}

// wordCache maps a pre-tokenized piece (raw bytes) to its ids: a 2-way
// set-associative table of immutable entries read and written atomically, so
// it is safe for concurrent use without locks and bounded in size. A new word
// evicts one of the two in its set.
type wordCache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	key string
	ids []int32
}

const (
	cacheSlots      = 1 << 17
	cacheMaxWordLen = 64
)

func newWordCache() *wordCache {
	return &wordCache{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[cacheEntry], cacheSlots)}
}

// set returns the two slots of k and a hash bit to pick a victim.
func (c *wordCache) set(k string) (*atomic.Pointer[cacheEntry], *atomic.Pointer[cacheEntry], bool) {
	h := maphash.String(c.seed, k)
	i := h & (cacheSlots - 2)
	return &c.slots[i], &c.slots[i+1], h>>63 == 1
}

func (c *wordCache) get(k string) ([]int32, bool) {
	a, b, _ := c.set(k)
	if e := a.Load(); e != nil && e.key == k {
		return e.ids, true
	}
	if e := b.Load(); e != nil && e.key == k {
		return e.ids, true
	}
	return nil, false
}

func (c *wordCache) put(k string, v []int32) {
	if len(k) > cacheMaxWordLen {
		return
	}
	e := &cacheEntry{key: strings.Clone(k), ids: append([]int32(nil), v...)}
	a, b, second := c.set(k)
	switch {
	case a.Load() == nil:
		a.Store(e)
	case b.Load() == nil || second:
		b.Store(e)
	default:
		a.Store(e)
	}
}

package engine

import (
	"runtime"
	"sync/atomic"

	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/kernels"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/sgemm"
)

// queryBlock is the number of query rows one prefill attention task handles:
// the block attends to the keys up to its last row only, so the causal
// upper triangle is mostly skipped.
const queryBlock = 64

// attnJob describes causal GQA attention of n queries at positions pos0..
// over the cached keys/values of positions 0..pos0+n-1.
type attnJob struct {
	e          *Engine
	q          []float32 // rows of width stride; head h at column h·d
	stride     int
	k, v       []float32 // cache rows of kvd
	kh, vh     []uint16  // fp16 cache rows of kvd (decode from an F16 cache; k, v unused)
	kq, vq     []byte    // Q8_0 cache rows of rb bytes (decode from a Q8_0 cache; k, v unused)
	rb         int
	out        []float32 // [n × qd]
	n, pos0    int
	blocks     int // query blocks per head
	tasks      int
	next       atomic.Int64
	grouped    bool // n == 1: one task per KV group, all its query heads at once
	groupHeads int
}

// attend computes e.s.attn from the queries in e.s.q over layer src's
// cached keys and values of positions 0..pos0+n-1. One-token decode reads
// an fp16 cache in place, and a Q8_0 cache in place too where the AVX-512
// row kernels run (fastRows); otherwise rows not stored as F32 are widened
// to fp32 first.
func (e *Engine) attend(cache *Cache, src, n, pos0 int) {
	s := &e.s
	qd := e.cfg.Heads * e.cfg.HeadDim
	j := &s.job
	j.kq, j.vq, j.rb = nil, nil, 0
	if cache.typ == model.F16 && n == 1 {
		d := cache.kvd
		e.attention(s.q, qd, nil, nil, cache.kh[src][:(pos0+1)*d], cache.vh[src][:(pos0+1)*d], s.attn, n, pos0)
		return
	}
	if cache.typ == model.Q8_0 && n == 1 && fastRows(e.cfg.HeadDim) {
		rb := cache.rowBytes()
		j.kq, j.vq, j.rb = cache.kq[src][:(pos0+1)*rb], cache.vq[src][:(pos0+1)*rb], rb
		e.attention(s.q, qd, nil, nil, nil, nil, s.attn, n, pos0)
		return
	}
	var k, v []float32
	k, v, s.kw, s.vw = cache.rows(src, 0, pos0+n, s.kw, s.vw)
	e.attention(s.q, qd, k, v, nil, nil, s.attn, n, pos0)
}

// attention computes out from the queries in q.
func (e *Engine) attention(q []float32, stride int, k, v []float32, kh, vh []uint16, out []float32, n, pos0 int) {
	c := e.cfg
	grp := c.Heads / c.KVHeads
	j := &e.s.job
	j.e, j.q, j.stride, j.k, j.v, j.out, j.n, j.pos0, j.groupHeads = e, q, stride, k, v, out, n, pos0, grp
	j.kh, j.vh = kh, vh
	j.grouped, j.blocks = false, 0
	j.next.Store(0)
	if n == 1 {
		j.grouped = true
		j.tasks = c.KVHeads
	} else {
		j.blocks = (n + queryBlock - 1) / queryBlock
		j.tasks = c.Heads * j.blocks
	}
	// Work estimate: QKᵀ and PV over the causal triangle.
	flops := 2 * 2 * float64(c.Heads) * float64(c.HeadDim) * float64(n) * (float64(pos0) + float64(n+1)/2)
	workers := min(runtime.GOMAXPROCS(0), j.tasks)
	if flops < 1<<20 {
		workers = 1
	}
	for len(e.s.workers) < workers {
		e.s.workers = append(e.s.workers, nil)
	}
	kernels.Parallel(workers, j.work)
}

func (j *attnJob) work(w int) {
	for {
		t := int(j.next.Add(1) - 1)
		if t >= j.tasks {
			return
		}
		if j.grouped {
			j.group(w, t)
		} else {
			j.block(w, t/j.blocks, t%j.blocks)
		}
	}
}

// block attends query rows [b·queryBlock, …) of head h.
func (j *attnJob) block(w, h, b int) {
	c := j.e.cfg
	d, kvd, qd := c.HeadDim, c.KVHeads*c.HeadDim, c.Heads*c.HeadDim
	g := h / j.groupHeads
	i0, i1 := b*queryBlock, min((b+1)*queryBlock, j.n)
	rows, keys := i1-i0, j.pos0+i1
	sb := growF(j.e.s.workers[w], rows*keys)
	j.e.s.workers[w] = sb
	scale := numerics.ScoreScale(d)
	sgemm.Gemm(false, true, rows, keys, d, scale, j.q[i0*j.stride+h*d:], j.stride, j.k[g*d:], kvd, 0, sb, keys)
	for r := 0; r < rows; r++ {
		row := sb[r*keys : (r+1)*keys]
		valid := j.pos0 + i0 + r + 1
		numerics.SoftmaxCausal(row, valid)
	}
	sgemm.Gemm(false, false, rows, d, keys, 1, sb, keys, j.v[g*d:], kvd, 0, j.out[i0*qd+h*d:], qd)
}

// group attends the single query token's heads of KV group g.
func (j *attnJob) group(w, g int) {
	switch {
	case j.kh != nil:
		j.groupF16(w, g)
	case j.kq != nil:
		j.groupQ8(w, g)
	case fastRows(j.e.cfg.HeadDim):
		j.groupF32(w, g)
	default:
		j.groupGemm(w, g)
	}
}

// groupGemm is group through sgemm: any head dim, any CPU.
func (j *attnJob) groupGemm(w, g int) {
	c := j.e.cfg
	d, kvd := c.HeadDim, c.KVHeads*c.HeadDim
	gh := j.groupHeads
	keys := j.pos0 + 1
	sb := growF(j.e.s.workers[w], gh*keys+gh)
	j.e.s.workers[w] = sb
	sums := sb[gh*keys:]
	scale := numerics.ScoreScale(d)
	q := j.q[g*gh*d:]
	sgemm.Gemm(false, true, gh, keys, d, scale, q, d, j.k[g*d:], kvd, 0, sb, keys)
	// Unnormalized softmax weights (max subtracted); P·V row by row, each
	// value row read once for the group's heads (a packed GEMM would copy
	// all of V for a handful of rows); the sums divide at the end. Weights
	// below 1e-12 of the largest are skipped: they change nothing in fp32
	// and would run the multiply on denormals.
	for r := 0; r < gh; r++ {
		sums[r] = numerics.ExpRow(sb[r*keys : (r+1)*keys])
	}
	out := j.out[g*gh*d : (g+1)*gh*d]
	clear(out)
	for t := 0; t < keys; t++ {
		vt := j.v[t*kvd+g*d : t*kvd+(g+1)*d]
		for r := 0; r < gh; r++ {
			if p := sb[r*keys+t]; p > 1e-12 {
				sgemm.Axpy(p, vt, out[r*d:(r+1)*d])
			}
		}
	}
	for r := 0; r < gh; r++ {
		sgemm.Scale(1/sums[r], out[r*d:(r+1)*d])
	}
}

// groupF16 is group over an fp16 cache: the scores of the group's heads
// against each key row, a whole row at a time (dotsF16), the exponentials,
// then the weighted sum of the value rows (axpysF16), normalized at the end.
func (j *attnJob) groupF16(w, g int) {
	c := j.e.cfg
	d, kvd := c.HeadDim, c.KVHeads*c.HeadDim
	gh := j.groupHeads
	keys := j.pos0 + 1
	sb := growF(j.e.s.workers[w], gh*keys+gh+gh*d)
	j.e.s.workers[w] = sb
	sums := sb[gh*keys : gh*keys+gh]
	qs := j.scaledQueries(sb, gh*keys+gh, g)
	dotsF16(sb, qs, j.kh[g*d:], kvd, keys, d, gh)
	out := j.softmaxOut(sb, sums, g, keys)
	axpysF16(out, sb, j.vh[g*d:], kvd, keys, d, gh)
	j.normalize(out, sums)
}

// scaledQueries returns the group's query heads times the score scale in
// sb[off:off+gh·d].
func (j *attnJob) scaledQueries(sb []float32, off, g int) []float32 {
	d, gh := j.e.cfg.HeadDim, j.groupHeads
	qs := sb[off : off+gh*d]
	scale := numerics.ScoreScale(d)
	for i, x := range j.q[g*gh*d : (g+1)*gh*d] {
		qs[i] = x * scale
	}
	return qs
}

// softmaxOut turns the group's scores (rows of keys) into unnormalized
// weights and returns the zeroed output rows and the weights' sums.
func (j *attnJob) softmaxOut(sb, sums []float32, g, keys int) []float32 {
	d, gh := j.e.cfg.HeadDim, j.groupHeads
	for r := 0; r < gh; r++ {
		sums[r] = numerics.ExpRow(sb[r*keys : (r+1)*keys])
	}
	out := j.out[g*gh*d : (g+1)*gh*d]
	clear(out)
	return out
}

// normalize divides each output row by its weights' sum.
func (j *attnJob) normalize(out, sums []float32) {
	d := j.e.cfg.HeadDim
	for r := range sums {
		sgemm.Scale(1/sums[r], out[r*d:(r+1)*d])
	}
}

// groupF32 is group over an F32 cache with the AVX-512 row kernels: the
// scores of the group's heads against every key row, the exponentials, the
// weighted sum of the value rows, normalized at the end.
func (j *attnJob) groupF32(w, g int) {
	c := j.e.cfg
	d, kvd := c.HeadDim, c.KVHeads*c.HeadDim
	gh, keys := j.groupHeads, j.pos0+1
	sb := growF(j.e.s.workers[w], gh*keys+gh+gh*d)
	j.e.s.workers[w] = sb
	sums := sb[gh*keys : gh*keys+gh]
	qs := j.scaledQueries(sb, gh*keys+gh, g)
	dotsF32(sb, qs, j.k[g*d:], kvd, keys, d, gh, keys)
	out := j.softmaxOut(sb, sums, g, keys)
	axpysF32(out, sb, j.v[g*d:], kvd, keys, d, gh, keys)
	j.normalize(out, sums)
}

// q8Rows is how many Q8_0 cache rows groupQ8 widens at a time: the widened
// block (q8Rows × head dim fp32) stays in the L1 cache.
const q8Rows = 32

// groupQ8 is group over a Q8_0 cache: blocks of the group's key rows are
// widened to fp32 (exactly as DequantizeQ8_0) into a small buffer and
// multiplied there, then the same for the value rows; the cache is read
// once, with no widened copy of it.
func (j *attnJob) groupQ8(w, g int) {
	c := j.e.cfg
	d := c.HeadDim
	gh, keys := j.groupHeads, j.pos0+1
	sb := growF(j.e.s.workers[w], gh*keys+gh+gh*d+q8Rows*d)
	j.e.s.workers[w] = sb
	sums := sb[gh*keys : gh*keys+gh]
	qs := j.scaledQueries(sb, gh*keys+gh, g)
	buf := sb[gh*keys+gh+gh*d:]
	off := g * d / 32 * 34 // the group's first block in a row
	for t0 := 0; t0 < keys; t0 += q8Rows {
		n := min(q8Rows, keys-t0)
		widenQ8Rows(buf, j.kq[t0*j.rb+off:], j.rb, n, d)
		dotsF32(sb[t0:], qs, buf, d, n, d, gh, keys)
	}
	out := j.softmaxOut(sb, sums, g, keys)
	for t0 := 0; t0 < keys; t0 += q8Rows {
		n := min(q8Rows, keys-t0)
		widenQ8Rows(buf, j.vq[t0*j.rb+off:], j.rb, n, d)
		axpysF32(out, sb[t0:], buf, d, n, d, gh, keys)
	}
	j.normalize(out, sums)
}

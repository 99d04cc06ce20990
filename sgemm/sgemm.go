package sgemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// kernelImpl bundles a micro-kernel with its register tile and vector helpers.
type kernelImpl struct {
	name string
	// mr×nr is the register tile computed by kern.
	mr, nr int
	// kern computes the full mr×nr tile C = alpha·(Apanel·Bpanel) + beta·C
	// from kc steps of packed A (mr values per step) and packed B (nr values
	// per step). beta == 0 means C is write-only.
	kern func(kc int, a, b, c *float32, ldc int, alpha, beta float32)
	dot  func(a, b []float32) float32
	// dot4, if not nil, computes out[r] = dot(a_r[:n], b[:n]) for four rows
	// sharing b, bit-identical to four dot calls.
	dot4  func(a0, a1, a2, a3, b *float32, n int, out *[4]float32)
	axpy  func(alpha float32, x, y []float32)
	scale func(alpha float32, x []float32)
}

// impl is the kernel set selected at init for this CPU.
var impl = &genericImpl

// Cache blocking. kcBlock must not depend on the thread count (it fixes the
// summation order); mcBlock/ncBlock are rounded to multiples of mr/nr.
var (
	kcBlock = 512
	mcBlock = 192
	ncBlock = 3072
)

// Work thresholds below which no extra goroutine is started: flops per
// thread for the blocked path, and multiply-adds per thread for the
// memory-bound matrix-vector paths.
const (
	minFlopsPerThread = 1 << 22
	minGemvPerThread  = 1 << 21
)

// blasGemm is set by the optional OpenBLAS backend.
var blasGemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// Backend reports which implementation Gemm uses: "openblas", "avx512",
// "avx2", "neon" or "generic".
func Backend() string {
	if blasGemm != nil {
		return "openblas"
	}
	return impl.name
}

// Dot returns the dot product of a and b[:len(a)] (SIMD where available).
func Dot(a, b []float32) float32 {
	if len(b) < len(a) {
		panic("sgemm: Dot length mismatch")
	}
	return impl.dot(a, b[:len(a)])
}

// Axpy computes y += alpha·x over len(x) elements (SIMD where available).
func Axpy(alpha float32, x, y []float32) {
	if len(y) < len(x) {
		panic("sgemm: Axpy length mismatch")
	}
	impl.axpy(alpha, x, y[:len(x)])
}

// Scale computes x *= alpha (SIMD where available).
func Scale(alpha float32, x []float32) {
	impl.scale(alpha, x)
}

// MatMulT computes C = A·Bᵀ with A m×k, B n×k and C m×n, all dense row-major.
func MatMulT(c, a, b []float32, m, n, k int) {
	Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// op(X) = Xᵀ when the flag is set. op(A) is m×k, op(B) is k×n, C is m×n;
// lda/ldb/ldc are row strides. When beta == 0, C is not read (NaNs in C are
// overwritten).
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if blasGemm != nil && !isGemv(transB, m, n) {
		blasGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemm(impl, runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmThreads is Gemm using at most threads goroutines (threads ≤ 0 means
// GOMAXPROCS). Callers that already split work across their own goroutines
// pass 1. The result does not depend on threads.
func GemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	gemm(impl, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	check := func(name string, s []float32, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("sgemm: ld%s=%d < %d", name, ld, cols))
		}
		if need := (rows-1)*ld + cols; len(s) < need {
			panic(fmt.Sprintf("sgemm: len(%s)=%d < %d", name, len(s), need))
		}
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	check("a", a, ar, ac, lda)
	check("b", b, br, bc, ldb)
	check("c", c, m, n, ldc)
}

// scaleC computes C = beta·C (beta == 0 writes zeros without reading C).
func scaleC(kp *kernelImpl, m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else {
			kp.scale(beta, row)
		}
	}
}

// gemmParams is one (already validated) Gemm call.
type gemmParams struct {
	kp             *kernelImpl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

func gemm(kp *kernelImpl, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(kp, m, n, beta, c, ldc)
		return
	}
	p := gemmParams{kp, transA, transB, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc}
	if isGemv(transB, m, n) {
		if t := m * n * k / minGemvPerThread; t < threads {
			threads = max(t, 1)
		}
		gemvDispatch(&p, threads)
		return
	}
	if t := 2 * m * n * k / minFlopsPerThread; t < threads {
		threads = max(t, 1)
	}
	pm := (m + kp.mr - 1) / kp.mr
	pn := (n + kp.nr - 1) / kp.nr
	splitN := pn >= 4*threads || pn >= pm
	parts := pm
	if splitN {
		parts = pn
	}
	threads = min(threads, parts)
	if threads <= 1 {
		runPart(&p, 0, m, 0, n)
		return
	}
	j := getJob()
	j.p = p
	j.wg.Add(threads - 1)
	ensureWorkers(threads - 1)
	var first task
	for t := 0; t < threads; t++ {
		lo, hi := t*parts/threads, (t+1)*parts/threads
		var tk task
		if splitN {
			tk = task{j: j, kind: taskGemm, i0: 0, i1: m, j0: lo * kp.nr, j1: min(hi*kp.nr, n)}
		} else {
			tk = task{j: j, kind: taskGemm, i0: lo * kp.mr, i1: min(hi*kp.mr, m), j0: 0, j1: n}
		}
		if t == 0 {
			first = tk
		} else {
			taskCh <- tk
		}
	}
	first.run()
	j.wg.Wait()
	j.p = gemmParams{}
	jobPool.Put(j)
}

// packBufs holds one goroutine's packing buffers.
type packBufs struct {
	a, b, tile []float32
	tmp        []float32
	out        [4]float32
}

var bufPool = sync.Pool{New: func() any { return new(packBufs) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// runPart computes the C block rows [i0,i1) × cols [j0,j1). i0/j0 must be
// multiples of mr/nr so that every C element sees exactly the same
// arithmetic whatever the partition.
func runPart(p *gemmParams, i0, i1, j0, j1 int) {
	kp := p.kp
	mr, nr := kp.mr, kp.nr
	kcb := min(kcBlock, p.k)
	mcb := max(mcBlock/mr, 1) * mr
	ncb := max(ncBlock/nr, 1) * nr
	mcb = min(mcb, (i1-i0+mr-1)/mr*mr)
	ncb = min(ncb, (j1-j0+nr-1)/nr*nr)
	bufs := bufPool.Get().(*packBufs)
	bufs.a = grow(bufs.a, mcb*kcb)
	bufs.b = grow(bufs.b, ncb*kcb)
	bufs.tile = grow(bufs.tile, mr*nr)
	for jc := j0; jc < j1; jc += ncb {
		nc := min(ncb, j1-jc)
		for pc := 0; pc < p.k; pc += kcb {
			kc := min(kcb, p.k-pc)
			packB(p, bufs.b, nr, pc, kc, jc, nc)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				packA(p, bufs.a, mr, ic, mc, pc, kc)
				macroKernel(kp, mc, nc, kc, p.alpha, beta, bufs.a, bufs.b, bufs.tile, p.c[ic*p.ldc+jc:], p.ldc)
			}
		}
	}
	bufPool.Put(bufs)
}

func macroKernel(kp *kernelImpl, mc, nc, kc int, alpha, beta float32, pa, pb, tile, c []float32, ldc int) {
	mr, nr := kp.mr, kp.nr
	kern := kp.kern
	for jr := 0; jr < nc; jr += nr {
		nn := min(nr, nc-jr)
		bp := &pb[jr*kc]
		for ir := 0; ir < mc; ir += mr {
			mm := min(mr, mc-ir)
			ap := &pa[ir*kc]
			if mm == mr && nn == nr {
				// Bounds check for the full tile, then let the kernel run.
				_ = c[(ir+mr-1)*ldc+jr+nr-1]
				kern(kc, ap, bp, &c[ir*ldc+jr], ldc, alpha, beta)
				continue
			}
			kern(kc, ap, bp, &tile[0], nr, 1, 0)
			for i := 0; i < mm; i++ {
				row := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nn]
				t := tile[i*nr : i*nr+nn]
				if beta == 0 {
					for j := range row {
						row[j] = alpha * t[j]
					}
				} else {
					for j := range row {
						row[j] = alpha*t[j] + beta*row[j]
					}
				}
			}
		}
	}
}

// packA packs op(A)[ic:ic+mc, pc:pc+kc] into panels of mr rows: panel q
// holds, for each p, the mr values op(A)[ic+q·mr+r, pc+p] (zero padded).
func packA(p *gemmParams, dst []float32, mr, ic, mc, pc, kc int) {
	a, lda := p.a, p.lda
	for q := 0; q < mc; q += mr {
		mm := min(mr, mc-q)
		panel := dst[q*kc : q*kc+mr*kc]
		if !p.transA {
			interleave(panel, mr, a[(ic+q)*lda+pc:], lda, mm, kc)
		} else {
			for i := 0; i < kc; i++ {
				src := a[(pc+i)*lda+ic+q : (pc+i)*lda+ic+q+mm]
				copy(panel[i*mr:i*mr+mm], src)
			}
		}
		if mm < mr {
			for i := 0; i < kc; i++ {
				clear(panel[i*mr+mm : i*mr+mr])
			}
		}
	}
}

// interleave transposes `rows` source rows of length kc (row stride ld) into
// dst so that dst[i·stride+r] = src[r·ld+i].
func interleave(dst []float32, stride int, src []float32, ld, rows, kc int) {
	r := 0
	for ; r+8 <= rows; r += 8 {
		// Eight source rows at a time: each step writes 32 contiguous bytes.
		o := r * ld
		r0 := src[o : o+kc]
		r1 := src[o+ld : o+ld+kc]
		r2 := src[o+2*ld : o+2*ld+kc]
		r3 := src[o+3*ld : o+3*ld+kc]
		r4 := src[o+4*ld : o+4*ld+kc]
		r5 := src[o+5*ld : o+5*ld+kc]
		r6 := src[o+6*ld : o+6*ld+kc]
		r7 := src[o+7*ld : o+7*ld+kc]
		d := dst[r:]
		for i := range r0 {
			w := d[i*stride : i*stride+8 : i*stride+8]
			w[0], w[1], w[2], w[3] = r0[i], r1[i], r2[i], r3[i]
			w[4], w[5], w[6], w[7] = r4[i], r5[i], r6[i], r7[i]
		}
	}
	for ; r+4 <= rows; r += 4 {
		o := r * ld
		r0 := src[o : o+kc]
		r1 := src[o+ld : o+ld+kc]
		r2 := src[o+2*ld : o+2*ld+kc]
		r3 := src[o+3*ld : o+3*ld+kc]
		d := dst[r:]
		for i := range r0 {
			w := d[i*stride : i*stride+4 : i*stride+4]
			w[0], w[1], w[2], w[3] = r0[i], r1[i], r2[i], r3[i]
		}
	}
	for ; r < rows; r++ {
		o := r * ld
		for i, v := range src[o : o+kc] {
			dst[i*stride+r] = v
		}
	}
}

// packB packs op(B)[pc:pc+kc, jc:jc+nc] into panels of nr columns: panel q
// holds, for each p, the nr values op(B)[pc+p, jc+q·nr+c] (zero padded).
func packB(p *gemmParams, dst []float32, nr, pc, kc, jc, nc int) {
	b, ldb := p.b, p.ldb
	for q := 0; q < nc; q += nr {
		nn := min(nr, nc-q)
		panel := dst[q*kc : q*kc+nr*kc]
		if p.transB {
			interleave(panel, nr, b[(jc+q)*ldb+pc:], ldb, nn, kc)
		} else {
			for i := 0; i < kc; i++ {
				src := b[(pc+i)*ldb+jc+q : (pc+i)*ldb+jc+q+nn]
				copy(panel[i*nr:i*nr+nn], src)
			}
		}
		if nn < nr {
			for i := 0; i < kc; i++ {
				clear(panel[i*nr+nn : i*nr+nr])
			}
		}
	}
}

// ---- matrix-vector style fast paths ----

// smallM is the largest m routed to the dot-per-row path when B is transposed
// (decode against [out,in] weights): each weight row is read once and reused
// from L1 for all m rows of A.
const smallM = 8

// isGemv reports whether the shape goes to the matrix-vector paths.
func isGemv(transB bool, m, n int) bool {
	return m == 1 || n == 1 || m <= smallM && transB
}

func gemvDispatch(p *gemmParams, threads int) {
	// Parallelize over the output dimension that is long.
	var parts int
	if p.n == 1 {
		parts = p.m
	} else {
		parts = p.n
	}
	const grain = 64 // split boundaries are multiples of grain
	chunks := (parts + grain - 1) / grain
	threads = min(threads, chunks)
	if threads <= 1 {
		runGemv(p, 0, parts)
		return
	}
	j := getJob()
	j.p = *p
	j.wg.Add(threads - 1)
	ensureWorkers(threads - 1)
	for t := 1; t < threads; t++ {
		lo, hi := t*chunks/threads*grain, min((t+1)*chunks/threads*grain, parts)
		taskCh <- task{j: j, kind: taskGemv, i0: lo, i1: hi}
	}
	runGemv(p, 0, min(chunks/threads*grain, parts))
	j.wg.Wait()
	j.p = gemmParams{}
	jobPool.Put(j)
}

// runGemv handles m ≤ smallM with transB, m == 1, or n == 1, computing the
// outputs [lo,hi) of the long dimension (columns, or rows when n == 1).
func runGemv(p *gemmParams, lo, hi int) {
	kp := p.kp
	k := p.k
	bufs := bufPool.Get().(*packBufs)
	defer bufPool.Put(bufs)
	switch {
	case p.n == 1:
		// C[i] = alpha·op(A)[i,:]·op(B)[:,0] + beta·C[i].
		x := p.b[:1]
		if p.transB {
			x = p.b[:k]
		} else if k > 1 {
			bufs.tmp = grow(bufs.tmp, k)
			for i := range k {
				bufs.tmp[i] = p.b[i*p.ldb]
			}
			x = bufs.tmp
		} else {
			x = p.b[:k]
		}
		if !p.transA {
			for i := lo; i < hi; i++ {
				s := p.alpha * kp.dot(p.a[i*p.lda:i*p.lda+k], x)
				storeC(&p.c[i*p.ldc], s, p.beta)
			}
			return
		}
		acc := grow(bufs.a, hi-lo)
		bufs.a = acc
		clear(acc)
		for q := 0; q < k; q++ {
			kp.axpy(x[q], p.a[q*p.lda+lo:q*p.lda+hi], acc)
		}
		for i := lo; i < hi; i++ {
			storeC(&p.c[i*p.ldc], p.alpha*acc[i-lo], p.beta)
		}
	case p.transB:
		// C[i,j] = alpha·op(A)[i,:]·B[j,:] + beta·C[i,j], i < m ≤ smallM.
		var rows [smallM][]float32
		for i := 0; i < p.m; i++ {
			if !p.transA {
				rows[i] = p.a[i*p.lda : i*p.lda+k]
			} else {
				// Column i of A, gathered.
				bufs.tmp = grow(bufs.tmp, p.m*k)
				r := bufs.tmp[i*k : i*k+k]
				for q := range k {
					r[q] = p.a[q*p.lda+i]
				}
				rows[i] = r
			}
		}
		if kp.dot4 != nil && p.m > 1 && k > 0 {
			out := &bufs.out // not on the stack: it would escape via kp.dot4
			for j := lo; j < hi; j++ {
				bj := p.b[j*p.ldb : j*p.ldb+k]
				for g := 0; g < p.m; g += 4 {
					// Pad the group to four rows by repeating its first
					// row; the extra outputs are dropped.
					var r4 [4]*float32
					for i := range r4 {
						r4[i] = &rows[g][0]
						if g+i < p.m {
							r4[i] = &rows[g+i][0]
						}
					}
					kp.dot4(r4[0], r4[1], r4[2], r4[3], &bj[0], k, out)
					for i := 0; i < min(4, p.m-g); i++ {
						storeC(&p.c[(g+i)*p.ldc+j], p.alpha*out[i], p.beta)
					}
				}
			}
			return
		}
		for j := lo; j < hi; j++ {
			bj := p.b[j*p.ldb : j*p.ldb+k]
			for i := 0; i < p.m; i++ {
				s := p.alpha * kp.dot(rows[i], bj)
				storeC(&p.c[i*p.ldc+j], s, p.beta)
			}
		}
	default:
		// m == 1, B not transposed: C[0,lo:hi] = alpha·Σ_q a_q·B[q,lo:hi] + beta·C.
		acc := grow(bufs.a, hi-lo)
		bufs.a = acc
		clear(acc)
		for q := 0; q < k; q++ {
			aq := p.a[q]
			if p.transA {
				aq = p.a[q*p.lda]
			}
			kp.axpy(aq, p.b[q*p.ldb+lo:q*p.ldb+hi], acc)
		}
		crow := p.c[lo:hi]
		for j := range crow {
			storeC(&crow[j], p.alpha*acc[j], p.beta)
		}
	}
}

func storeC(c *float32, v, beta float32) {
	if beta == 0 {
		*c = v
	} else {
		*c = v + beta**c
	}
}

// ---- persistent worker pool (no per-call allocation) ----

const (
	taskGemm = iota
	taskGemv
)

type job struct {
	p  gemmParams
	wg sync.WaitGroup
}

type task struct {
	j              *job
	kind           int
	i0, i1, j0, j1 int
}

func (t task) run() {
	if t.kind == taskGemm {
		runPart(&t.j.p, t.i0, t.i1, t.j0, t.j1)
	} else {
		runGemv(&t.j.p, t.i0, t.i1)
	}
}

var (
	jobPool   = sync.Pool{New: func() any { return new(job) }}
	taskCh    = make(chan task, 256)
	nWorkers  atomic.Int32
	workersMu sync.Mutex
)

func getJob() *job { return jobPool.Get().(*job) }

func ensureWorkers(n int) {
	if int(nWorkers.Load()) >= n {
		return
	}
	workersMu.Lock()
	for int(nWorkers.Load()) < n {
		go worker()
		nWorkers.Add(1)
	}
	workersMu.Unlock()
}

func worker() {
	for t := range taskCh {
		t.run()
		t.j.wg.Done()
	}
}

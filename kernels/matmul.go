package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Mode selects the arithmetic of a product (see the package comment).
type Mode int

const (
	// Exact widens weights to fp32 and computes in fp32.
	Exact Mode = iota
	// Fast computes as llama.cpp does: bf16 or 8-bit quantized activations.
	Fast
)

func (m Mode) String() string {
	switch m {
	case Exact:
		return "exact"
	case Fast:
		return "fast"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// MatMul computes y[n×rows] = x[n×cols]·Wᵀ, with x and y dense row-major
// (row strides cols and rows), using at most threads goroutines (≤ 0 means
// GOMAXPROCS). n = 1 is the decode GEMV, larger n the prefill GEMM.
func MatMul(y, x []float32, n int, w *Matrix, mode Mode, threads int) {
	matmul(y, x, n, w, mode, threads, false)
}

// MatMulAdd is MatMul accumulating: y += x·Wᵀ.
func MatMulAdd(y, x []float32, n int, w *Matrix, mode Mode, threads int) {
	matmul(y, x, n, w, mode, threads, true)
}

// MatVec computes y[rows] = W·x[cols] (MatMul with n = 1).
func MatVec(y, x []float32, w *Matrix, mode Mode, threads int) {
	matmul(y, x, 1, w, mode, threads, false)
}

// call is one validated product.
type call struct {
	w    *Matrix
	x, y []float32
	n    int
	add  bool
	act  *acts      // quantized activations (Fast mode)
	once sync.Once  // guards one-time packing of act shared by the goroutines
	dec  decodeFunc // the kernel set's row widener for w's type, if any
}

// store writes or accumulates v into *p.
func (c *call) store(p *float32, v float32) {
	if c.add {
		*p += v
	} else {
		*p = v
	}
}

// minWorkPerThread is the number of weight-element × activation-row
// products below which no extra goroutine is started.
const minWorkPerThread = 1 << 18

func matmul(y, x []float32, n int, w *Matrix, mode Mode, threads int, add bool) {
	if n < 0 || len(x) < n*w.cols || len(y) < n*w.rows {
		panic(fmt.Sprintf("kernels: MatMul %v %d×%d with n=%d: len(x)=%d, len(y)=%d", w.typ, w.rows, w.cols, n, len(x), len(y)))
	}
	if mode != Exact && mode != Fast {
		panic(fmt.Sprintf("kernels: unknown mode %v", mode))
	}
	if n == 0 {
		return
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if t := n * w.rows * w.cols / minWorkPerThread; t < threads {
		threads = max(t, 1)
	}
	c := &call{w: w, x: x[:n*w.cols], y: y[:n*w.rows], n: n, add: add}
	c.dec = active.decode[w.typ]
	kern := exactKernel(c)
	if mode == Fast && w.typ != F32 {
		c.act = quantizeActs(active, w.typ, c.x, n, w.cols, threads)
		defer c.act.release()
		kern = fastKernel(c)
	}
	step := max(gemvChunkBytes/max(w.rowBytes, 1), 1)
	if n > 1 {
		step = (w.rows + 8*threads - 1) / (8 * threads)
		step = (step + rowGrain - 1) / rowGrain * rowGrain
	}
	parallelChunks(w.rows, step, threads, func(r0, r1 int) { kern(c, r0, r1) })
}

// rowGrain is the granularity of a GEMM's split of W's rows: the register
// tiles of the GEMM kernels divide it.
const rowGrain = 32

// gemvChunkBytes is the weight bytes one GEMV task streams.
const gemvChunkBytes = 64 << 10

// parallelChunks calls fn on the chunks [0,step), [step,2·step), … of
// [0,rows), taken in order by up to threads workers: they stream
// neighbouring weight rows, and a worker that runs slower (a shared or
// preempted core) takes fewer chunks.
func parallelChunks(rows, step, threads int, fn func(r0, r1 int)) {
	chunks := (rows + step - 1) / step
	var next atomic.Int64
	Parallel(min(threads, chunks), func(int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= chunks {
				return
			}
			fn(i*step, min((i+1)*step, rows))
		}
	})
}

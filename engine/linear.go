package engine

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/sgemm"
)

// linear is one weight matrix [rows × cols] (one row per output) kept in its
// stored encoding: the bytes alias the memory-mapped file (or the in-memory
// tensor), so the engine holds no fp32 copy of a BF16 or quantized model.
type linear struct {
	name       string
	dtype      model.DType
	rows, cols int
	rowBytes   int
	raw        []byte
	f32        []float32 // the matrix itself when stored as F32 (no copy)
}

// newLinear wraps the stored bytes of t, which must have shape [rows, cols]
// (or [rows·cols] for a vector).
func newLinear(t *model.Tensor, rows, cols int) (*linear, error) {
	raw, err := t.Bytes()
	if err != nil {
		return nil, err
	}
	bs := t.DType.BlockSize()
	if cols%bs != 0 {
		return nil, fmt.Errorf("tensor %q: %v rows of %d values are not whole %d-value blocks", t.Name, t.DType, cols, bs)
	}
	l := &linear{name: t.Name, dtype: t.DType, rows: rows, cols: cols, rowBytes: cols / bs * t.DType.BlockBytes(), raw: raw}
	if len(raw) != rows*l.rowBytes {
		return nil, fmt.Errorf("tensor %q: %d bytes for %d rows of %d bytes", t.Name, len(raw), rows, l.rowBytes)
	}
	if t.DType == model.F32 && len(raw) > 0 {
		if uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
			l.f32 = unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), rows*cols)
		} else if l.f32, err = t.Float32(); err != nil { // misaligned in its file: one copy
			return nil, err
		}
	}
	return l, nil
}

// bytes returns the resident size of the matrix (its stored bytes).
func (l *linear) bytes() int64 { return int64(len(l.raw)) }

// widen decodes rows [r0, r1) to fp32 into dst [(r1-r0) × cols].
func (l *linear) widen(dst []float32, r0, r1 int) {
	if l.f32 != nil {
		copy(dst, l.f32[r0*l.cols:r1*l.cols])
		return
	}
	if err := model.Decode(dst[:(r1-r0)*l.cols], l.raw[r0*l.rowBytes:r1*l.rowBytes], l.dtype); err != nil {
		panic(fmt.Sprintf("engine: %s: %v", l.name, err)) // sizes were checked by newLinear
	}
}

// panelRows is the number of weight rows widened at once by the exact GEMM:
// a multiple of every SGEMM micro-kernel width, about 1 MB of fp32.
func (l *linear) panelRows() int {
	p := (1 << 20) / (4 * l.cols) / 32 * 32
	return max(p, 32)
}

// widenPool holds fp32 panels for widening.
var widenPool sync.Pool

func getPanel(n int) *[]float32 {
	if p, ok := widenPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// matmulExact computes y[n × rows] = x[n × cols]·Wᵀ (+ y when acc) in fp32,
// with the weights widened exactly to fp32 panel by panel. The arithmetic
// does not depend on the stored type: a BF16 matrix gives bit for bit the
// result of the same values stored as F32.
func matmulExact(y, x []float32, n int, w *linear, acc bool) {
	beta := float32(0)
	if acc {
		beta = 1
	}
	if w.f32 != nil {
		sgemm.Gemm(false, true, n, w.rows, w.cols, 1, x, w.cols, w.f32, w.cols, beta, y, w.rows)
		return
	}
	if n == 1 {
		gemvExact(y, x, w, acc)
		return
	}
	pr := w.panelRows()
	buf := getPanel(pr * w.cols)
	defer widenPool.Put(buf)
	for r0 := 0; r0 < w.rows; r0 += pr {
		r1 := min(r0+pr, w.rows)
		panel := (*buf)[:(r1-r0)*w.cols]
		widenParallel(w, panel, r0, r1)
		sgemm.Gemm(false, true, n, r1-r0, w.cols, 1, x, w.cols, panel, w.cols, beta, y[r0:], w.rows)
	}
}

// widenParallel widens rows [r0, r1) across the available cores.
func widenParallel(w *linear, dst []float32, r0, r1 int) {
	parallelRows(r1-r0, 8, func(a, b int) { w.widen(dst[a*w.cols:b*w.cols], r0+a, r0+b) })
}

// gemvExact is matmulExact for one token: each core widens its share of
// rows a few at a time and takes fp32 dot products.
func gemvExact(y, x []float32, w *linear, acc bool) {
	const step = 16
	x = x[:w.cols]
	parallelRows(w.rows, 64, func(a, b int) {
		buf := getPanel(step * w.cols)
		defer widenPool.Put(buf)
		for r0 := a; r0 < b; r0 += step {
			r1 := min(r0+step, b)
			w.widen(*buf, r0, r1)
			for r := r0; r < r1; r++ {
				d := sgemm.Dot(x, (*buf)[(r-r0)*w.cols:(r-r0+1)*w.cols])
				if acc {
					y[r] += d
				} else {
					y[r] = d
				}
			}
		}
	})
}

// parallelRows splits [0, n) into one contiguous range per core (each at
// least minRows long) and runs f on them concurrently.
func parallelRows(n, minRows int, f func(a, b int)) {
	parts := min(runtime.GOMAXPROCS(0), max(n/minRows, 1))
	if parts <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		go func(a, b int) {
			defer wg.Done()
			f(a, b)
		}(p*n/parts, (p+1)*n/parts)
	}
	f(0, n/parts)
	wg.Wait()
}

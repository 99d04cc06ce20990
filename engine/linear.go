package engine

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/kernels"
	"github.com/retrofit-llm/retrofit/model"
)

// linear is one weight matrix [rows × cols] (one row per output) kept in its
// stored encoding: the bytes alias the memory-mapped file (or the in-memory
// tensor), so the engine holds no fp32 copy of a BF16 or quantized model.
// The products run in package kernels.
type linear struct {
	m *kernels.Matrix
}

// kernelTypes maps model dtypes to kernels' stored types.
var kernelTypes = map[model.DType]kernels.Type{
	model.F32: kernels.F32, model.F16: kernels.F16, model.BF16: kernels.BF16, model.Q8_0: kernels.Q8_0,
	model.Q4_0: kernels.Q4_0, model.Q4_K: kernels.Q4_K, model.Q6_K: kernels.Q6_K,
}

// newLinear wraps the stored bytes of t, which must have shape [rows, cols].
func newLinear(t *model.Tensor, rows, cols int) (*linear, error) {
	kt, ok := kernelTypes[t.DType]
	if !ok {
		return nil, fmt.Errorf("tensor %q: no kernels for dtype %v", t.Name, t.DType)
	}
	raw, err := t.Bytes()
	if err != nil {
		return nil, err
	}
	m, err := kernels.NewMatrix(kt, rows, cols, raw)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return &linear{m}, nil
}

// bytes returns the resident size of the matrix (its stored bytes).
func (l *linear) bytes() int64 { return int64(len(l.m.Data())) }

// widen decodes rows [r0, r1) to fp32 into dst [(r1-r0) × cols].
func (l *linear) widen(dst []float32, r0, r1 int) {
	c := l.m.Cols()
	for r := r0; r < r1; r++ {
		l.m.DecodeRow(dst[(r-r0)*c:(r-r0+1)*c], r)
	}
}

// kernelModes maps engine modes to kernels' modes.
var kernelModes = [...]kernels.Mode{Exact: kernels.Exact, Fast: kernels.Fast}

// matmul computes y[n × w.rows] = x[n × w.cols]·Wᵀ, added to y when acc.
// Exact mode's arithmetic does not depend on the stored type: a BF16 matrix
// gives bit for bit the result of the same values stored as F32.
func (e *Engine) matmul(y, x []float32, n int, w *linear, acc bool) {
	if acc {
		kernels.MatMulAdd(y, x, n, w.m, kernelModes[e.opts.Mode], 0)
	} else {
		kernels.MatMul(y, x, n, w.m, kernelModes[e.opts.Mode], 0)
	}
}

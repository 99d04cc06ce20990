package finetune

import (
	"math"

	"github.com/retrofit-llm/retrofit/sgemm"
)

// rmsNorm writes x·r·w to dst and returns r = 1/sqrt(mean(x²)+eps), computed
// exactly as the engine does.
func rmsNorm(dst, x, w []float32, eps float32) float32 {
	ss := sgemm.Dot(x, x)
	r := float32(1 / math.Sqrt(float64(ss/float32(len(x))+eps)))
	for i, v := range x[:len(w)] {
		dst[i] = w[i] * (v * r)
	}
	return r
}

// rmsNormBack adds to dx the gradient through y = w⊙x·r and, when dw is not
// nil, adds dy⊙x·r to dw. dx may not alias dy.
func rmsNormBack(dx, dw, dy, x, w []float32, r float32) {
	n := float32(len(x))
	var s float32
	for i, v := range x {
		s += w[i] * dy[i] * v
	}
	c := r * r * r * s / n
	for i, v := range x {
		dx[i] += r*w[i]*dy[i] - c*v
	}
	if dw != nil {
		for i, v := range x {
			dw[i] += dy[i] * v * r
		}
	}
}

// ropeTable fills cos/sin [n × d/2] for positions 0..n-1 as the engine does.
func ropeTable(cos, sin []float32, n, d int, theta float64) {
	half := d / 2
	for i := 0; i < half; i++ {
		inv := float32(1 / math.Pow(theta, float64(2*i)/float64(d)))
		for t := 0; t < n; t++ {
			a := float64(float32(t) * inv)
			cos[t*half+i] = float32(math.Cos(a))
			sin[t*half+i] = float32(math.Sin(a))
		}
	}
}

// rope rotates one head vector in place (NEOX half-split).
func rope(x, cos, sin []float32) {
	half := len(cos)
	x1, x2 := x[:half], x[half:2*half]
	for i := range half {
		a, b := x1[i], x2[i]
		x1[i] = a*cos[i] - b*sin[i]
		x2[i] = b*cos[i] + a*sin[i]
	}
}

// ropeBack rotates a gradient back in place (the transpose of rope).
func ropeBack(dx, cos, sin []float32) {
	half := len(cos)
	x1, x2 := dx[:half], dx[half:2*half]
	for i := range half {
		a, b := x1[i], x2[i]
		x1[i] = a*cos[i] + b*sin[i]
		x2[i] = b*cos[i] - a*sin[i]
	}
}

func sigmoid(x float32) float32 { return 1 / (1 + float32(math.Exp(float64(-x)))) }

// softmaxRow normalizes x in place (max-subtracted, fp32) as the engine does.
func softmaxRow(x []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var s float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		s += e
	}
	sgemm.Scale(1/s, x)
}

// linear computes y = x·Wᵀ (+ b) for rows×in x and out×in W.
func linear(y, x []float32, w, b *Param, rows int) {
	out, in := w.Shape[0], w.Shape[1]
	sgemm.Gemm(false, true, rows, out, in, 1, x, in, w.W, in, 0, y, out)
	if b != nil {
		for r := 0; r < rows; r++ {
			row := y[r*out : (r+1)*out]
			for j, v := range b.W {
				row[j] += v
			}
		}
	}
}

// linearBack adds dy·W to dx (beta selects assign 0 or add 1) and, when the
// weights train, dyᵀ·x to dW and the column sums of dy to db.
func linearBack(dx []float32, beta float32, dy, x []float32, w, b *Param, rows int) {
	out, in := w.Shape[0], w.Shape[1]
	if dx != nil {
		sgemm.Gemm(false, false, rows, in, out, 1, dy, out, w.W, in, beta, dx, in)
	}
	if w.Train {
		sgemm.Gemm(true, false, out, in, rows, 1, dy, out, x, in, 1, w.G, in)
	}
	if b != nil && b.Train {
		for r := 0; r < rows; r++ {
			sgemm.Axpy(1, dy[r*out:(r+1)*out], b.G)
		}
	}
}

func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

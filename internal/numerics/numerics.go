// Package numerics owns the per-vector math of a Qwen2/Qwen3 decoder that the
// inference engine and the training forward/backward share: RMSNorm, RoPE
// tables and rotation, exp/softmax, SiLU, the GQA score scale and causal
// softmax, the Depth-Attention score/mix (docs/methods.md), the backward
// pieces of each, and the per-token NLL. There is one implementation of each,
// so the engine and finetune compute bit-identical activations from the same
// inputs; matrix products stay in sgemm and kernels.
package numerics

import (
	"math"

	"github.com/retrofit-llm/retrofit/sgemm"
)

// RMSNorm writes x·r·w to dst and returns r = 1/sqrt(mean(x²)+eps). dst may
// alias x.
func RMSNorm(dst, x, w []float32, eps float32) float32 {
	ss := sgemm.Dot(x, x)
	r := float32(1 / math.Sqrt(float64(ss/float32(len(x))+eps)))
	for i, v := range x[:len(w)] {
		dst[i] = w[i] * (v * r)
	}
	return r
}

// RMSNormBack adds to dx the gradient through y = w⊙x·r (r as RMSNorm
// returned it) and, when dw is not nil, adds dy⊙x·r to dw. dx may not alias
// dy.
func RMSNormBack(dx, dw, dy, x, w []float32, r float32) {
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

// RopeTable fills cos/sin [n × d/2] for positions pos0.. the way Hugging
// Face does: inv_freq = θ^(-2i/d) rounded to fp32, angle = fp32(pos)·inv_freq
// in fp32, cos and sin of that angle rounded to fp32.
func RopeTable(cos, sin []float32, pos0, n, d int, theta float64) {
	half := d / 2
	for i := 0; i < half; i++ {
		inv := float32(1 / math.Pow(theta, float64(2*i)/float64(d)))
		for t := 0; t < n; t++ {
			a := float64(float32(pos0+t) * inv)
			cos[t*half+i] = float32(math.Cos(a))
			sin[t*half+i] = float32(math.Sin(a))
		}
	}
}

// Rope rotates one head vector in place (NEOX half-split layout: the pairs
// are (i, i+d/2)); cos and sin are one position's row of RopeTable.
func Rope(x, cos, sin []float32) {
	half := len(cos)
	x1, x2 := x[:half], x[half:2*half]
	for i := range half {
		a, b := x1[i], x2[i]
		x1[i] = a*cos[i] - b*sin[i]
		x2[i] = b*cos[i] + a*sin[i]
	}
}

// RopeBack rotates a gradient back in place (the transpose of Rope).
func RopeBack(dx, cos, sin []float32) {
	half := len(cos)
	x1, x2 := dx[:half], dx[half:2*half]
	for i := range half {
		a, b := x1[i], x2[i]
		x1[i] = a*cos[i] + b*sin[i]
		x2[i] = b*cos[i] - a*sin[i]
	}
}

// SiLUMul writes silu(g)·u = g/(1+e^-g)·u to dst (dst may alias g or u).
func SiLUMul(dst, g, u []float32) {
	u = u[:len(dst)]
	g = g[:len(dst)]
	for i := range dst {
		x := -g[i]
		var e float32 // Exp(x), with its branches inlined
		switch {
		case x > expMax:
			e = float32(math.Inf(1))
		case x >= expMin:
			e = expPoly(x)
		}
		dst[i] = -x / (1 + e) * u[i]
	}
}

// SiLUMulBack writes the gradients of y = silu(g)·u given dy: dg and du
// (assigned, not added).
func SiLUMulBack(dg, du, dy, g, u []float32) {
	for i, x := range g[:len(dy)] {
		s := Sigmoid(x)
		du[i] = dy[i] * x * s
		dg[i] = dy[i] * u[i] * s * (1 + x*(1-s))
	}
}

// Sigmoid is 1/(1+e^-x) with Exp.
func Sigmoid(x float32) float32 { return 1 / (1 + Exp(-x)) }

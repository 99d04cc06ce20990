package engine

import (
	"math"

	"github.com/retrofit-llm/retrofit/sgemm"
)

// rmsNorm writes x·rsqrt(mean(x²)+eps)·w to dst (dst may alias x).
func rmsNorm(dst, x, w []float32, eps float32) {
	ss := sgemm.Dot(x, x)
	r := float32(1 / math.Sqrt(float64(ss/float32(len(x))+eps)))
	for i, v := range x[:len(w)] {
		dst[i] = w[i] * (v * r)
	}
}

// ropeTable fills cos/sin [n × d/2] for positions pos0.. the way Hugging Face
// does: inv_freq = θ^(-2i/d) rounded to fp32, angle = fp32(pos)·inv_freq in
// fp32, cos and sin of that angle rounded to fp32.
func ropeTable(cos, sin []float32, pos0, n, d int, theta float64) {
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

// rope rotates one head vector in place (NEOX half-split layout: the pairs
// are (i, i+d/2)).
func rope(x, cos, sin []float32) {
	half := len(cos)
	x1, x2 := x[:half], x[half:2*half]
	for i := range half {
		a, b := x1[i], x2[i]
		x1[i] = a*cos[i] - b*sin[i]
		x2[i] = b*cos[i] + a*sin[i]
	}
}

// siluMul writes silu(g)·u to dst.
func siluMul(dst, g, u []float32) {
	u = u[:len(dst)]
	g = g[:len(dst)]
	for i := range dst {
		x := -g[i]
		var e float32
		switch {
		case x > expMax:
			e = float32(math.Inf(1))
		case x >= expMin:
			e = expPoly(x)
		}
		dst[i] = -x / (1 + e) * u[i]
	}
}

// softmax normalizes x in place (max-subtracted, fp32).
func softmax(x []float32) {
	sgemm.Scale(1/expRow(x), x)
}

// expRow replaces x by exp(x - max x) and returns the sum.
func expRow(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var s float32
	for i, v := range x {
		d := v - m
		var e float32
		if d >= expMin {
			e = expPoly(d)
		}
		x[i] = e
		s += e
	}
	return s
}

// expf is e^x in float32 (Cody-Waite range reduction and a degree-6
// polynomial, as in Cephes' expf): within 2 ulp of the rounded result.
// Arguments below -87.3 give 0, above 88.7 +Inf.
func expf(x float32) float32 {
	if x < expMin {
		return 0
	}
	if x > expMax {
		return float32(math.Inf(1))
	}
	return expPoly(x)
}

const (
	expMin = -87.33654
	expMax = 88.72283
)

// expPoly is e^x for x in [expMin, expMax], branch-free: n = round(x·log2 e)
// by the 1.5·2²³ trick, f = x - n·ln 2 in two parts, e^f by a polynomial.
func expPoly(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		magic = 12582912 // 1.5·2²³
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	t := x*log2e + magic
	n := t - magic
	f := x - n*c1 - n*c2
	p := float32(1.9875691500e-4)
	p = p*f + 1.3981999507e-3
	p = p*f + 8.3334519073e-3
	p = p*f + 4.1665795894e-2
	p = p*f + 1.6666665459e-1
	p = p*f + 5.0000001201e-1
	r := p*f*f + f + 1
	e := int32(math.Float32bits(t)) - 0x4B400000 // n as an integer
	return r * math.Float32frombits(uint32(e+127)<<23)
}

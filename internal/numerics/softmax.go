package numerics

import (
	"math"

	"github.com/retrofit-llm/retrofit/sgemm"
)

// Softmax normalizes x in place (max-subtracted, fp32, with Exp).
func Softmax(x []float32) {
	sgemm.Scale(1/ExpRow(x), x)
}

// SoftmaxCausal normalizes row[:valid] in place and zeroes the rest: one
// query row of causal attention whose first valid keys are visible.
func SoftmaxCausal(row []float32, valid int) {
	Softmax(row[:valid])
	clear(row[valid:])
}

// SoftmaxBack turns dp (the gradient of p = softmax(s)) into the gradient of
// s times scale, in place: dp[j] = p[j]·(dp[j] − Σ p·dp)·scale. The scale
// folds in the score scale (ScoreScale) when s = scale·(q·k).
func SoftmaxBack(dp, p []float32, scale float32) {
	s := sgemm.Dot(p, dp[:len(p)])
	for j, pj := range p {
		dp[j] = pj * (dp[j] - s) * scale
	}
}

// ScoreScale is the attention score scale 1/√d for head dim d, rounded to
// fp32 once.
func ScoreScale(d int) float32 { return float32(1 / math.Sqrt(float64(d))) }

// ExpRow replaces x by exp(x - max x) and returns the sum.
func ExpRow(x []float32) float32 {
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

// Exp is e^x in float32 (Cody-Waite range reduction and a degree-6
// polynomial, as in Cephes' expf): within 2 ulp of the rounded result.
// Arguments below -87.3 give 0, above 88.7 +Inf.
func Exp(x float32) float32 {
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

// NLL is −log softmax(z)[y] with the sum of exponentials in float64: the
// per-token loss that perplexity averages.
func NLL(z []float32, y int) float64 {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v - m))
	}
	return float64(m) + math.Log(s) - float64(z[y])
}

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

// ExpRow replaces x by exp(x - max x) and returns the sum. Each element is
// expPoly of its difference (0 below expMin), bit for bit what Exp gives;
// the sum runs in 16 lanes (element i into lane i mod 16) reduced pairwise,
// the same order on every CPU, so the AVX-512 and AVX2 kernels and the
// portable code agree exactly.
func ExpRow(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	var lanes [16]float32
	m, n := rowMax(x), 0
	if useExpKernel {
		n = expRowKernel(x, m, &lanes)
	}
	for i := n; i < len(x); i++ {
		var e float32
		if d := x[i] - m; d >= expMin {
			e = expPoly(d)
		}
		x[i] = e
		lanes[i%16] += e
	}
	for w := 8; w >= 1; w /= 2 {
		for i := 0; i < w; i++ {
			lanes[i] += lanes[i+w]
		}
	}
	return lanes[0]
}

// rowMax returns the largest element of x (len(x) > 0).
func rowMax(x []float32) float32 {
	m, n := float32(math.Inf(-1)), 0
	if useExpKernel {
		m, n = maxKernel(x)
	}
	for _, v := range x[n:] {
		m = max(m, v)
	}
	return m
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

// The constants of expPoly (float32 at every use, as the kernels load them).
const (
	expLog2e = 1.44269504088896341
	expMagic = 12582912 // 1.5·2²³
	expC1    = 0.693359375
	expC2    = -2.12194440e-4
	expP0    = 1.9875691500e-4
	expP1    = 1.3981999507e-3
	expP2    = 8.3334519073e-3
	expP3    = 4.1665795894e-2
	expP4    = 1.6666665459e-1
	expP5    = 5.0000001201e-1
)

// expPoly is e^x for x in [expMin, expMax], branch-free: n = round(x·log2 e)
// by the 1.5·2²³ trick, f = x - n·ln 2 in two parts, e^f by a polynomial.
// Every product rounds to float32 before it is added (the conversions forbid
// fused multiply-adds), so the vector kernels, which do the same operations
// lane by lane, give the same bits.
func expPoly(x float32) float32 {
	t := float32(x*expLog2e) + expMagic
	n := t - expMagic
	f := x - float32(n*expC1) - float32(n*expC2)
	p := float32(expP0)
	p = float32(p*f) + expP1
	p = float32(p*f) + expP2
	p = float32(p*f) + expP3
	p = float32(p*f) + expP4
	p = float32(p*f) + expP5
	r := float32(float32(p*f)*f) + f + 1
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

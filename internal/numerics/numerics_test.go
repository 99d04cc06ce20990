package numerics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The references here are float64 formulas from the definitions (HF
// transformers' Qwen2/Qwen3 modules, docs/methods.md), not this package.

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

func TestExp(t *testing.T) {
	var worst float64
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		worst = max(worst, math.Abs(float64(Exp(x))-want)/want)
	}
	t.Logf("max relative error %.3g", worst)
	if worst > 4e-7 {
		t.Errorf("Exp max relative error %g", worst)
	}
	for _, tt := range []struct{ x, want float32 }{{0, 1}, {-100, 0}, {float32(math.Inf(-1)), 0}, {100, float32(math.Inf(1))}} {
		if got := Exp(tt.x); got != tt.want {
			t.Errorf("Exp(%g) = %g, want %g", tt.x, got, tt.want)
		}
	}
}

func TestVectorOps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const d = 64
	x, w := randVec(r, d, 3), randVec(r, d, 1)
	cases := []struct {
		name string
		tol  float64
		got  func() []float32
		want func() []float64
	}{
		{"RMSNorm", 1e-6, func() []float32 {
			y := make([]float32, d)
			RMSNorm(y, x, w, 1e-6)
			return y
		}, func() []float64 {
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			rr := 1 / math.Sqrt(ss/d+1e-6)
			y := make([]float64, d)
			for i := range y {
				y[i] = float64(w[i]) * float64(x[i]) * rr
			}
			return y
		}},
		{"Rope at position 37, θ=1e6", 1e-5, func() []float32 {
			cos, sin := make([]float32, d/2), make([]float32, d/2)
			RopeTable(cos, sin, 37, 1, d, 1e6)
			y := append([]float32(nil), x...)
			Rope(y, cos, sin)
			return y
		}, func() []float64 {
			y := make([]float64, d)
			for i := 0; i < d/2; i++ {
				a := 37 * math.Pow(1e6, -float64(2*i)/d)
				y[i] = float64(x[i])*math.Cos(a) - float64(x[i+d/2])*math.Sin(a)
				y[i+d/2] = float64(x[i+d/2])*math.Cos(a) + float64(x[i])*math.Sin(a)
			}
			return y
		}},
		{"SiLUMul", 1e-6, func() []float32 {
			y := make([]float32, d)
			SiLUMul(y, x, w)
			return y
		}, func() []float64 {
			y := make([]float64, d)
			for i := range y {
				g := float64(x[i])
				y[i] = g / (1 + math.Exp(-g)) * float64(w[i])
			}
			return y
		}},
		{"SoftmaxCausal, 40 of 64 visible", 1e-7, func() []float32 {
			y := append([]float32(nil), x...)
			SoftmaxCausal(y, 40)
			return y
		}, func() []float64 {
			y := make([]float64, d)
			var s float64
			for i := 0; i < 40; i++ {
				y[i] = math.Exp(float64(x[i]))
				s += y[i]
			}
			for i := 0; i < 40; i++ {
				y[i] /= s
			}
			return y
		}},
	}
	for _, c := range cases {
		got, want := c.got(), c.want()
		var worst float64
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i])-want[i])/max(1, math.Abs(want[i])))
		}
		if worst > c.tol {
			t.Errorf("%s: max error %.3g > %g", c.name, worst, c.tol)
		}
	}
	if got, want := NLL(x, 5), func() float64 {
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v))
		}
		return math.Log(s) - float64(x[5])
	}(); math.Abs(got-want) > 1e-7 {
		t.Errorf("NLL = %v, want %v", got, want)
	}
}

// TestBackward checks every backward piece against central differences of
// the forward in float64 around random inputs: d/dx of Σ dy·f(x).
func TestBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const d = 16
	dy := randVec(r, d, 1)
	loss := func(y []float32) float64 {
		var s float64
		for i, v := range y {
			s += float64(dy[i]) * float64(v)
		}
		return s
	}
	check := func(name string, x []float32, f func(x []float32) []float32, grad []float32) {
		t.Helper()
		for i := range x {
			const h = 1e-2
			xp, xm := append([]float32(nil), x...), append([]float32(nil), x...)
			xp[i] += h
			xm[i] -= h
			num := (loss(f(xp)) - loss(f(xm))) / (2 * h)
			if math.Abs(num-float64(grad[i])) > 2e-3*max(1, math.Abs(num)) {
				t.Errorf("%s: gradient[%d] = %g, central difference %g", name, i, grad[i], num)
				return
			}
		}
	}
	x, w := randVec(r, d, 1), randVec(r, d, 1)
	rms := func(x []float32) []float32 { y := make([]float32, d); RMSNorm(y, x, w, 1e-6); return y }
	dx := make([]float32, d)
	RMSNormBack(dx, nil, dy, x, w, RMSNorm(make([]float32, d), x, w, 1e-6))
	check("RMSNormBack", x, rms, dx)

	cos, sin := make([]float32, d/2), make([]float32, d/2)
	RopeTable(cos, sin, 11, 1, d, 1e4)
	rope := func(x []float32) []float32 { y := append([]float32(nil), x...); Rope(y, cos, sin); return y }
	g := append([]float32(nil), dy...)
	RopeBack(g, cos, sin)
	check("RopeBack", x, rope, g)

	u := randVec(r, d, 1)
	dg, du := make([]float32, d), make([]float32, d)
	SiLUMulBack(dg, du, dy, x, u)
	check("SiLUMulBack (gate)", x, func(x []float32) []float32 { y := make([]float32, d); SiLUMul(y, x, u); return y }, dg)
	check("SiLUMulBack (up)", u, func(u []float32) []float32 { y := make([]float32, d); SiLUMul(y, x, u); return y }, du)

	const scale = 0.5
	sm := func(x []float32) []float32 {
		y := make([]float32, d)
		for i := range y {
			y[i] = x[i] * scale
		}
		Softmax(y)
		return y
	}
	dp := append([]float32(nil), dy...)
	SoftmaxBack(dp, sm(x), scale)
	check("SoftmaxBack", x, sm, dp)
}

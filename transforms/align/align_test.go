package align

import (
	"math"
	"math/rand"
	"testing"
)

// A value map that holds exactly is recovered, with no residual.
func TestVStatsRecoversExactMap(t *testing.T) {
	const d, n = 6, 300
	rng := rand.New(rand.NewSource(1))
	b := make([]float64, d*d)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	s := make([]float32, n*d)
	tg := make([]float32, n*d)
	for r := 0; r < n; r++ {
		for i := 0; i < d; i++ {
			s[r*d+i] = float32(rng.NormFloat64())
		}
		for j := 0; j < d; j++ {
			var x float64
			for i := 0; i < d; i++ {
				x += float64(s[r*d+i]) * b[i*d+j]
			}
			tg[r*d+j] = float32(x)
		}
	}
	v := newVStats(d)
	v.add(s, d, 0, tg, d, 0, n)
	got, res, err := v.solve()
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if math.Abs(got[i]-b[i]) > 1e-3 {
			t.Fatalf("B[%d] = %g, want %g", i, got[i], b[i])
		}
	}
	if e := explained(res, v.tt); e < 0.99999 {
		t.Fatalf("explained %g, want 1", e)
	}
	var cold float64
	for i := range tg {
		diff := float64(tg[i]) - float64(s[i])
		cold += diff * diff
	}
	if math.Abs(v.cold()-cold) > 1e-3*cold {
		t.Fatalf("cold residual %g, direct %g", v.cold(), cold)
	}
}

// A complex scale on every rotary pair is recovered whatever the rotation
// each token carries (RoPE multiplies both sides by the same e^{iθ}).
func TestKStatsRecoversComplexScale(t *testing.T) {
	const d, n = 8, 200
	h := d / 2
	rng := rand.New(rand.NewSource(2))
	cre, cim := make([]float64, h), make([]float64, h)
	for j := range cre {
		cre[j], cim[j] = rng.NormFloat64(), rng.NormFloat64()
	}
	s := make([]float32, n*d)
	tg := make([]float32, n*d)
	for r := 0; r < n; r++ {
		for j := 0; j < h; j++ {
			x, y := rng.NormFloat64(), rng.NormFloat64()
			th := rng.Float64() * 2 * math.Pi
			x, y = x*math.Cos(th)-y*math.Sin(th), x*math.Sin(th)+y*math.Cos(th)
			s[r*d+j], s[r*d+j+h] = float32(x), float32(y)
			tg[r*d+j], tg[r*d+j+h] = float32(cre[j]*x-cim[j]*y), float32(cre[j]*y+cim[j]*x)
		}
	}
	k := newKStats(d)
	k.add(s, d, 0, tg, d, 0, n)
	re, im, res := k.complexFit()
	for j := range re {
		if math.Abs(re[j]-cre[j]) > 1e-4 || math.Abs(im[j]-cim[j]) > 1e-4 {
			t.Fatalf("pair %d: c = %g%+gi, want %g%+gi", j, re[j], im[j], cre[j], cim[j])
		}
	}
	if e := explained(res, k.total()); e < 0.99999 {
		t.Fatalf("explained %g, want 1", e)
	}
}

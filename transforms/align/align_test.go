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

// The approximate Qwen3 fold: rows mapped by D⁻¹·R·D (D the q_norm weights
// of the pair) give, after the weight, exactly the complex scale conj(c)
// applied to the original weighted query pair (a complex product computed
// here directly), for every pair and head.
func TestRotateRowsThroughNorm(t *testing.T) {
	const d, heads, cols = 8, 3, 5
	h := d / 2
	rng := rand.New(rand.NewSource(3))
	w := make([]float32, d)
	for i := range w {
		w[i] = float32(0.5 + rng.Float64())
	}
	v := make([]float32, heads*d*cols)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	re, im := make([][]float64, heads), make([][]float64, heads)
	for hd := range re {
		re[hd], im[hd] = make([]float64, h), make([]float64, h)
		for j := 0; j < h; j++ {
			re[hd][j], im[hd][j] = rng.NormFloat64(), rng.NormFloat64()
		}
	}
	got := append([]float32(nil), v...)
	rotateRows(got, cols, d, heads, 1, re, im, w)
	for hd := 0; hd < heads; hd++ {
		for j := 0; j < h; j++ {
			for x := 0; x < cols; x++ {
				// original weighted pair as z = (w_j·r_j) + i(w_{j+h}·r_{j+h}), times conj(c)
				zr := float64(w[j] * v[(hd*d+j)*cols+x])
				zi := float64(w[j+h] * v[(hd*d+j+h)*cols+x])
				a, b := re[hd][j], -im[hd][j]
				wantR, wantI := a*zr-b*zi, a*zi+b*zr
				gotR := float64(w[j] * got[(hd*d+j)*cols+x])
				gotI := float64(w[j+h] * got[(hd*d+j+h)*cols+x])
				if math.Abs(gotR-wantR) > 1e-4 || math.Abs(gotI-wantI) > 1e-4 {
					t.Fatalf("head %d pair %d col %d: got %g%+gi, want %g%+gi", hd, j, x, gotR, gotI, wantR, wantI)
				}
			}
		}
	}
}

// The score fit's normal equations recover coefficients that hold exactly,
// and its residual is the direct ‖F·c − y‖².
func TestScoreStatsRecoversCoefficients(t *testing.T) {
	const nf, n = 6, 5000
	rng := rand.New(rand.NewSource(4))
	want := make([]float64, nf)
	for i := range want {
		want[i] = rng.NormFloat64()
	}
	s := newScoreStats(nf)
	f := make([]float32, nf)
	var direct float64
	zero := make([]float64, nf)
	for r := 0; r < n; r++ {
		var y float64
		for i := range f {
			f[i] = float32(rng.NormFloat64())
			y += float64(f[i]) * want[i]
		}
		s.row(f, float32(y))
		direct += y * y
	}
	s.flush()
	got, err := s.solve(zero, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-3 {
			t.Fatalf("c[%d] = %g, want %g", i, got[i], want[i])
		}
	}
	if r := s.residual(zero); math.Abs(r-direct) > 1e-3*direct {
		t.Fatalf("residual at 0 = %g, direct %g", r, direct)
	}
	if e := explained(s.residual(got), s.yy); e < 0.9999 {
		t.Fatalf("explained %g, want 1", e)
	}
}

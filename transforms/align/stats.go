package align

import (
	"fmt"
	"math"

	"github.com/retrofit-llm/retrofit/sgemm"
)

// vStats holds the normal equations of v_own ≈ v_src·B for one head:
// SᵀS, SᵀT (d×d) and ‖T‖².
type vStats struct {
	d      int
	ss, st []float64
	tt     float64
	buf    []float32
}

func newVStats(d int) *vStats {
	return &vStats{d: d, ss: make([]float64, d*d), st: make([]float64, d*d), buf: make([]float32, d*d)}
}

// add accumulates t tokens: source head columns s[offS:offS+d] of rows of
// ldS values, target columns t[offT:offT+d] of rows of ldT values.
func (v *vStats) add(s []float32, ldS, offS int, tg []float32, ldT, offT, t int) {
	d := v.d
	sgemm.Gemm(true, false, d, d, t, 1, s[offS:], ldS, s[offS:], ldS, 0, v.buf, d)
	for i, x := range v.buf {
		v.ss[i] += float64(x)
	}
	sgemm.Gemm(true, false, d, d, t, 1, s[offS:], ldS, tg[offT:], ldT, 0, v.buf, d)
	for i, x := range v.buf {
		v.st[i] += float64(x)
	}
	for r := 0; r < t; r++ {
		for _, x := range tg[r*ldT+offT : r*ldT+offT+d] {
			v.tt += float64(x) * float64(x)
		}
	}
}

// solve returns B (d×d, row i = input dimension i) minimising ‖T − S·B‖²
// with a tiny ridge (1e-6 of the mean source energy per dimension) that
// keeps a dimension the source never uses at zero, and the residual.
func (v *vStats) solve() ([]float64, float64, error) {
	d := v.d
	a := append([]float64(nil), v.ss...)
	var tr float64
	for i := 0; i < d; i++ {
		tr += a[i*d+i]
	}
	lambda := 1e-6*tr/float64(d) + 1e-30
	for i := 0; i < d; i++ {
		a[i*d+i] += lambda
	}
	b := append([]float64(nil), v.st...)
	if err := cholSolve(a, b, d, d); err != nil {
		return nil, 0, err
	}
	return b, v.residual(b), nil
}

// residual is ‖T − S·B‖² = ‖T‖² − 2·tr(Bᵀ·SᵀT) + tr(Bᵀ·SᵀS·B).
func (v *vStats) residual(b []float64) float64 {
	d := v.d
	r := v.tt
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			r -= 2 * b[i*d+j] * v.st[i*d+j]
			var sb float64 // (SᵀS·B)[i][j]
			for x := 0; x < d; x++ {
				sb += v.ss[i*d+x] * b[x*d+j]
			}
			r += b[i*d+j] * sb
		}
	}
	return max(r, 0)
}

// cold is the residual of B = I (the source used unchanged).
func (v *vStats) cold() float64 {
	r := v.tt
	for i := 0; i < v.d; i++ {
		r += v.ss[i*v.d+i] - 2*v.st[i*v.d+i]
	}
	return max(r, 0)
}

// cholSolve solves A·X = B in place (A n×n symmetric positive definite, B
// n×m, X written into b).
func cholSolve(a, b []float64, n, m int) error {
	for j := 0; j < n; j++ {
		s := a[j*n+j]
		for k := 0; k < j; k++ {
			s -= a[j*n+k] * a[j*n+k]
		}
		if s <= 0 || !finite(s) {
			return fmt.Errorf("align: the source values are degenerate (Gram matrix not positive definite at %d)", j)
		}
		a[j*n+j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / a[j*n+j]
		}
	}
	for c := 0; c < m; c++ {
		for i := 0; i < n; i++ { // L·y = b
			s := b[i*m+c]
			for k := 0; k < i; k++ {
				s -= a[i*n+k] * b[k*m+c]
			}
			b[i*m+c] = s / a[i*n+i]
		}
		for i := n - 1; i >= 0; i-- { // Lᵀ·x = y
			s := b[i*m+c]
			for k := i + 1; k < n; k++ {
				s -= a[k*n+i] * b[k*m+c]
			}
			b[i*m+c] = s / a[i*n+i]
		}
	}
	return nil
}

// kStats holds, per rotary pair j of one head (dimensions j and j+d/2 as the
// complex number z = k_j + i·k_{j+d/2}, on which RoPE multiplies by e^{iθ}),
// Σ|z_src|², Σ conj(z_src)·z_own and Σ|z_own|².
type kStats struct {
	half           int
	zz, re, im, tt []float64
}

func newKStats(d int) *kStats {
	h := d / 2
	return &kStats{half: h, zz: make([]float64, h), re: make([]float64, h), im: make([]float64, h), tt: make([]float64, h)}
}

func (k *kStats) add(s []float32, ldS, offS int, tg []float32, ldT, offT, t int) {
	h := k.half
	for r := 0; r < t; r++ {
		a, b := s[r*ldS+offS:], tg[r*ldT+offT:]
		for j := 0; j < h; j++ {
			x1, y1 := float64(a[j]), float64(a[j+h])
			x2, y2 := float64(b[j]), float64(b[j+h])
			k.zz[j] += x1*x1 + y1*y1
			k.re[j] += x1*x2 + y1*y2
			k.im[j] += x1*y2 - y1*x2
			k.tt[j] += x2*x2 + y2*y2
		}
	}
}

// complexFit returns c_j = Σ conj(z_src)·z_own / Σ|z_src|² per pair (1 where
// the source is silent) and the residual Σ|z_own − c·z_src|².
func (k *kStats) complexFit() (re, im []float64, res float64) {
	re, im = make([]float64, k.half), make([]float64, k.half)
	for j := range re {
		if k.zz[j] == 0 {
			re[j] = 1
			res += k.tt[j]
			continue
		}
		re[j], im[j] = k.re[j]/k.zz[j], k.im[j]/k.zz[j]
		res += max(k.tt[j]-(k.re[j]*k.re[j]+k.im[j]*k.im[j])/k.zz[j], 0)
	}
	return re, im, res
}

// realResidual is Σ|z_own − s_j·z_src|² for real scales s.
func (k *kStats) realResidual(s []float64) float64 {
	var r float64
	for j, x := range s {
		r += max(k.tt[j]-2*x*k.re[j]+x*x*k.zz[j], 0)
	}
	return r
}

// cold is the residual of c = 1.
func (k *kStats) cold() float64 {
	var r float64
	for j := range k.tt {
		r += max(k.tt[j]-2*k.re[j]+k.zz[j], 0)
	}
	return r
}

func (k *kStats) total() float64 { return sumSlice(k.tt) }

func sumSlice(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

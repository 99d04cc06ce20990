package numerics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// depthSetup returns a layer with candidates {0, 2} of a 4-layer stack
// (rows of 2 heads × d at offset d: head 1), a group of 3 query heads and
// the own key/value.
func depthSetup(r *rand.Rand, d int) (dm Depth, q []float32) {
	dm = Depth{Cands: []int{0, 2}, K: make([][]float32, 4), V: make([][]float32, 4), Off: d}
	for _, c := range dm.Cands {
		dm.K[c], dm.V[c] = randVec(r, 2*d, 1), randVec(r, 2*d, 1)
	}
	dm.Key, dm.Value = randVec(r, d, 1), randVec(r, d, 1)
	return dm, randVec(r, 2*3*d, 1)
}

// TestDepthMix checks Mix against methods.md's formula in float64: q̄ the
// mean of the group's queries, α = softmax(q̄·k/√d) over the candidates'
// keys and the own key (plus the warm start's SelfBias), v' = Σ α_j v'_j +
// α_self v.
func TestDepthMix(t *testing.T) {
	for _, bias := range []float32{0, 1.5, -0.75} {
		t.Run(fmt.Sprint("bias=", bias), func(t *testing.T) { testDepthMix(t, bias) })
	}
}

func testDepthMix(t *testing.T, bias float32) {
	const d = 8
	dm, q := depthSetup(rand.New(rand.NewPCG(5, 6)), d)
	dm.SelfBias = bias
	qbar := make([]float32, d)
	GroupMean(qbar, q, 1, 3, d)
	out, alpha := make([]float32, d), make([]float32, 3)
	dm.Mix(out, alpha, qbar, ScoreScale(d))

	qb := make([]float64, d)
	for hd := 3; hd < 6; hd++ {
		for x := 0; x < d; x++ {
			qb[x] += float64(q[hd*d+x]) / 3
		}
	}
	keys := [][]float32{dm.K[0][d:], dm.K[2][d:], dm.Key}
	vals := [][]float32{dm.V[0][d:], dm.V[2][d:], dm.Value}
	s := make([]float64, 3)
	var z float64
	for j, k := range keys {
		for x := 0; x < d; x++ {
			s[j] += qb[x] * float64(k[x]) / math.Sqrt(d)
		}
		if j == len(keys)-1 {
			s[j] += float64(bias)
		}
		s[j] = math.Exp(s[j])
		z += s[j]
	}
	for j := range s {
		s[j] /= z
		if math.Abs(float64(alpha[j])-s[j]) > 1e-6 {
			t.Errorf("alpha[%d] = %g, want %g", j, alpha[j], s[j])
		}
	}
	for x := 0; x < d; x++ {
		var want float64
		for j, v := range vals {
			want += s[j] * float64(v[x])
		}
		if math.Abs(float64(out[x])-want) > 1e-6 {
			t.Errorf("mix[%d] = %g, want %g", x, out[x], want)
		}
	}
}

// TestDepthMixBack checks MixBack and GroupMeanBack against central
// differences of GroupMean + Mix for every input: queries, candidates' keys
// and values, own key and value, with and without a self-score bias.
func TestDepthMixBack(t *testing.T) {
	for _, bias := range []float32{0, 1.5} {
		t.Run(fmt.Sprint("bias=", bias), func(t *testing.T) { testDepthMixBack(t, bias) })
	}
}

func testDepthMixBack(t *testing.T, bias float32) {
	const d = 4
	r := rand.New(rand.NewPCG(7, 8))
	dm, q := depthSetup(r, d)
	dm.SelfBias = bias
	dy := randVec(r, d, 1)
	scale := ScoreScale(d)
	loss := func() float64 {
		qbar, out, alpha := make([]float32, d), make([]float32, d), make([]float32, 3)
		GroupMean(qbar, q, 1, 3, d)
		dm.Mix(out, alpha, qbar, scale)
		var s float64
		for i, v := range out {
			s += float64(dy[i]) * float64(v)
		}
		return s
	}
	qbar, out, alpha := make([]float32, d), make([]float32, d), make([]float32, 3)
	GroupMean(qbar, q, 1, 3, d)
	dm.Mix(out, alpha, qbar, scale)
	dK, dV := make([][]float32, 4), make([][]float32, 4)
	for _, c := range dm.Cands {
		dK[c], dV[c] = make([]float32, 2*d), make([]float32, 2*d)
	}
	dkey, dqbar, dq := make([]float32, d), make([]float32, d), make([]float32, len(q))
	dmix := append([]float32(nil), dy...)
	dm.MixBack(dmix, make([]float32, 3), dK, dV, dkey, dqbar, alpha, qbar, scale)
	GroupMeanBack(dq, dqbar, 1, 3, d)

	check := func(name string, x, grad []float32) {
		t.Helper()
		for i := range x {
			const h = 1e-2
			old := x[i]
			x[i] = old + h
			lp := loss()
			x[i] = old - h
			lm := loss()
			x[i] = old
			num := (lp - lm) / (2 * h)
			if math.Abs(num-float64(grad[i])) > 2e-3*max(1, math.Abs(num)) {
				t.Errorf("%s: gradient[%d] = %g, central difference %g", name, i, grad[i], num)
				return
			}
		}
	}
	check("queries", q, dq)
	check("own key", dm.Key, dkey)
	check("own value", dm.Value, dmix)
	for _, c := range dm.Cands {
		check("candidate key", dm.K[c], dK[c])
		check("candidate value", dm.V[c], dV[c])
	}
}

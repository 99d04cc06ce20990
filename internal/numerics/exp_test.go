package numerics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// expRows are ExpRow's test rows: lengths around the kernels' 16-element
// step, differences down past expMin, -Inf entries (masked scores) and a
// row of large values.
func expRows() [][]float32 {
	r := rand.New(rand.NewPCG(3, 4))
	var rows [][]float32
	for _, n := range []int{1, 2, 15, 16, 17, 31, 33, 100, 4096} {
		rows = append(rows, randVec(r, n, 30))
	}
	wide := randVec(r, 257, 1)
	for i := range wide {
		wide[i] = float32(i)*-0.4 + wide[i] // differences to −102, past expMin
	}
	wide[7] = float32(math.Inf(-1))
	big := randVec(r, 48, 1)
	for i := range big {
		big[i] += 80
	}
	return append(rows, wide, big)
}

// TestExpRow checks every element of ExpRow against math.Exp of the
// difference in float64 and the sum against the float64 sum.
func TestExpRow(t *testing.T) {
	var worst, worstSum float64
	for _, x := range expRows() {
		m := math.Inf(-1)
		for _, v := range x {
			m = max(m, float64(v))
		}
		want := make([]float64, len(x))
		var sum float64
		for i, v := range x {
			if d := float32(v) - float32(m); d >= expMin { // the difference, rounded as the row is
				want[i] = math.Exp(float64(d))
			}
			sum += want[i]
		}
		got := append([]float32(nil), x...)
		s := ExpRow(got)
		for i := range got {
			err := math.Abs(float64(got[i]) - want[i])
			if want[i] > 1e-30 {
				err /= want[i]
			}
			worst = max(worst, err)
			if err > 4e-7 {
				t.Fatalf("len %d: exp(x[%d] − max) = %g, want %g", len(x), i, got[i], want[i])
			}
		}
		serr := math.Abs(float64(s)-sum) / sum
		worstSum = max(worstSum, serr)
		if serr > 1e-6 {
			t.Errorf("len %d: sum %g, want %g", len(x), s, sum)
		}
	}
	t.Logf("max relative error: elements %.3g, sums %.3g", worst, worstSum)
	if ExpRow(nil) != 0 {
		t.Errorf("ExpRow(nil) != 0")
	}
}

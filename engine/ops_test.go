package engine

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	var worst float64
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		worst = max(worst, math.Abs(got-want)/want)
	}
	t.Logf("max relative error %.3g", worst)
	if worst > 4e-7 {
		t.Errorf("expf max relative error %g", worst)
	}
	for _, tt := range []struct{ x, want float32 }{{0, 1}, {-100, 0}, {float32(math.Inf(-1)), 0}, {100, float32(math.Inf(1))}} {
		if got := expf(tt.x); got != tt.want {
			t.Errorf("expf(%g) = %g, want %g", tt.x, got, tt.want)
		}
	}
}

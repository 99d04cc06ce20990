package kvsharer

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

func TestDistance(t *testing.T) {
	s := &search{cfg: model.Config{HeadDim: 2}}
	// Two positions × two heads of dim 2: per-head L2 norms 5, 0, 1, 2 → mean 2.
	a := []float32{3, 4, 1, 1, 0, 1, 2, 2}
	b := []float32{0, 0, 1, 1, 0, 0, 2, 0}
	if got := s.distance(a, b); got != 2 {
		t.Errorf("distance = %v, want 2", got)
	}
	if got := cosine([]float32{1, 0, 1}, []float32{1, 1, 0}); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("cosine = %v, want 0.5", got)
	}
}

func TestCalibration(t *testing.T) {
	got, err := calibration([][]int{{1, 2, 3, 4}, {5, 6, 7}}, 10)
	if err != nil || !reflect.DeepEqual(got, [][]int{{1, 2, 3}, {5, 6, 7}}) {
		t.Errorf("calibration = %v, %v; want both samples cut to 3 tokens", got, err)
	}
	for _, tc := range []struct {
		calib [][]int
		want  string
	}{
		{nil, "needs calibration samples"},
		{[][]int{{1}}, "sample 0 has 1 tokens"},
		{[][]int{{1, 2}, {3, 10}}, "sample 1: token 10 outside the vocabulary [0, 10)"},
	} {
		if _, err := calibration(tc.calib, 10); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("calibration(%v) error %v, want %q", tc.calib, err, tc.want)
		}
	}
}

package model

import (
	"reflect"
	"testing"
)

// TestDepthCandidates checks C'(l) of docs/methods.md: candidates stand for
// the K/V they read, and each stored K/V is listed once.
func TestDepthCandidates(t *testing.T) {
	cla2 := []int{0, 0, 2, 2, 4, 4}
	cases := []struct {
		name           string
		kv             []int
		stride, window int
		layer          int
		want           []int
	}{
		{"stride 1", nil, 1, 0, 4, []int{0, 1, 2, 3}},
		{"stride 3", nil, 3, 0, 5, []int{0, 3}},
		{"stride 3 window 1", nil, 3, 1, 5, []int{0, 3, 4}},
		{"window only", nil, 0, 2, 4, []int{2, 3}},
		{"cla2 stride 1: 0 and 1 read 0", cla2, 1, 0, 2, []int{0}},
		{"cla2 stride 1: 0..3 read 0 and 2", cla2, 1, 0, 4, []int{0, 2}},
		{"cla2 stride 3: 0 and 3 read 0 and 2", cla2, 3, 0, 4, []int{0, 2}},
		{"kvsharer map", []int{0, 1, 2, 2, 1, 5}, 1, 0, 5, []int{0, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := DefaultLayout(6)
			if c.kv != nil {
				l.KVSource = c.kv
			}
			l.DepthStride, l.DepthWindow = c.stride, c.window
			if got := l.DepthCandidates(c.layer); got != nil {
				t.Fatalf("layer %d does not mix, got candidates %v", c.layer, got)
			}
			l.DepthMix[c.layer] = true
			if got := l.DepthCandidates(c.layer); !reflect.DeepEqual(got, c.want) {
				t.Errorf("DepthCandidates(%d) = %v, want %v", c.layer, got, c.want)
			}
		})
	}
}

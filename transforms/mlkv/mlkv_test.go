package mlkv

import (
	"reflect"
	"testing"
)

// The official conversion's placement, [0] + [int((i+1)·L/N) for i in
// range(N−1)], worked out by hand.
func TestPlacement(t *testing.T) {
	for _, tc := range []struct {
		layers, kv int
		want       []int
	}{
		{6, 3, []int{0, 2, 4}},
		{6, 1, []int{0}},
		{6, 4, []int{0, 1, 3, 4}},
		{4, 2, []int{0, 2}},
		{12, 1, []int{0}},
		{12, 2, []int{0, 6}},
		{12, 3, []int{0, 4, 8}},
		{12, 4, []int{0, 3, 6, 9}},
		{12, 5, []int{0, 2, 4, 7, 9}},
		{12, 6, []int{0, 2, 4, 6, 8, 10}},
		{12, 7, []int{0, 1, 3, 5, 6, 8, 10}},
		{12, 8, []int{0, 1, 3, 4, 6, 7, 9, 10}},
		{12, 12, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	} {
		if got := Placement(tc.layers, tc.kv); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Placement(%d, %d) = %v, want %v", tc.layers, tc.kv, got, tc.want)
		}
	}
}

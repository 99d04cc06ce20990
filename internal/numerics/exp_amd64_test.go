//go:build amd64 && !purego

package numerics

import (
	"math"
	"testing"
)

// TestExpRowKernels checks that the AVX-512 kernel, the AVX2 kernel and the
// portable code give the same bits, elements and sum, on every row (on the
// CPUs this machine has).
func TestExpRowKernels(t *testing.T) {
	defer func(a, k bool) { hasAVX512, useExpKernel = a, k }(hasAVX512, useExpKernel)
	paths := []struct {
		name     string
		avx512   bool
		kernel   bool
		runnable bool
	}{
		{"portable", false, false, true},
		{"AVX2", false, true, useExpKernel},
		{"AVX-512", true, true, hasAVX512},
	}
	nan := []float32{1, 2, float32(math.NaN()), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, x := range append(expRows(), nan, nan[1:]) {
		var want []float32
		var wantSum float32
		for _, p := range paths {
			if !p.runnable {
				t.Logf("%s: not on this CPU", p.name)
				continue
			}
			hasAVX512, useExpKernel = p.avx512, p.kernel
			got := append([]float32(nil), x...)
			s := ExpRow(got)
			if want == nil {
				want, wantSum = got, s
				continue
			}
			if math.Float32bits(s) != math.Float32bits(wantSum) {
				t.Errorf("%s, len %d: sum %g, portable %g", p.name, len(x), s, wantSum)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s, len %d: element %d = %g, portable %g", p.name, len(x), i, got[i], want[i])
				}
			}
		}
	}
}

//go:build amd64 && !purego

package numerics

import (
	"math"

	"golang.org/x/sys/cpu"
)

// The row kernels of ExpRow: AVX-512 where the CPU has AVX512F, else AVX2.
var (
	hasAVX512    = cpu.X86.HasAVX512F
	useExpKernel = hasAVX512 || cpu.X86.HasAVX2
)

// expConsts are expPoly's constants as the kernels load them, each 8 times
// (one ymm): expMin, log2 e, magic, c1, c2, p0…p5, 1, and the integer
// 0x4B400000 − 127 that turns t's bits into the exponent field of 2ⁿ.
var expConsts = func() (c [13][8]float32) {
	v := [13]float32{expMin, expLog2e, expMagic, expC1, expC2, expP0, expP1, expP2, expP3, expP4, expP5, 1,
		math.Float32frombits(0x4B400000 - 127)}
	for i := range c {
		for j := range c[i] {
			c[i][j] = v[i]
		}
	}
	return c
}()

// expRowKernel does ExpRow's elements [0, n) for n = len(x) rounded down to
// 16, adding element i into lanes[i%16], and returns n.
func expRowKernel(x []float32, m float32, lanes *[16]float32) int {
	n := len(x) &^ 15
	if n == 0 {
		return 0
	}
	if hasAVX512 {
		expRowAVX512(&x[0], n, m, lanes, &expConsts)
	} else {
		expRowAVX2(&x[0], n, m, lanes, &expConsts)
	}
	return n
}

// maxKernel returns the largest of x's first n elements (NaN when one is
// NaN), n = len(x) rounded down to 16.
func maxKernel(x []float32) (float32, int) {
	n := len(x) &^ 15
	if n == 0 {
		return float32(math.Inf(-1)), 0
	}
	if hasAVX512 {
		return maxAVX512(&x[0], n), n
	}
	return maxAVX2(&x[0], n), n
}

//go:noescape
func expRowAVX512(x *float32, n int, m float32, lanes *[16]float32, c *[13][8]float32)

//go:noescape
func expRowAVX2(x *float32, n int, m float32, lanes *[16]float32, c *[13][8]float32)

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

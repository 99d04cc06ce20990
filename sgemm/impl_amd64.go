//go:build amd64 && !purego

package sgemm

import "golang.org/x/sys/cpu"

//go:generate go run gen_asm.go

// Register tiles of the assembly kernels (must match gen_asm.go).
const (
	avx512MR = 12
	avx512NR = 32
	avx2MR   = 6
	avx2NR   = 16
)

//go:noescape
func kernelAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernelAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dotAVX512(a, b []float32) float32

//go:noescape
func axpyAVX512(alpha float32, x, y []float32)

//go:noescape
func scaleAVX512(alpha float32, x []float32)

//go:noescape
func dot4AVX512(a0, a1, a2, a3, b *float32, n int, out *[4]float32)

//go:noescape
func dotAVX2(a, b []float32) float32

//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

//go:noescape
func scaleAVX2(alpha float32, x []float32)

var avx512Impl = kernelImpl{
	name:  "avx512",
	mr:    avx512MR,
	nr:    avx512NR,
	kern:  kernelAVX512,
	dot:   dotAVX512,
	dot4:  dot4AVX512,
	axpy:  axpyAVX512,
	scale: scaleAVX512,
}

var avx2Impl = kernelImpl{
	name:  "avx2",
	mr:    avx2MR,
	nr:    avx2NR,
	kern:  kernelAVX2,
	dot:   dotAVX2,
	axpy:  axpyAVX2,
	scale: scaleAVX2,
}

func hasAVX512() bool { return cpu.X86.HasAVX512F }
func hasAVX2() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

func init() {
	switch {
	case hasAVX512():
		impl = &avx512Impl
	case hasAVX2():
		impl = &avx2Impl
	}
}

func availableImpls() []*kernelImpl {
	l := []*kernelImpl{&genericImpl}
	if hasAVX2() {
		l = append(l, &avx2Impl)
	}
	if hasAVX512() {
		l = append(l, &avx512Impl)
	}
	return l
}

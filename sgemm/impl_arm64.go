//go:build arm64 && !purego

package sgemm

//go:generate go run gen_neon.go

// Register tile of the NEON kernel (must match gen_neon.go).
const (
	neonMR = 8
	neonNR = 12
)

//go:noescape
func kernelNEON(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dotNEON(a, b []float32) float32

//go:noescape
func axpyNEON(alpha float32, x, y []float32)

//go:noescape
func scaleNEON(alpha float32, x []float32)

// neonImpl needs only ASIMD, which every arm64 CPU has (it is part of the
// ARMv8-A base profile Go requires), so it is chosen unconditionally.
var neonImpl = kernelImpl{
	name:  "neon",
	mr:    neonMR,
	nr:    neonNR,
	kern:  kernelNEON,
	dot:   dotNEON,
	axpy:  axpyNEON,
	scale: scaleNEON,
}

func init() { impl = &neonImpl }

func availableImpls() []*kernelImpl { return []*kernelImpl{&genericImpl, &neonImpl} }

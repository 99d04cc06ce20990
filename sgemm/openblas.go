//go:build openblas && cgo

package sgemm

import "github.com/retrofit-llm/retrofit/sgemm/internal/cblas"

// With the openblas build tag Gemm is delegated to the system OpenBLAS
// (cblas_sgemm). OpenBLAS does not promise results that are independent of
// its thread count; Dot/Axpy/Scale keep using this package's SIMD code.
func init() { blasGemm = openblasGemm }

func openblasGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 || alpha == 0 {
		scaleC(impl, m, n, beta, c, ldc)
		return
	}
	acols, bcols := k, n
	if transA {
		acols = m
	}
	if transB {
		bcols = k
	}
	cblas.Sgemm(transA, transB, m, n, k, alpha, a, max(lda, acols), b, max(ldb, bcols), beta, c, max(ldc, n))
}

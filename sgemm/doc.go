// Package sgemm owns retrofit's single-precision dense linear algebra on the
// CPU: a cache-blocked, packed, multi-threaded GEMM (Gemm, MatMulT) plus the
// SIMD vector helpers the engine needs (Dot, Axpy, Scale).
//
// On amd64 the inner micro-kernels are written in Go assembly (AVX-512 and
// AVX2/FMA variants chosen at run time); everywhere else, or with the purego
// build tag, a portable Go kernel is used. With the openblas build tag (and
// cgo) Gemm is delegated to the system OpenBLAS instead.
//
// Results are deterministic: work is only ever split across goroutines over
// rows/columns of C, never over the reduction dimension K, so the output is
// bit-identical whatever GOMAXPROCS is.
package sgemm

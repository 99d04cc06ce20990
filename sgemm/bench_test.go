package sgemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func benchGemm(b *testing.B, transB bool, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a := randSlice(r, m*k)
	bb := randSlice(r, n*k)
	c := make([]float32, m*n)
	ldb := n
	if transB {
		ldb = k
	}
	Gemm(false, transB, m, n, k, 1, a, k, bb, ldb, 0, c, n)
	b.ResetTimer()
	for b.Loop() {
		Gemm(false, transB, m, n, k, 1, a, k, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSquare(b *testing.B) {
	for _, s := range []int{512, 1024, 2048} {
		b.Run(fmt.Sprintf("NN/%d", s), func(b *testing.B) { benchGemm(b, false, s, s, s) })
		b.Run(fmt.Sprintf("NT/%d", s), func(b *testing.B) { benchGemm(b, true, s, s, s) })
	}
}

// BenchmarkSmall checks that tiny problems stay cheap (no goroutines).
func BenchmarkSmall(b *testing.B) {
	for _, s := range []int{8, 32, 64, 128, 256} {
		b.Run(fmt.Sprintf("NT/%d", s), func(b *testing.B) { benchGemm(b, true, s, s, s) })
	}
}

// BenchmarkLLM covers the shapes of a small LLM: C = X·Wᵀ with W [out,in].
func BenchmarkLLM(b *testing.B) {
	for _, s := range [][3]int{
		{512, 1024, 1024}, // prefill projection
		{512, 3072, 1024}, // prefill MLP up
		{1, 151936, 1024}, // lm head, decode
		{1, 1024, 1024},   // decode projection
		{4, 3072, 1024},   // small batch decode
		{8, 3072, 1024},   // small batch decode
		{16, 3072, 1024},  // small batch
	} {
		b.Run(fmt.Sprintf("m=%d,n=%d,k=%d", s[0], s[1], s[2]), func(b *testing.B) { benchGemm(b, true, s[0], s[1], s[2]) })
	}
}

func BenchmarkDot(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randSlice(r, 1024), randSlice(r, 1024)
	var s float32
	for b.Loop() {
		s += Dot(x, y)
	}
	b.ReportMetric(2*1024*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	_ = s
}

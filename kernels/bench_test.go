package kernels

import (
	"flag"
	"math/rand/v2"
	"testing"
)

// Qwen3-0.6B weight shapes (rows = outputs, cols = inputs).
var benchShapes = []struct {
	name       string
	rows, cols int
}{
	{"o_1024x1024", 1024, 1024},
	{"q_2048x1024", 2048, 1024},
	{"up_3072x1024", 3072, 1024},
	{"down_1024x3072", 1024, 3072},
	{"head_151936x1024", 151936, 1024},
}

var benchSet = flag.String("kernels", "", "kernel set to benchmark: generic, avx2, avx512vnni+bf16, neon, neon+dotprod (default: this CPU's)")

// benchMatMul reports GB/s of weight bytes (GEMV, n = 1) or GFLOP/s (GEMM).
// Threads: -cpu sets GOMAXPROCS, which MatMul uses.
func benchMatMul(b *testing.B, typ Type, mode Mode, rows, cols, n int) {
	if *benchSet != "" {
		found := false
		for _, k := range availableSets() {
			if k.name == *benchSet {
				old := active
				active, found = k, true
				defer func() { active = old }()
			}
		}
		if !found {
			b.Skipf("kernel set %q not available", *benchSet)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	w, err := NewMatrix(typ, rows, cols, randWeights(r, typ, rows, cols))
	if err != nil {
		b.Fatal(err)
	}
	x := randX(r, n*cols)
	y := make([]float32, n*rows)
	MatMul(y, x, n, w, mode, 0)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		MatMul(y, x, n, w, mode, 0)
	}
	// Per wall second, and per second of CPU time (robust to a loaded
	// machine: time the process was not running is not counted).
	s := b.Elapsed().Seconds() / float64(b.N)
	c := (cpuTime() - cpu0) / float64(b.N)
	if n == 1 {
		b.ReportMetric(float64(len(w.Data()))/s/1e9, "GB/s")
		b.ReportMetric(float64(len(w.Data()))/c/1e9, "GB/cpu-s")
	} else {
		b.ReportMetric(2*float64(n*rows*cols)/s/1e9, "GFLOP/s")
		b.ReportMetric(2*float64(n*rows*cols)/c/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkGEMV: decode, one activation row.
//
//	go test ./kernels -run - -bench GEMV -cpu 2
func BenchmarkGEMV(b *testing.B) {
	for _, typ := range []Type{F32, BF16, F16, Q8_0, Q4_0, Q4_K, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			for _, mode := range []Mode{Exact, Fast} {
				if typ == F32 && mode == Fast {
					continue // Fast is Exact for F32
				}
				b.Run(mode.String(), func(b *testing.B) {
					for _, s := range benchShapes {
						b.Run(s.name, func(b *testing.B) { benchMatMul(b, typ, mode, s.rows, s.cols, 1) })
					}
				})
			}
		})
	}
}

// BenchmarkGEMM: prefill, 512 activation rows.
//
//	go test ./kernels -run - -bench GEMM -cpu 2
func BenchmarkGEMM(b *testing.B) {
	for _, typ := range []Type{F32, BF16, F16, Q8_0, Q4_0, Q4_K, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			for _, mode := range []Mode{Exact, Fast} {
				if typ == F32 && mode == Fast {
					continue // Fast is Exact for F32
				}
				b.Run(mode.String(), func(b *testing.B) {
					for _, s := range benchShapes[:4] {
						b.Run(s.name, func(b *testing.B) { benchMatMul(b, typ, mode, s.rows, s.cols, 512) })
					}
				})
			}
		})
	}
}

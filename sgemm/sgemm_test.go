package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// refGemm is the naive float64 reference. It also returns, per element, the
// magnitude bound |alpha|·Σ|a||b| + |beta·c| used to scale the tolerance.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (out, mag []float64) {
	out = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			v := float64(alpha) * s
			mg := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
				mg += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			out[i*n+j] = v
			mag[i*n+j] = mg
		}
	}
	return out, mag
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra stride beyond the row width
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d", tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// runCase runs one case through fn and checks it against the reference.
func runCase(t *testing.T, tc gemmCase, fn func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(tc.m*131+tc.n*7+tc.k), uint64(tc.pad+1)))
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	a := randSlice(r, max(ar*lda, 1))
	b := randSlice(r, max(br*ldb, 1))
	c := randSlice(r, max(tc.m*ldc, 1))
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // must not leak into the result
		}
	}
	c0 := append([]float32(nil), c...)
	want, mag := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	fn(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	tol := 2e-7 * float64(tc.k+8)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			got := c[i*ldc+j]
			if j >= tc.n {
				if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
					t.Fatalf("%v: padding C[%d,%d] modified", tc, i, j)
				}
				continue
			}
			w := want[i*tc.n+j]
			if d := math.Abs(float64(got) - w); !(d <= tol*mag[i*tc.n+j]+1e-30) {
				t.Fatalf("%v: C[%d,%d] = %g, want %g (err %g, bound %g)", tc, i, j, got, w, d, tol*mag[i*tc.n+j])
			}
		}
	}
}

func gemmCases() []gemmCase {
	dims := [][3]int{
		{0, 0, 0}, {0, 5, 3}, {5, 0, 3}, {3, 4, 0}, {1, 1, 1}, {1, 7, 1}, {1, 1, 9},
		{2, 3, 4}, {1, 33, 17}, {1, 100, 70}, {3, 50, 40}, {4, 65, 31}, {5, 64, 64},
		{7, 1, 13}, {40, 1, 33}, {13, 17, 19}, {12, 32, 8}, {24, 64, 16}, {6, 16, 5},
		{31, 33, 35}, {37, 29, 300}, {65, 97, 129}, {100, 70, 257}, {193, 45, 60},
	}
	ab := [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}, {0, 2}, {2, -1}}
	var cases []gemmCase
	for di, d := range dims {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				v := ab[(di+boolInt(tA)+2*boolInt(tB))%len(ab)]
				pad := (di + boolInt(tA)) % 3 * 3
				cases = append(cases, gemmCase{tA, tB, d[0], d[1], d[2], v[0], v[1], pad})
			}
		}
	}
	return cases
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestGemm(t *testing.T) {
	t.Logf("backend %s", Backend())
	for _, tc := range gemmCases() {
		runCase(t, tc, Gemm)
	}
}

// TestGemmKernels exercises every available kernel set directly (including
// the portable generic one) at 1 and 2 threads.
func TestGemmKernels(t *testing.T) {
	for _, kp := range allImpls() {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d", kp.name, threads), func(t *testing.T) {
				for _, tc := range gemmCases() {
					runCase(t, tc, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
						gemm(kp, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					})
				}
			})
		}
	}
}

// TestGemmSmallBlocks shrinks the cache blocks so that every blocking loop
// (several KC, MC and NC blocks, partial blocks) is exercised by small shapes.
func TestGemmSmallBlocks(t *testing.T) {
	defer func(kc, mc, nc int) { kcBlock, mcBlock, ncBlock = kc, mc, nc }(kcBlock, mcBlock, ncBlock)
	kcBlock, mcBlock, ncBlock = 5, 1, 1 // rounded up to one tile
	for _, kp := range allImpls() {
		for _, tc := range []gemmCase{
			{false, false, 50, 70, 23, 1, 0, 1},
			{true, false, 33, 95, 11, 0.5, 1, 0},
			{false, true, 29, 67, 26, 1, 0.5, 2},
			{true, true, 61, 40, 17, -1, 0, 3},
		} {
			runCase(t, tc, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				gemm(kp, 2, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			})
		}
	}
}

// TestDeterministic checks that results are bit-identical for GOMAXPROCS 1
// to 3 and for 1 to 8 threads forced past the work heuristic, for the
// blocked path and the GEMV paths. The first shapes are a transformer's
// (hidden 1024, MLP 3072, 64 and 200 tokens): every one has enough work and
// enough panels (n/nr ≥ 64) to be split among all 8 threads.
func TestDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []gemmCase{{false, true, 64, 3072, 1024, 1, 0, 0}, {false, true, 200, 1024, 3072, 1, 0, 0}, {false, false, 64, 1024, 1024, 1, 1, 0}} {
		pm, pn := (tc.m+impl.mr-1)/impl.mr, (tc.n+impl.nr-1)/impl.nr
		if 2*tc.m*tc.n*tc.k/minFlopsPerThread < 8 || max(pm, pn) < 8 {
			t.Fatalf("%v does not have work for 8 threads", tc)
		}
	}
	shapes := []gemmCase{
		{false, true, 64, 3072, 1024, 1, 0, 0},
		{false, true, 200, 1024, 3072, 1, 0, 0},
		{false, false, 64, 1024, 1024, 1, 1, 0},
		{false, true, 301, 517, 600, 1, 0, 0},
		{false, false, 250, 290, 513, 1, 0, 0},
		{true, false, 700, 60, 300, 1, 0.5, 0},
		{false, true, 1, 5000, 1000, 1, 0, 0},
		{false, false, 1, 5000, 1000, 1, 0, 0},
		{false, true, 3, 4000, 1000, 1, 0, 0},
		{false, false, 4000, 1, 1000, 1, 0, 0},
		{true, false, 4000, 1, 1000, 1, 0, 0},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range shapes {
		ar, ac := tc.m, tc.k
		if tc.transA {
			ar, ac = tc.k, tc.m
		}
		br, bc := tc.k, tc.n
		if tc.transB {
			br, bc = tc.n, tc.k
		}
		a, b := randSlice(r, ar*ac), randSlice(r, br*bc)
		c0 := randSlice(r, tc.m*tc.n)
		var res [][]float32
		for _, procs := range []int{1, 2, 3, 4, 5, 8} {
			runtime.GOMAXPROCS(min(procs, 3))
			if Backend() != "openblas" { // OpenBLAS makes no such promise
				c := append([]float32(nil), c0...)
				Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, ac, b, bc, tc.beta, c, tc.n)
				res = append(res, c)
			}
			// Also force the thread count past the work heuristic.
			c := append([]float32(nil), c0...)
			gemm(impl, procs, tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, ac, b, bc, tc.beta, c, tc.n)
			res = append(res, c)
		}
		for i := 1; i < len(res); i++ {
			for j := range res[0] {
				if math.Float32bits(res[i][j]) != math.Float32bits(res[0][j]) {
					t.Fatalf("%v: run %d differs at %d: %g vs %g", tc, i, j, res[i][j], res[0][j])
				}
			}
		}
	}
}

func TestVectorOps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kp := range allImpls() {
		for n := 0; n < 300; n += 1 + n/8 {
			a, b := randSlice(r, n), randSlice(r, n+3)
			var want, mag float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			got := kp.dot(a, b[:n])
			if d := math.Abs(float64(got) - want); d > 2e-7*float64(n+8)*mag+1e-30 {
				t.Fatalf("%s dot n=%d: got %g want %g", kp.name, n, got, want)
			}
			y := randSlice(r, n+5)
			y0 := append([]float32(nil), y...)
			kp.axpy(0.75, a, y[:n])
			for i := range y {
				w := y0[i]
				if i < n {
					w = float32(float64(y0[i]) + 0.75*float64(a[i]))
				}
				if d := math.Abs(float64(y[i] - w)); d > 1e-6 {
					t.Fatalf("%s axpy n=%d i=%d: got %g want %g", kp.name, n, i, y[i], w)
				}
			}
			copy(y, y0)
			kp.scale(-3, y[:n])
			for i := range y {
				w := y0[i]
				if i < n {
					w = -3 * y0[i]
				}
				if y[i] != w {
					t.Fatalf("%s scale n=%d i=%d: got %g want %g", kp.name, n, i, y[i], w)
				}
			}
		}
	}
	// dot4 must match dot bit for bit (batch invariance of small-m GEMV).
	for _, kp := range allImpls() {
		if kp.dot4 == nil {
			continue
		}
		for n := 1; n < 300; n += 1 + n/5 {
			rows := [4][]float32{randSlice(r, n), randSlice(r, n), randSlice(r, n), randSlice(r, n)}
			b := randSlice(r, n)
			var out [4]float32
			kp.dot4(&rows[0][0], &rows[1][0], &rows[2][0], &rows[3][0], &b[0], n, &out)
			for i := range rows {
				if w := kp.dot(rows[i], b); math.Float32bits(out[i]) != math.Float32bits(w) {
					t.Fatalf("%s dot4 n=%d row %d: %g != dot %g", kp.name, n, i, out[i], w)
				}
			}
		}
	}
	if got := Dot([]float32{1, 2, 3}, []float32{4, 5, 6, 7}); got != 32 {
		t.Fatalf("Dot = %g", got)
	}
}

func TestMatMulT(t *testing.T) {
	m, n, k := 17, 45, 70
	r := rand.New(rand.NewPCG(5, 6))
	a, b := randSlice(r, m*k), randSlice(r, n*k)
	c := make([]float32, m*n)
	MatMulT(c, a, b, m, n, k)
	want, mag := refGemm(false, true, m, n, k, 1, a, k, b, k, 0, nil, n)
	for i := range c {
		if d := math.Abs(float64(c[i]) - want[i]); d > 2e-7*float64(k+8)*mag[i] {
			t.Fatalf("MatMulT[%d] = %g want %g", i, c[i], want[i])
		}
	}
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{256, 256, 256}, {1, 4096, 512}, {2, 2048, 256}} {
		m, n, k := s[0], s[1], s[2]
		a, b, c := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
		MatMulT(c, a, b, m, n, k) // warm the pools and workers
		allocs := testing.AllocsPerRun(20, func() { MatMulT(c, a, b, m, n, k) })
		if allocs > 0.5 {
			t.Errorf("%v: %v allocs per call", s, allocs)
		}
	}
}

func TestBadArgs(t *testing.T) {
	mustPanic := func(name string, f func()) {
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("short a", func() { MatMulT(make([]float32, 4), make([]float32, 3), make([]float32, 4), 2, 2, 2) })
	mustPanic("short c", func() { MatMulT(make([]float32, 3), make([]float32, 4), make([]float32, 4), 2, 2, 2) })
	mustPanic("bad lda", func() {
		Gemm(false, false, 2, 2, 2, 1, make([]float32, 8), 1, make([]float32, 8), 2, 0, make([]float32, 8), 2)
	})
}

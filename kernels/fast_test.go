package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/retrofit-llm/retrofit/quant"
)

// actError bounds |x − x̂| per element for the activation rounding of Fast
// mode against weights of type t: half a quantization step (plus fp16
// rounding of the Q8_0 scale), or half a bf16 ulp.
func actError(t Type, x []float32, cols int) []float64 {
	e := make([]float64, len(x))
	blockMax := func(qk int) []float64 {
		m := make([]float64, len(x)/qk)
		for i, v := range x {
			m[i/qk] = max(m[i/qk], math.Abs(float64(v)))
		}
		return m
	}
	switch t {
	case BF16:
		for i, v := range x {
			e[i] = math.Abs(float64(v)) * 0x1p-8
		}
	case Q8_0, Q4_0:
		m := blockMax(32)
		for i := range e {
			e[i] = m[i/32] / 127 * (0.501 + 127*0x1p-11)
		}
	case Q4_K, Q6_K:
		m := blockMax(256)
		for i := range e {
			e[i] = m[i/256] / 127 * 0.501
		}
	}
	return e
}

// TestFastBound checks Fast mode against the float64 product of the
// dequantized weights and the unrounded activations: the difference must
// stay within Σ|w|·(activation rounding bound) plus fp32 summation error.
func TestFastBound(t *testing.T) {
	forEachSet(t, func(t *testing.T) {
		for _, typ := range allTypes {
			for _, s := range shapes {
				if s.cols%typ.BlockSize() != 0 {
					continue
				}
				t.Run(fmt.Sprintf("%v/%dx%d/n=%d", typ, s.rows, s.cols, s.n), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(s.cols), uint64(typ)+7))
					raw := randWeights(r, typ, s.rows, s.cols)
					w, _ := NewMatrix(typ, s.rows, s.cols, raw)
					x := randX(r, s.n*s.cols)
					wd := dequant(t, typ, raw, s.rows*s.cols)
					ref, mag := refMatMul(x, wd, s.n, s.rows, s.cols)
					ae := actError(typ, x, s.cols)
					y := make([]float32, s.n*s.rows)
					MatMul(y, x, s.n, w, Fast, 2)
					y1 := make([]float32, s.n*s.rows)
					MatMul(y1, x, s.n, w, Fast, 1)
					ya := make([]float32, s.n*s.rows)
					for i := range ya {
						ya[i] = 1
					}
					MatMulAdd(ya, x, s.n, w, Fast, 2)
					for i := range ya {
						// The Fast kernels add the finished sum; SGEMM (F32,
						// F16) adds C between its K blocks.
						ok := ya[i] == 1+y[i]
						if typ == F32 || typ == F16 {
							ok = math.Abs(float64(ya[i]-1-y[i])) <= 1e-6*(math.Abs(float64(y[i]))+1)
						}
						if !ok {
							t.Fatalf("MatMulAdd: y[%d] = %g, want 1 + %g", i, ya[i], y[i])
						}
					}
					for i := 0; i < s.n; i++ {
						for rr := 0; rr < s.rows; rr++ {
							var bound float64
							for c := 0; c < s.cols; c++ {
								bound += math.Abs(wd[rr*s.cols+c]) * ae[i*s.cols+c]
							}
							k := i*s.rows + rr
							if d := math.Abs(float64(y[k]) - ref[k]); d > bound+2e-5*mag[k]+1e-30 {
								t.Fatalf("y[%d,%d] = %g, want %g ± %g", i, rr, y[k], ref[k], bound)
							}
							if y1[k] != y[k] {
								t.Fatalf("y[%d,%d]: threads=1 %g, threads=2 %g", i, rr, y1[k], y[k])
							}
						}
					}
				})
			}
		}
	})
}

// intWeights returns weights whose dequantized values are small integers
// (all scales 1, small sub-block scales), so that with integer activations
// every fp32 operation of either mode is exact.
func intWeights(r *rand.Rand, t Type, rows, cols int) []byte {
	raw := randWeights(r, t, rows, cols)
	nb := rows * cols / t.BlockSize()
	for b := 0; b < nb; b++ {
		blk := raw[b*t.BlockBytes() : (b+1)*t.BlockBytes()]
		switch t {
		case F32:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(r.IntN(31)-15)))
		case F16:
			putHalf(blk, float32(r.IntN(31)-15))
		case BF16:
			binary.LittleEndian.PutUint16(blk, toBF16(float32(r.IntN(31)-15)))
		case Q8_0, Q4_0:
			putHalf(blk, 1)
		case Q4_K:
			putHalf(blk, 1)
			putHalf(blk[2:], 1)
			for j := 4; j < 16; j++ {
				blk[j] &= 0x43 // 6-bit scales and mins ≤ 19
			}
		case Q6_K:
			putHalf(blk[208:], 1)
			for j := 192; j < 208; j++ {
				blk[j] = byte(int8(r.IntN(9) - 4))
			}
		}
	}
	return raw
}

// intActs returns activations that are integers in [−20,20] with one ±127
// per 32 values: Q8_0 and Q8_K quantize them with scale ±1, exactly.
func intActs(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.IntN(41) - 20)
		if i%32 == 7 {
			x[i] = float32(127 * (2*r.IntN(2) - 1))
		}
	}
	return x
}

// TestIntegerExact: when every operation is exact, both modes of every
// kernel set must equal the float64 reference bit for bit. This is how the
// integer block sums of the assembly kernels are checked against Go's.
func TestIntegerExact(t *testing.T) {
	forEachSet(t, func(t *testing.T) {
		for _, typ := range allTypes {
			for _, s := range shapes {
				if s.cols%typ.BlockSize() != 0 {
					continue
				}
				r := rand.New(rand.NewPCG(uint64(s.rows*s.n), uint64(typ)+3))
				raw := intWeights(r, typ, s.rows, s.cols)
				w, _ := NewMatrix(typ, s.rows, s.cols, raw)
				x := intActs(r, s.n*s.cols)
				ref, _ := refMatMul(x, dequant(t, typ, raw, s.rows*s.cols), s.n, s.rows, s.cols)
				for _, mode := range []Mode{Exact, Fast} {
					y := make([]float32, s.n*s.rows)
					MatMul(y, x, s.n, w, mode, 2)
					for i := range y {
						if float64(y[i]) != ref[i] || math.Abs(ref[i]) > 1<<24 {
							t.Fatalf("%v %v %dx%d n=%d: y[%d] = %g, want %g", typ, mode, s.rows, s.cols, s.n, i, y[i], ref[i])
						}
					}
				}
			}
		}
	})
}

// TestQuantizeQ8_0Acts compares the activation quantizer (ggml's x86
// quantize_row_q8_0: q = round-half-even(x·127/max)) with quant's encoder
// (ggml's reference: q = round-half-away(x/d)): same fp16 scales, and quants
// that differ by at most one step, rarely.
func TestQuantizeQ8_0Acts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	x := randX(r, 32*2000)
	for i := 64; i < 96; i++ {
		x[i] = 0 // an all-zero block
	}
	want, err := quant.QuantizeQ8_0(x)
	if err != nil {
		t.Fatal(err)
	}
	a := quantizeActs(&genericSet, Q8_0, x, 1, len(x), 1)
	// Rows split across goroutines quantize identically.
	a4 := quantizeActs(&genericSet, Q8_0, x, 20, len(x)/20, 4)
	for i := range a.q {
		if a4.q[i] != a.q[i] || a4.d[i/32] != a.d[i/32] {
			t.Fatalf("4 goroutines: q[%d] = %d (d %g), one: %d (d %g)", i, a4.q[i], a4.d[i/32], a.q[i], a.d[i/32])
		}
	}
	diffs := 0
	for b := range a.d {
		blk := want[34*b:]
		if got := half(blk); got != a.d[b] {
			t.Fatalf("block %d: d = %g, want %g", b, a.d[b], got)
		}
		for j := 0; j < 32; j++ {
			g, w := int(a.q[32*b+j]), int(int8(blk[2+j]))
			if g != w {
				diffs++
				if g-w > 1 || w-g > 1 {
					t.Fatalf("block %d q[%d] = %d, want %d", b, j, g, w)
				}
			}
		}
	}
	if diffs > len(x)/1000 {
		t.Fatalf("%d of %d quants differ from the reference encoder", diffs, len(x))
	}
}

// TestQuantizeQ8_KActs checks ggml's Q8_K rule: the largest-magnitude value
// becomes −127, every value is within half a step of d·q, and bsums add up.
func TestQuantizeQ8_KActs(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	x := randX(r, 256*50)
	for i := 512; i < 768; i++ {
		x[i] = 0
	}
	a := quantizeActs(&genericSet, Q4_K, x, 1, len(x), 1)
	for b := range a.d {
		xb, qb := x[256*b:256*b+256], a.q[256*b:256*b+256]
		var amax float64
		at := 0
		for j, v := range xb {
			if math.Abs(float64(v)) > amax {
				amax, at = math.Abs(float64(v)), j
			}
		}
		if amax == 0 {
			if a.d[b] != 0 {
				t.Fatalf("zero block %d: d = %g", b, a.d[b])
			}
			continue
		}
		if qb[at] != -127 {
			t.Fatalf("block %d: q of the largest value = %d, want -127", b, qb[at])
		}
		for j, v := range xb {
			if e := math.Abs(float64(v) - float64(a.d[b])*float64(qb[j])); e > math.Abs(float64(a.d[b]))*0.5001 {
				t.Fatalf("block %d x[%d] = %g, d·q = %g", b, j, v, a.d[b]*float32(qb[j]))
			}
		}
		for j := 0; j < 16; j++ {
			s := 0
			for _, v := range qb[16*j : 16*j+16] {
				s += int(v)
			}
			if int(a.bs[16*b+j]) != s {
				t.Fatalf("block %d bsum %d = %d, want %d", b, j, a.bs[16*b+j], s)
			}
		}
	}
}

// TestActsSets checks every kernel set's activation converters bit for bit
// against the portable ones, on values of every magnitude.
func TestActsSets(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	x := make([]float32, 256*8)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()*8))
	}
	for i := 64; i < 96; i++ {
		x[i] = 0 // an all-zero block
	}
	x[100] = 1e-40 // a subnormal
	for i := 512; i < 768; i++ {
		x[i] = float32(i%7) - 3 // ties in magnitude: the first maximum's sign counts
	}
	for _, typ := range []Type{BF16, Q8_0, Q4_K} {
		want := quantizeActs(&genericSet, typ, x, 4, len(x)/4, 1)
		for _, k := range availableSets() {
			got := quantizeActs(k, typ, x, 4, len(x)/4, 2)
			for i := range x {
				if typ == BF16 && got.bf[i] != want.bf[i] {
					t.Fatalf("%s: bf16(%g) = %#x, want %#x", k.name, x[i], got.bf[i], want.bf[i])
				}
				if typ == Q8_0 && (got.q[i] != want.q[i] || math.Float32bits(got.d[i/32]) != math.Float32bits(want.d[i/32])) {
					t.Fatalf("%s: x[%d] = %g: q %d d %g, want q %d d %g", k.name, i, x[i], got.q[i], got.d[i/32], want.q[i], want.d[i/32])
				}
				if typ == Q4_K && (got.q[i] != want.q[i] || got.bs[i/16] != want.bs[i/16] || math.Float32bits(got.d[i/256]) != math.Float32bits(want.d[i/256])) {
					t.Fatalf("%s: Q8_K x[%d] = %g: q %d bs %d d %g, want q %d bs %d d %g", k.name, i, x[i], got.q[i], got.bs[i/16], got.d[i/256], want.q[i], want.bs[i/16], want.d[i/256])
				}
			}
		}
	}
}

package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/quant"
	"github.com/x448/float16"
)

var allTypes = []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K}

func putHalf(b []byte, v float32) { binary.LittleEndian.PutUint16(b, float16.Fromfloat32(v).Bits()) }

// randWeights returns rows×cols random stored weights of type t. Quant blocks
// get random quants and small positive scales; F16/BF16 round random floats.
func randWeights(r *rand.Rand, t Type, rows, cols int) []byte {
	nb := rows * cols / t.BlockSize()
	raw := make([]byte, nb*t.BlockBytes())
	for i := range raw {
		raw[i] = byte(r.UintN(256))
	}
	for b := 0; b < nb; b++ {
		blk := raw[b*t.BlockBytes() : (b+1)*t.BlockBytes()]
		v := r.Float32()*2 - 1
		switch t {
		case F32:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(v))
		case F16:
			putHalf(blk, v)
		case BF16:
			binary.LittleEndian.PutUint16(blk, toBF16(v))
		case Q8_0, Q4_0:
			putHalf(blk, 0.01+0.01*r.Float32())
		case Q4_K:
			putHalf(blk, 0.001+0.001*r.Float32())
			putHalf(blk[2:], 0.001+0.001*r.Float32())
		case Q6_K:
			putHalf(blk[208:], 0.001+0.001*r.Float32())
		}
	}
	return raw
}

// dequant is the reference widening: quant's dequantizers (tested against
// llama.cpp-written files), bf16 bits << 16, and x448/float16.
func dequant(t *testing.T, typ Type, raw []byte, n int) []float64 {
	t.Helper()
	f := make([]float32, n)
	var err error
	switch typ {
	case F32:
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F16:
		for i := range f {
			f[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	case BF16:
		for i := range f {
			f[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case Q8_0:
		err = quant.DequantizeQ8_0(f, raw)
	case Q4_0:
		err = quant.DequantizeQ4_0(f, raw)
	case Q4_K:
		err = quant.DequantizeQ4_K(f, raw)
	case Q6_K:
		err = quant.DequantizeQ6_K(f, raw)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, n)
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}

// refMatMul returns y = x·Wᵀ in float64 and, per output, Σ|x||w|.
func refMatMul(x []float32, w []float64, n, rows, cols int) (y, mag []float64) {
	y, mag = make([]float64, n*rows), make([]float64, n*rows)
	for i := 0; i < n; i++ {
		for r := 0; r < rows; r++ {
			var s, m float64
			for c := 0; c < cols; c++ {
				p := float64(x[i*cols+c]) * w[r*cols+c]
				s += p
				m += math.Abs(p)
			}
			y[i*rows+r], mag[i*rows+r] = s, m
		}
	}
	return y, mag
}

func randX(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

// forEachSet runs f with every kernel set this CPU supports.
func forEachSet(t *testing.T, f func(t *testing.T)) {
	for _, k := range availableSets() {
		t.Run(k.name, func(t *testing.T) {
			old := active
			active = k
			defer func() { active = old }()
			f(t)
		})
	}
}

type shape struct{ rows, cols, n int }

var shapes = []shape{{1, 256, 1}, {37, 512, 1}, {70, 256, 3}, {64, 768, 9}, {100, 512, 33}, {64, 768, 30}, {7, 45, 7}}

func TestNewMatrixErrors(t *testing.T) {
	for _, tc := range []struct {
		typ        Type
		rows, cols int
		bytes      int
		want       string
	}{
		{Q8_0, 2, 33, 0, "not a multiple of the block size 32"},
		{Q4_K, 2, 128, 144, "not a multiple of the block size 256"},
		{Q6_K, 2, 256, 419, "needs 420 bytes, got 419"},
		{BF16, 3, 4, 25, "needs 24 bytes, got 25"},
		{F32, 0, 4, 0, "must be positive"},
		{Type(99), 1, 1, 4, "unknown type"},
	} {
		_, err := NewMatrix(tc.typ, tc.rows, tc.cols, make([]byte, tc.bytes))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %d×%d (%d bytes): got %v, want %q", tc.typ, tc.rows, tc.cols, tc.bytes, err, tc.want)
		}
	}
}

// TestExact checks Exact mode against the float64 product of the
// dequantized weights, for every type, shape, thread count and with MatMulAdd.
func TestExact(t *testing.T) {
	forEachSet(t, func(t *testing.T) {
		for _, typ := range allTypes {
			for _, s := range shapes {
				if s.cols%typ.BlockSize() != 0 {
					continue
				}
				t.Run(fmt.Sprintf("%v/%dx%d/n=%d", typ, s.rows, s.cols, s.n), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(s.rows), uint64(typ)))
					raw := randWeights(r, typ, s.rows, s.cols)
					w, err := NewMatrix(typ, s.rows, s.cols, raw)
					if err != nil {
						t.Fatal(err)
					}
					x := randX(r, s.n*s.cols)
					ref, mag := refMatMul(x, dequant(t, typ, raw, s.rows*s.cols), s.n, s.rows, s.cols)
					y1 := make([]float32, s.n*s.rows)
					MatMul(y1, x, s.n, w, Exact, 1)
					for i := range ref {
						if d := math.Abs(float64(y1[i]) - ref[i]); d > 1e-5*mag[i]+1e-30 {
							t.Fatalf("y[%d] = %g, want %g (|diff| %g, Σ|xw| %g)", i, y1[i], ref[i], d, mag[i])
						}
					}
					y3 := make([]float32, s.n*s.rows)
					MatMul(y3, x, s.n, w, Exact, 3)
					ya := make([]float32, s.n*s.rows)
					for i := range ya {
						ya[i] = 1
					}
					MatMulAdd(ya, x, s.n, w, Exact, 2)
					for i := range y1 {
						if y3[i] != y1[i] {
							t.Fatalf("threads=3: y[%d] = %g, threads=1: %g", i, y3[i], y1[i])
						}
						if d := math.Abs(float64(ya[i]) - ref[i] - 1); d > 1e-5*(mag[i]+1) {
							t.Fatalf("MatMulAdd: y[%d] = %g, want %g", i, ya[i], ref[i]+1)
						}
					}
				})
			}
		}
	})
}

func TestDecodeRow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, typ := range allTypes {
		raw := randWeights(r, typ, 3, 512)
		w, _ := NewMatrix(typ, 3, 512, raw)
		want := dequant(t, typ, raw, 3*512)
		got := make([]float32, 512)
		w.DecodeRow(got, 2)
		for i, v := range got {
			if float64(v) != want[2*512+i] {
				t.Fatalf("%v: row 2 [%d] = %g, want %g", typ, i, v, want[2*512+i])
			}
		}
	}
}

// TestDecodeSets checks every kernel set's row widening bit for bit against
// the reference dequantizers, which Exact mode's claim (a stored matrix
// multiplies exactly as its fp32 values would) rests on.
func TestDecodeSets(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	for _, k := range availableSets() {
		for _, typ := range allTypes {
			dec := k.decode[typ]
			if dec == nil {
				continue
			}
			raw := randWeights(r, typ, 4, 768)
			// Scales of every magnitude, not only the small ones.
			for b := 0; b < len(raw)/typ.BlockBytes(); b++ {
				blk := raw[b*typ.BlockBytes():]
				switch typ {
				case Q8_0, Q4_0, Q4_K:
					putHalf(blk, float32(r.NormFloat64()*100))
				case Q6_K:
					putHalf(blk[208:], float32(r.NormFloat64()*100))
				}
			}
			want := dequant(t, typ, raw, 4*768)
			got := make([]float32, 768)
			for row := 0; row < 4; row++ {
				dec(got, raw[row*len(raw)/4:(row+1)*len(raw)/4])
				for i, v := range got {
					if math.Float32bits(v) != math.Float32bits(float32(want[row*768+i])) {
						t.Fatalf("%s %v row %d [%d] = %g, want %g", k.name, typ, row, i, v, want[row*768+i])
					}
				}
			}
		}
	}
}

// TestMisalignedF32 multiplies F32 weights whose bytes start off a 4-byte
// boundary (possible in a memory-mapped file).
func TestMisalignedF32(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	raw := randWeights(r, F32, 40, 64)
	buf := make([]byte, len(raw)+1)
	copy(buf[1:], raw)
	w, err := NewMatrix(F32, 40, 64, buf[1:])
	if err != nil {
		t.Fatal(err)
	}
	x := randX(r, 3*64)
	ref, mag := refMatMul(x, dequant(t, F32, raw, 40*64), 3, 40, 64)
	y := make([]float32, 3*40)
	MatMul(y, x, 3, w, Exact, 2)
	for i := range y {
		if d := math.Abs(float64(y[i]) - ref[i]); d > 1e-5*mag[i] {
			t.Fatalf("y[%d] = %g, want %g", i, y[i], ref[i])
		}
	}
}

// TestExactAsF32: in Exact mode a stored matrix multiplies bit for bit as
// the F32 matrix of its widened values does, for decode and prefill shapes,
// with and without accumulation, in every kernel set.
func TestExactAsF32(t *testing.T) {
	forEachSet(t, func(t *testing.T) {
		for _, typ := range allTypes[1:] {
			for _, s := range []shape{{70, 256, 1}, {64, 512, 3}, {40, 768, 9}, {33, 256, 40}, {21, 352, 1}, {9, 96, 2}} {
				if s.cols%typ.BlockSize() != 0 {
					continue
				}
				r := rand.New(rand.NewPCG(uint64(s.n), uint64(typ)+20))
				raw := randWeights(r, typ, s.rows, s.cols)
				w, _ := NewMatrix(typ, s.rows, s.cols, raw)
				wd := dequant(t, typ, raw, s.rows*s.cols)
				f32 := make([]byte, 4*len(wd))
				for i, v := range wd {
					binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(float32(v)))
				}
				wf, _ := NewMatrix(F32, s.rows, s.cols, f32)
				x := randX(r, s.n*s.cols)
				for _, add := range []bool{false, true} {
					y, yf := make([]float32, s.n*s.rows), make([]float32, s.n*s.rows)
					mm := MatMul
					if add {
						mm = MatMulAdd
						for i := range y {
							y[i], yf[i] = 0.5, 0.5
						}
					}
					mm(y, x, s.n, w, Exact, 2)
					mm(yf, x, s.n, wf, Exact, 2)
					for i := range y {
						if math.Float32bits(y[i]) != math.Float32bits(yf[i]) {
							t.Fatalf("%v %dx%d n=%d add=%v: y[%d] = %g, as F32 %g", typ, s.rows, s.cols, s.n, add, i, y[i], yf[i])
						}
					}
				}
			}
		}
	})
}

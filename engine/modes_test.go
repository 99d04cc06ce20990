package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/quant"
	"github.com/x448/float16"
)

// TestModesDecodeEqualsPrefill runs every test layout in exact and fast
// mode with each KV cache type: decoding one token at a time through the
// cache gives the logits of a single prefill, and the result stays close
// to exact mode with an fp32 cache.
func TestModesDecodeEqualsPrefill(t *testing.T) {
	testutil.SkipIfEmulated(t, "token-by-token decode in every mode and cache type; the kernels tests check the fast kernels under emulation")
	for _, name := range microModels {
		base := microEngine(t, name)
		ids := reftest.Load(t, name).I32["ids_b"][:40]
		for lname, layout := range testLayouts(base.Config().Layers) {
			exact, err := base.WithLayout(layout)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := exact.Forward(ids, exact.NewCache(len(ids)), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []Options{{Exact, CacheF16}, {Exact, CacheQ8_0}, {Fast, CacheF32}, {Fast, CacheF16}, {Fast, CacheQ8_0}} {
				t.Run(fmt.Sprintf("%s/%s/%s/%v", name, lname, o.Mode, o.CacheType()), func(t *testing.T) {
					e := exact.WithOptions(o)
					want, err := e.Forward(ids, e.NewCache(len(ids)), nil)
					if err != nil {
						t.Fatal(err)
					}
					const pre = 5
					cache := e.NewCache(len(ids))
					got, err := e.Forward(ids[:pre], cache, nil)
					if err != nil {
						t.Fatal(err)
					}
					for i := pre; i < len(ids); i++ {
						row, err := e.Forward(ids[i:i+1], cache, &ForwardOptions{LastOnly: true})
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, row...)
					}
					// A last-bit difference between the paths can flip a
					// rounding of a stored K/V entry, which later layers
					// carry: the tolerance follows the cache's precision.
					tol := map[model.DType]float64{model.F32: 1e-4, model.F16: 5e-3, model.Q8_0: 5e-2}[o.CacheType()]
					if o.Mode == Fast { // activations rounded to bf16 or 8 bits;
						// prefill runs the GEMM kernels, decode the GEMV
						// kernels, which sum in different orders
						tol += 0.2
					}
					d, dx := maxAbsDiff(got, want), maxAbsDiff(want, ref)
					t.Logf("decode vs prefill max |Δlogit| %.3g; vs exact fp32-cache %.3g", d, dx)
					if d > tol {
						t.Errorf("decode vs prefill: max |Δlogit| = %g > %g", d, tol)
					}
					if dx > 0.5 {
						t.Errorf("vs exact mode with an fp32 cache: max |Δlogit| = %g > 0.5", dx)
					}
				})
			}
		}
	}
}

// TestF16Kernels checks the fp16-cache attention kernels against plain
// loops over widened values, for 1 to 5 query rows and odd strides.
func TestF16Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{32, 64, 128} {
		for nq := 1; nq <= 5; nq++ {
			T, stride := 37, 3*d+32
			kv := make([]uint16, (T-1)*stride+d)
			for i := range kv {
				kv[i] = float16.Fromfloat32(float32(rng.NormFloat64())).Bits()
			}
			q := make([]float32, nq*d)
			p := make([]float32, nq*T)
			for i := range q {
				q[i] = float32(rng.NormFloat64())
			}
			for i := range p {
				p[i] = rng.Float32()
			}
			s := make([]float32, nq*T)
			dotsF16(s, q, kv, stride, T, d, nq)
			out := make([]float32, nq*d)
			for i := range out {
				out[i] = 1
			}
			axpysF16(out, p, kv, stride, T, d, nq)
			for r := 0; r < nq; r++ {
				for tt := 0; tt < T; tt++ {
					var want, sum float64
					for i := 0; i < d; i++ {
						x := float64(q[r*d+i]) * float64(float16.Frombits(kv[tt*stride+i]).Float32())
						want += x
						sum += abs64(x)
					}
					if got := float64(s[r*T+tt]); abs64(got-want) > 1e-6*sum {
						t.Fatalf("d=%d nq=%d: dot[%d][%d] = %g, want %g", d, nq, r, tt, got, want)
					}
				}
				for i := 0; i < d; i++ {
					want, sum := 1.0, 1.0
					for tt := 0; tt < T; tt++ {
						x := float64(p[r*T+tt]) * float64(float16.Frombits(kv[tt*stride+i]).Float32())
						want += x
						sum += abs64(x)
					}
					if got := float64(out[r*d+i]); abs64(got-want) > 1e-6*sum {
						t.Fatalf("d=%d nq=%d: axpy[%d][%d] = %g, want %g", d, nq, r, i, got, want)
					}
				}
			}
		}
	}
	src := make([]float32, 53)
	for i := range src {
		src[i] = float32(rng.NormFloat64()) * 1000
	}
	h := make([]uint16, len(src))
	back := make([]float32, len(src))
	toF16(h, src)
	fromF16(back, h)
	for i, x := range src {
		if want := float16.Fromfloat32(x); h[i] != want.Bits() || back[i] != want.Float32() {
			t.Fatalf("fp16 conversion of %g: %#x → %g, want %#x → %g", x, h[i], back[i], want.Bits(), want.Float32())
		}
	}
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestRowKernels checks the fp32 row kernels (an F32 cache, and Q8_0 rows
// widened by widenQ8Rows) against plain float64 loops, for 1 to 5 query
// rows, odd strides, and an s/p row stride wider than the row count; and
// the widened Q8_0 rows against quant.DequantizeQ8_0, bit for bit.
func TestRowKernels(t *testing.T) {
	if !fastRows(32) {
		t.Skip("no AVX-512 row kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{32, 64, 128} {
		T, stride, ls := 37, 3*d+32, 41
		raw := make([]float32, (T-1)*stride+d)
		for i := range raw {
			raw[i] = float32(rng.NormFloat64())
		}
		// Q8_0 rows of d values at a byte stride of 3 blocks more than d.
		rb := (d/32 + 3) * quant.BlockQ8_0
		q8 := make([]byte, T*rb)
		for tt := 0; tt < T; tt++ {
			quant.QuantizeQ8_0Into(q8[tt*rb:tt*rb+d/32*quant.BlockQ8_0], raw[tt*stride:tt*stride+d])
		}
		wide := make([]float32, T*d)
		widenQ8Rows(wide, q8, rb, T, d)
		for tt := 0; tt < T; tt++ {
			want := make([]float32, d)
			if err := quant.DequantizeQ8_0(want, q8[tt*rb:tt*rb+d/32*quant.BlockQ8_0]); err != nil {
				t.Fatal(err)
			}
			for i, x := range want {
				if math.Float32bits(wide[tt*d+i]) != math.Float32bits(x) {
					t.Fatalf("d=%d: widened Q8_0 row %d [%d] = %g, DequantizeQ8_0 %g", d, tt, i, wide[tt*d+i], x)
				}
			}
		}
		for nq := 1; nq <= 5; nq++ {
			q := make([]float32, nq*d)
			p := make([]float32, nq*ls)
			for i := range q {
				q[i] = float32(rng.NormFloat64())
			}
			for i := range p {
				p[i] = rng.Float32()
			}
			s := make([]float32, nq*ls)
			dotsF32(s, q, raw, stride, T, d, nq, ls)
			out := make([]float32, nq*d)
			for i := range out {
				out[i] = 1
			}
			axpysF32(out, p, raw, stride, T, d, nq, ls)
			for r := 0; r < nq; r++ {
				for tt := 0; tt < T; tt++ {
					var want, sum float64
					for i := 0; i < d; i++ {
						x := float64(q[r*d+i]) * float64(raw[tt*stride+i])
						want += x
						sum += abs64(x)
					}
					if got := float64(s[r*ls+tt]); abs64(got-want) > 1e-6*sum {
						t.Fatalf("d=%d nq=%d: dot[%d][%d] = %g, want %g", d, nq, r, tt, got, want)
					}
				}
				for i := 0; i < d; i++ {
					want, sum := 1.0, 1.0
					for tt := 0; tt < T; tt++ {
						x := float64(p[r*ls+tt]) * float64(raw[tt*stride+i])
						want += x
						sum += abs64(x)
					}
					if got := float64(out[r*d+i]); abs64(got-want) > 1e-6*sum {
						t.Fatalf("d=%d nq=%d: axpy[%d][%d] = %g, want %g", d, nq, r, i, got, want)
					}
				}
			}
		}
	}
}

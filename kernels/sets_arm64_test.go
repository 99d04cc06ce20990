//go:build arm64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestARM64Sets checks that the SDOT set is listed and chosen exactly when
// the CPU has dotprod, so the other tests run it. Under emulation in CI
// (RETROFIT_EMULATED set) the CPU model must have dotprod: otherwise the
// SDOT kernels would silently go untested.
func TestARM64Sets(t *testing.T) {
	var names []string
	for _, k := range availableSets() {
		names = append(names, k.name)
	}
	t.Logf("dotprod=%v, sets %v, active %s", cpu.ARM64.HasASIMDDP, names, Backend())
	want := "neon"
	if cpu.ARM64.HasASIMDDP {
		want = "neon+dotprod"
	} else if os.Getenv("RETROFIT_EMULATED") != "" {
		t.Fatal("emulated CPU without dotprod: the SDOT kernels are not exercised (QEMU_CPU=max?)")
	}
	if Backend() != want || names[len(names)-1] != want {
		t.Fatalf("active %s, sets %v; want %s chosen and listed", Backend(), names, want)
	}
}

// TestNEONFastAsGeneric: the NEON Fast GEMV kernels sum in the portable
// kernels' order, so they give their bits exactly, for scales of every
// magnitude (BF16: whenever no product falls below fp32's normal range).
func TestNEONFastAsGeneric(t *testing.T) {
	for _, k := range availableSets()[1:] {
		for _, typ := range []Type{BF16, Q8_0, Q4_0, Q4_K, Q6_K} {
			if k.fast[typ] == nil {
				continue
			}
			for _, s := range []shape{{70, 256, 1}, {33, 96, 3}, {5, 32, 2}, {64, 1024, 1}, {9, 768, 2}} {
				if s.cols%typ.BlockSize() != 0 {
					continue
				}
				t.Run(fmt.Sprintf("%s/%v/%dx%d/n=%d", k.name, typ, s.rows, s.cols, s.n), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(s.rows), uint64(typ)+40))
					raw := randWeights(r, typ, s.rows, s.cols)
					scale := func() float32 { return float32(r.NormFloat64() * math.Exp(r.NormFloat64()*3)) }
					for b := 0; b < len(raw)/typ.BlockBytes(); b++ {
						blk := raw[b*typ.BlockBytes():]
						switch typ {
						case Q8_0, Q4_0:
							putHalf(blk, scale())
						case Q4_K:
							putHalf(blk, scale())
							putHalf(blk[2:], scale())
						case Q6_K:
							putHalf(blk[208:], scale())
						}
					}
					w, _ := NewMatrix(typ, s.rows, s.cols, raw)
					x := randX(r, s.n*s.cols)
					for i := range x {
						x[i] *= float32(math.Exp(r.NormFloat64() * 3))
					}
					got, want := make([]float32, s.n*s.rows), make([]float32, s.n*s.rows)
					old := active
					active = k
					MatMul(got, x, s.n, w, Fast, 2)
					active = &genericSet
					MatMul(want, x, s.n, w, Fast, 2)
					active = old
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("y[%d] = %g, portable %g", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

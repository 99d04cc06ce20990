//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_asm.go

//go:noescape
func gemvQ8_0VNNI(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvBF16(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ4_KAVX512(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ6_KAVX512(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ4_0VNNI(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func dequantBF16(dst *float32, src *byte, nb int)

//go:noescape
func dequantF16(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ8_0(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4_0(dst *float32, src *byte, nb int)

// decodeAsm adapts a dequantizer of 32-element blocks to decodeFunc.
func decodeAsm(f func(dst *float32, src *byte, nb int)) decodeFunc {
	return func(dst []float32, raw []byte) {
		if len(dst)%32 != 0 {
			panic("kernels: decodeAsm: row not a multiple of 32")
		}
		f(&dst[0], &raw[0], len(dst)/32)
	}
}

// gemvFunc is the shape of the Fast GEMV assembly kernels: out[r] = row r of
// W (at w + r·stride) · one activation row, for r < nrows.
type gemvFunc func(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

func hasVNNI() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX2
}

var vnniSet = func() kernelSet {
	k := genericSet
	k.name = "avx512vnni"
	k.decode[BF16] = decodeAsm(dequantBF16)
	k.decode[F16] = decodeAsm(dequantF16)
	k.decode[Q8_0] = decodeAsm(dequantQ8_0)
	k.decode[Q4_0] = decodeAsm(dequantQ4_0)
	k.fast[Q8_0] = gemmQ8Fast(fastAsm(gemvQ8_0VNNI))
	k.fast[Q4_0] = gemmQ8Fast(fastAsm(gemvQ4_0VNNI))
	k.fast[Q4_K] = gemmQ8Fast(fastAsm(gemvQ4_KAVX512))
	k.fast[Q6_K] = gemmQ8Fast(fastAsm(gemvQ6_KAVX512))
	if cpu.X86.HasAVX512BF16 {
		k.name += "+bf16"
		k.fast[BF16] = gemmBF16Fast
	}
	return k
}()

func init() {
	if hasVNNI() {
		active = &vnniSet
	}
}

func availableSets() []*kernelSet {
	l := []*kernelSet{&genericSet}
	if hasVNNI() {
		l = append(l, &vnniSet)
	}
	return l
}

var fastGEMVBF16 = fastAsm(gemvBF16)

// asmTile is the number of weight rows one GEMV call covers: small enough
// to stay in L2 across the activation rows of a GEMM.
const asmTile = 64

// fastAsm runs a GEMV kernel over rows [r0,r1) for each activation row.
func fastAsm(k gemvFunc) rowsKernel {
	return func(c *call, r0, r1 int) {
		w, a := c.w, c.act
		cols := w.cols
		if cols%32 != 0 { // BF16 rows the kernels cannot step through
			fastGeneric(c, r0, r1)
			return
		}
		qk := 32
		if w.typ == Q4_K || w.typ == Q6_K {
			qk = 256
		}
		var out [asmTile]float32
		for t := r0; t < r1; t += asmTile {
			nr := min(asmTile, r1-t)
			for i := 0; i < c.n; i++ {
				var x unsafe.Pointer
				var xd *float32
				var xs *int16
				if w.typ == BF16 {
					x = unsafe.Pointer(&a.bf[i*cols])
				} else {
					x = unsafe.Pointer(&a.q[i*cols])
					xd = &a.d[i*cols/qk]
					if qk == 256 {
						xs = &a.bs[i*cols/16]
					}
				}
				k(&w.data[t*w.rowBytes], w.rowBytes, nr, x, xd, xs, cols/qk, &out[0])
				y := c.y[i*w.rows+t : i*w.rows+t+nr]
				if c.add {
					for j := range y {
						y[j] += out[j]
					}
				} else {
					copy(y, out[:nr])
				}
			}
		}
	}
}

//go:build (amd64 || arm64) && !purego

package kernels

import (
	"unsafe"

	"github.com/retrofit-llm/retrofit/sgemm"
)

// The drivers of the assembly kernels shared by amd64 and arm64.

// decodeAsmK adapts a dequantizer of 256-element super-blocks to decodeFunc.
func decodeAsmK(f func(dst *float32, src *byte, nb int)) decodeFunc {
	return func(dst []float32, raw []byte) {
		if len(dst)%256 != 0 {
			panic("kernels: decodeAsmK: row not a multiple of 256")
		}
		f(&dst[0], &raw[0], len(dst)/256)
	}
}

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
		asmRows(c, r0, r1, k, func(i int) (unsafe.Pointer, *float32, *int16) {
			if w.typ == BF16 {
				return unsafe.Pointer(&a.bf[i*cols]), nil, nil
			}
			var xs *int16
			if qk == 256 {
				xs = &a.bs[i*cols/16]
			}
			return unsafe.Pointer(&a.q[i*cols]), &a.d[i*cols/qk], xs
		})
	}
}

// asmRows runs GEMV kernel k over rows [r0,r1) in tiles of asmTile rows,
// for each activation row i, whose operands acts(i) returns.
func asmRows(c *call, r0, r1 int, k gemvFunc, acts func(i int) (unsafe.Pointer, *float32, *int16)) {
	w := c.w
	nb := w.cols / 32
	if w.typ == Q4_K || w.typ == Q6_K {
		nb = w.cols / 256
	}
	var out [asmTile]float32
	for t := r0; t < r1; t += asmTile {
		nr := min(asmTile, r1-t)
		for i := 0; i < c.n; i++ {
			x, xd, xs := acts(i)
			k(&w.data[t*w.rowBytes], w.rowBytes, nr, x, xd, xs, nb, &out[0])
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

// exactGEMV is Exact mode for decode (n ≤ 8, where sgemm takes its dot path)
// with the widening fused into sgemm's dot (that of exactGEMVBackend, the
// AVX-512 or NEON one): the same arithmetic in the same order as widening
// the rows and calling sgemm, without the buffer.
func exactGEMV(k func(w *byte, stride, nrows int, x *float32, n int, out *float32)) rowsKernel {
	return func(c *call, r0, r1 int) {
		w := c.w
		if c.n > 8 || w.cols%16 != 0 || sgemm.Backend() != exactGEMVBackend {
			exactDecode(c, r0, r1)
			return
		}
		var out [asmTile]float32
		for t := r0; t < r1; t += asmTile {
			nr := min(asmTile, r1-t)
			for i := 0; i < c.n; i++ {
				k(&w.data[t*w.rowBytes], w.rowBytes, nr, &c.x[i*w.cols], w.cols, &out[0])
				y := c.y[i*w.rows+t : i*w.rows+t+nr]
				for j := range y {
					c.store(&y[j], out[j])
				}
			}
		}
	}
}

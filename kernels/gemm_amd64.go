//go:build amd64 && !purego

package kernels

import (
	"sync"
	"unsafe"
)

//go:noescape
func packBF16Tile(dst *uint32, src *byte, stride, kb int)

//go:noescape
func gemmBF16Kernel(kp int, a, b *uint32, c *float32, ldc int, add bool)

// Register tile of gemmBF16Kernel: activation rows × weight rows.
const (
	bfMR = 12
	bfNR = 32
)

// The smallest numbers of activation rows sent to the GEMM kernels rather
// than to the GEMV kernels (below them, packing the weights costs more than
// it saves; measured on 3072×1024).
const (
	gemmMinN  = 6  // BF16
	gemmMinNQ = 24 // block-quantized types
)

// packBF16Acts packs the bf16 activations (n rows of cols) into panels of
// bfMR rows: panel q holds, for each pair p, the dwords (pair p) of its rows;
// rows past n are zero.
func packBF16Acts(dst []uint32, bf []uint16, n, cols int) []uint32 {
	kp := cols / 2
	panels := (n + bfMR - 1) / bfMR
	dst = growSlice(dst, panels*kp*bfMR)
	clear(dst[(panels-1)*kp*bfMR:]) // the padding rows of the last panel
	src := unsafe.Slice((*uint32)(unsafe.Pointer(&bf[0])), n*kp)
	for q := 0; q < panels; q++ {
		d := dst[q*kp*bfMR : (q+1)*kp*bfMR]
		for i := 0; i < min(bfMR, n-q*bfMR); i++ {
			row := src[(q*bfMR+i)*kp : (q*bfMR+i+1)*kp]
			for p, v := range row {
				d[p*bfMR+i] = v
			}
		}
	}
	return dst
}

var u32Pool = sync.Pool{New: func() any { return new([]uint32) }}

// packBF16Rows packs nn (≤ bfNR) weight rows starting at row r into a
// panel: for each pair p, bfNR dwords (rows past nn are zero).
func packBF16Rows(dst []uint32, w *Matrix, r, nn, kp int) {
	if nn == bfNR && kp%16 == 0 {
		_ = dst[kp*bfNR-1]
		_ = w.data[(r+nn)*w.rowBytes-1]
		packBF16Tile(&dst[0], &w.data[r*w.rowBytes], w.rowBytes, kp/16)
		return
	}
	if nn < bfNR {
		clear(dst)
	}
	var rows [bfNR]*uint32
	for j := 0; j < nn; j++ {
		rows[j] = (*uint32)(unsafe.Pointer(&w.data[(r+j)*w.rowBytes]))
	}
	_ = dst[kp*bfNR-1]
	// Eight dwords of each row at a time, written as 8 contiguous runs.
	p := 0
	for ; p+8 <= kp; p += 8 {
		for j := 0; j < nn; j++ {
			src := (*[8]uint32)(unsafe.Add(unsafe.Pointer(rows[j]), 4*p))
			d := dst[p*bfNR+j:]
			d[0], d[bfNR], d[2*bfNR], d[3*bfNR] = src[0], src[1], src[2], src[3]
			d[4*bfNR], d[5*bfNR], d[6*bfNR], d[7*bfNR] = src[4], src[5], src[6], src[7]
		}
	}
	for ; p < kp; p++ {
		for j := 0; j < nn; j++ {
			dst[p*bfNR+j] = *(*uint32)(unsafe.Add(unsafe.Pointer(rows[j]), 4*p))
		}
	}
}

// gemmBF16Fast is the Fast BF16 kernel for n ≥ gemmMinN activation rows.
func gemmBF16Fast(c *call, r0, r1 int) {
	w := c.w
	if w.cols%2 != 0 || c.n < gemmMinN {
		fastGEMVBF16(c, r0, r1)
		return
	}
	kp := w.cols / 2
	c.once.Do(func() { c.act.packed = packBF16Acts(c.act.packed, c.act.bf, c.n, w.cols) })
	a := c.act.packed
	bp := u32Pool.Get().(*[]uint32)
	b := growSlice(*bp, kp*bfNR)
	var tile [bfMR * bfNR]float32
	for t := r0; t < r1; t += bfNR {
		nn := min(bfNR, r1-t)
		packBF16Rows(b, w, t, nn, kp)
		for q := 0; q*bfMR < c.n; q++ {
			mm := min(bfMR, c.n-q*bfMR)
			ap := &a[q*kp*bfMR]
			if mm == bfMR && nn == bfNR {
				_ = c.y[(q*bfMR+mm-1)*w.rows+t+nn-1]
				gemmBF16Kernel(kp, ap, &b[0], &c.y[q*bfMR*w.rows+t], w.rows, c.add)
				continue
			}
			gemmBF16Kernel(kp, ap, &b[0], &tile[0], bfNR, false)
			for i := 0; i < mm; i++ {
				y := c.y[(q*bfMR+i)*w.rows+t : (q*bfMR+i)*w.rows+t+nn]
				for j := range y {
					c.store(&y[j], tile[i*bfNR+j])
				}
			}
		}
	}
	*bp = b
	u32Pool.Put(bp)
}

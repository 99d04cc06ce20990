//go:build amd64 && !purego

package kernels

import (
	"sync"
	"unsafe"
)

//go:noescape
func gemmBF16Kernel(kp int, a, b *uint32, c *float32, ldc int, add bool)

// Register tile of gemmBF16Kernel: activation rows × weight rows.
const (
	bfMR = 12
	bfNR = 32
)

// gemmMinN is the smallest number of activation rows sent to the GEMM
// kernels rather than to the GEMV kernels.
const gemmMinN = 4

// packBF16Acts packs the bf16 activations (n rows of cols) into panels of
// bfMR rows: panel q holds, for each pair p, the dwords (pair p) of its rows;
// rows past n are zero.
func packBF16Acts(bf []uint16, n, cols int) []uint32 {
	kp := cols / 2
	panels := (n + bfMR - 1) / bfMR
	dst := make([]uint32, panels*kp*bfMR)
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
	if nn < bfNR {
		clear(dst)
	}
	for j := 0; j < nn; j++ {
		row := unsafe.Slice((*uint32)(unsafe.Pointer(&w.data[(r+j)*w.rowBytes])), kp)
		d := dst[j:]
		for p, v := range row {
			d[p*bfNR] = v
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
	c.once.Do(func() { c.act.packed = packBF16Acts(c.act.bf, c.n, w.cols) })
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

//go:build amd64 && !purego

package kernels

import (
	"math"
	"unsafe"
)

//go:noescape
func gemmQ8Kernel(nblk, steps int, a, b unsafe.Pointer, c *float32, ldc int, add bool)

//go:noescape
func gemmQ8MinKernel(nblk, steps int, a, b unsafe.Pointer, c *float32, ldc int, add bool)

// Register tile of the integer GEMM kernels.
const (
	q8MR = 6
	q8NR = 32
)

// q8Layout describes how a weight type meets the integer GEMM kernels:
// blocks of bk elements, each with a float scale sW (and, with mins, a
// float mW multiplying the activations' block sums).
type q8Layout struct {
	bk   int
	mins bool
}

func layoutOf(t Type) q8Layout {
	switch t {
	case Q6_K:
		return q8Layout{bk: 16}
	case Q4_K:
		return q8Layout{bk: 32, mins: true}
	}
	return q8Layout{bk: 32}
}

// words per block of an A panel and of a B panel.
func (l q8Layout) aWords() int {
	n := l.bk/4*q8MR + q8MR
	if l.mins {
		n += q8MR
	}
	return n
}

func (l q8Layout) bWords() int {
	n := l.bk/4*q8NR + 2*q8NR
	if l.mins {
		n += q8NR
	}
	return n
}

// packQ8Acts packs the quantized activations into panels of q8MR rows:
// per block, the activation bytes as a+128 (steps × q8MR dwords), then sA
// per row, then (with mins) aS = sA·Σa over the block.
func packQ8Acts(t Type, a *acts, n, cols int) []uint32 {
	l := layoutOf(t)
	nblk := cols / l.bk
	steps := l.bk / 4
	panels := (n + q8MR - 1) / q8MR
	dst := make([]uint32, panels*nblk*l.aWords())
	q := unsafe.Slice((*uint32)(unsafe.Pointer(&a.q[0])), n*cols/4)
	for pn := 0; pn < panels; pn++ {
		for i := 0; i < min(q8MR, n-pn*q8MR); i++ {
			row := pn*q8MR + i
			for b := 0; b < nblk; b++ {
				d := dst[(pn*nblk+b)*l.aWords():]
				src := q[(row*cols+b*l.bk)/4:]
				for s := 0; s < steps; s++ {
					d[s*q8MR+i] = src[s] ^ 0x80808080
				}
				var sA, aS float32
				switch t {
				case Q8_0, Q4_0:
					sA = a.d[row*cols/32+b]
				case Q4_K:
					sb := row*cols/16 + 2*b
					sA = a.d[row*cols/256+b/8]
					aS = sA * float32(int32(a.bs[sb])+int32(a.bs[sb+1]))
				case Q6_K:
					sA = a.d[row*cols/256+b/16]
				}
				d[steps*q8MR+i] = math.Float32bits(sA)
				if l.mins {
					d[steps*q8MR+q8MR+i] = math.Float32bits(aS)
				}
			}
		}
	}
	return dst
}

// weightBlock decodes block b (of bk elements) of a stored row to signed
// integers q with the block's scale (and min scale): w = sW·q − mW.
func weightBlock(t Type, row []byte, b int, q *[32]int8) (sW, mW float32) {
	switch t {
	case Q8_0:
		blk := row[34*b:]
		for j := 0; j < 32; j++ {
			q[j] = int8(blk[2+j])
		}
		return half(blk), 0
	case Q4_0:
		blk := row[18*b:]
		for j := 0; j < 16; j++ {
			v := blk[2+j]
			q[j] = int8(v&15) - 8
			q[j+16] = int8(v>>4) - 8
		}
		return half(blk), 0
	case Q4_K:
		blk := row[144*(b/8):]
		j := b % 8
		sc, m := scaleMinK4(j, blk[4:16])
		qs := blk[16+32*(j/2):]
		for l := 0; l < 32; l++ {
			if j%2 == 0 {
				q[l] = int8(qs[l] & 15)
			} else {
				q[l] = int8(qs[l] >> 4)
			}
		}
		return half(blk) * float32(sc), half(blk[2:]) * float32(m)
	case Q6_K:
		blk := row[210*(b/16):]
		j := b % 16 // sub-block of 16: half h, quarter k (elements 32k..32k+31 of the half), is = j%2
		h, k, is := j/8, j%8/2, j%2
		ql, qh := blk[64*h:], blk[128+32*h:]
		for l := 0; l < 16; l++ {
			ll := 16*is + l
			var v byte
			switch k {
			case 0:
				v = ql[ll]&0xf | (qh[ll]>>0&3)<<4
			case 1:
				v = ql[ll+32]&0xf | (qh[ll]>>2&3)<<4
			case 2:
				v = ql[ll]>>4 | (qh[ll]>>4&3)<<4
			case 3:
				v = ql[ll+32]>>4 | (qh[ll]>>6&3)<<4
			}
			q[l] = int8(v) - 32
		}
		return half(blk[208:]) * float32(int8(blk[192+8*h+2*k+is])), 0
	}
	panic("kernels: no integer layout for " + t.String())
}

// packQ8Rows packs nn (≤ q8NR) weight rows from row r into a B panel.
func packQ8Rows(dst []uint32, w *Matrix, r, nn int, l q8Layout) {
	nblk := w.cols / l.bk
	steps := l.bk / 4
	if nn < q8NR {
		clear(dst)
	}
	var q [32]int8
	for j := 0; j < nn; j++ {
		row := w.row(r + j)
		for b := 0; b < nblk; b++ {
			d := dst[b*l.bWords():]
			sW, mW := weightBlock(w.typ, row, b, &q)
			qd := (*[8]uint32)(unsafe.Pointer(&q[0]))
			var sum int32
			for _, v := range q[:l.bk] {
				sum += int32(v)
			}
			for s := 0; s < steps; s++ {
				d[s*q8NR+j] = qd[s]
			}
			d[steps*q8NR+j] = uint32(128 * sum)
			d[steps*q8NR+q8NR+j] = math.Float32bits(sW)
			if l.mins {
				d[steps*q8NR+2*q8NR+j] = math.Float32bits(mW)
			}
		}
	}
}

// gemmQ8Fast is the Fast kernel of the block-quantized types for
// n ≥ gemmMinN activation rows; fewer go to the GEMV kernel gemv.
func gemmQ8Fast(gemv rowsKernel) rowsKernel {
	return func(c *call, r0, r1 int) {
		if c.n < gemmMinN {
			gemv(c, r0, r1)
			return
		}
		w := c.w
		l := layoutOf(w.typ)
		nblk, steps := w.cols/l.bk, l.bk/4
		kern := gemmQ8Kernel
		if l.mins {
			kern = gemmQ8MinKernel
		}
		c.once.Do(func() { c.act.packed = packQ8Acts(w.typ, c.act, c.n, w.cols) })
		a := c.act.packed
		bp := u32Pool.Get().(*[]uint32)
		b := growSlice(*bp, nblk*l.bWords())
		var tile [q8MR * q8NR]float32
		pw := nblk * l.aWords()
		for t := r0; t < r1; t += q8NR {
			nn := min(q8NR, r1-t)
			packQ8Rows(b, w, t, nn, l)
			for q := 0; q*q8MR < c.n; q++ {
				mm := min(q8MR, c.n-q*q8MR)
				ap := unsafe.Pointer(&a[q*pw])
				if mm == q8MR && nn == q8NR {
					_ = c.y[(q*q8MR+mm-1)*w.rows+t+nn-1]
					kern(nblk, steps, ap, unsafe.Pointer(&b[0]), &c.y[q*q8MR*w.rows+t], w.rows, c.add)
					continue
				}
				kern(nblk, steps, ap, unsafe.Pointer(&b[0]), &tile[0], q8NR, false)
				for i := 0; i < mm; i++ {
					y := c.y[(q*q8MR+i)*w.rows+t : (q*q8MR+i)*w.rows+t+nn]
					for j := range y {
						c.store(&y[j], tile[i*q8NR+j])
					}
				}
			}
		}
		*bp = b
		u32Pool.Put(bp)
	}
}

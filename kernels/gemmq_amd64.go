//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/bits"
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
func packQ8Acts(dst []uint32, t Type, a *acts, n, cols int) []uint32 {
	l := layoutOf(t)
	nblk := cols / l.bk
	steps := l.bk / 4
	panels := (n + q8MR - 1) / q8MR
	dst = growSlice(dst, panels*nblk*l.aWords())
	clear(dst[(panels-1)*nblk*l.aWords():]) // the padding rows of the last panel
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

// le32 loads the little-endian dword at b[0:4] (unaligned loads are fine on amd64).
func le32(b []byte) uint32 {
	_ = b[3]
	return *(*uint32)(unsafe.Pointer(&b[0]))
}

// swarSum accumulates the bytes of v as two 16-bit lane pairs.
func swarSum(acc, v uint32) uint32 { return acc + v&0x00ff00ff + v>>8&0x00ff00ff }

// swarTotal is the sum of the bytes added by swarSum.
func swarTotal(acc uint32) int32 { return int32(acc&0xffff + acc>>16) }

// subBytes subtracts k from each byte of v (bytes in [k−128, 127+k] stay exact).
func subBytes(v, k uint32) uint32 { return (v | 0x80808080) - k ^ 0x80808080 }

// panelWriter stores the blocks of one row of a B panel.
type panelWriter struct {
	base  unsafe.Pointer // the row's first dword in the panel
	bw    int            // bytes per block of the panel
	steps int
	mins  bool
}

// put stores block b: its dwords (signed quants), 128·Σq, and its scales.
// packQ8Rows has checked that the panel holds every block.
func (pw *panelWriter) put(b int, q *[8]uint32, sum int32, sW, mW float32) {
	p := unsafe.Add(pw.base, b*pw.bw)
	for s := 0; s < pw.steps; s++ {
		*(*uint32)(unsafe.Add(p, 4*q8NR*s)) = q[s]
	}
	p = unsafe.Add(p, 4*q8NR*pw.steps)
	*(*int32)(p) = 128 * sum
	*(*float32)(unsafe.Add(p, 4*q8NR)) = sW
	if pw.mins {
		*(*float32)(unsafe.Add(p, 8*q8NR)) = mW
	}
}

// packRow writes one stored row into a B panel as signed byte quants with
// per-block scales (w = sW·q − mW), four quants per dword op.
func packRow(pw *panelWriter, t Type, row []byte) {
	var q [8]uint32
	switch t {
	case Q8_0:
		for b := 0; b < len(row)/34; b++ {
			blk := row[34*b : 34*b+34]
			var acc, neg uint32
			for s := range 8 {
				v := le32(blk[2+4*s:])
				q[s] = v
				acc = swarSum(acc, v)
				neg += uint32(bits.OnesCount32(v & 0x80808080))
			}
			pw.put(b, &q, swarTotal(acc)-256*int32(neg), half(blk), 0)
		}
	case Q4_0:
		for b := 0; b < len(row)/18; b++ {
			blk := row[18*b : 18*b+18]
			var acc uint32
			for s := range 4 {
				v := le32(blk[2+4*s:])
				lo, hi := v&0x0f0f0f0f, v>>4&0x0f0f0f0f
				acc = swarSum(swarSum(acc, lo), hi)
				q[s], q[s+4] = subBytes(lo, 0x08080808), subBytes(hi, 0x08080808)
			}
			pw.put(b, &q, swarTotal(acc)-8*32, half(blk), 0)
		}
	case Q4_K:
		for sb := 0; sb < len(row)/144; sb++ {
			blk := row[144*sb : 144*sb+144]
			d, dmin := half(blk), half(blk[2:])
			for g := 0; g < 4; g++ {
				sc1, m1 := scaleMinK4(2*g, blk[4:16])
				sc2, m2 := scaleMinK4(2*g+1, blk[4:16])
				var acc1, acc2 uint32
				var q2 [8]uint32
				for s := range 8 {
					v := le32(blk[16+32*g+4*s:])
					q[s], q2[s] = v&0x0f0f0f0f, v>>4&0x0f0f0f0f
					acc1, acc2 = swarSum(acc1, q[s]), swarSum(acc2, q2[s])
				}
				pw.put(8*sb+2*g, &q, swarTotal(acc1), d*float32(sc1), dmin*float32(m1))
				pw.put(8*sb+2*g+1, &q2, swarTotal(acc2), d*float32(sc2), dmin*float32(m2))
			}
		}
	case Q6_K:
		for sb := 0; sb < len(row)/210; sb++ {
			blk := row[210*sb : 210*sb+210]
			d := half(blk[208:])
			for h := 0; h < 2; h++ {
				ql, qh, sc := blk[64*h:], blk[128+32*h:], blk[192+8*h:]
				// Quarter k of the half holds elements 32k..32k+31: two
				// sub-blocks of 16 (four dwords each).
				var quarter [4][8]uint32
				for s := range 8 {
					a, b, hb := le32(ql[4*s:]), le32(ql[32+4*s:]), le32(qh[4*s:])
					quarter[0][s] = a&0x0f0f0f0f | (hb&0x03030303)<<4
					quarter[1][s] = b&0x0f0f0f0f | (hb>>2&0x03030303)<<4
					quarter[2][s] = a>>4&0x0f0f0f0f | (hb>>4&0x03030303)<<4
					quarter[3][s] = b>>4&0x0f0f0f0f | (hb>>6&0x03030303)<<4
				}
				for k := 0; k < 4; k++ {
					for is := 0; is < 2; is++ {
						var acc uint32
						for s := range 4 {
							v := quarter[k][4*is+s]
							acc = swarSum(acc, v)
							q[s] = subBytes(v, 0x20202020)
						}
						b := 16*sb + 8*h + 2*k + is
						pw.put(b, &q, swarTotal(acc)-32*16, d*float32(int8(sc[2*k+is])), 0)
					}
				}
			}
		}
	default:
		panic("kernels: no integer layout for " + t.String())
	}
}

// packQ8Rows packs nn (≤ q8NR) weight rows from row r into a B panel.
func packQ8Rows(dst []uint32, w *Matrix, r, nn int, l q8Layout) {
	if nn < q8NR {
		clear(dst)
	}
	_ = dst[w.cols/l.bk*l.bWords()-1] // every block of every row lies in dst
	for j := 0; j < nn; j++ {
		pw := panelWriter{base: unsafe.Pointer(&dst[j]), bw: 4 * l.bWords(), steps: l.bk / 4, mins: l.mins}
		packRow(&pw, w.typ, w.row(r+j))
	}
}

// gemmQ8Fast is the Fast kernel of the block-quantized types for
// n ≥ gemmMinNQ activation rows; fewer go to the GEMV kernel gemv.
func gemmQ8Fast(gemv rowsKernel) rowsKernel {
	return func(c *call, r0, r1 int) {
		if c.n < gemmMinNQ {
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
		c.once.Do(func() { c.act.packed = packQ8Acts(c.act.packed, w.typ, c.act, c.n, w.cols) })
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

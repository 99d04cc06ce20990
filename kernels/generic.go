package kernels

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"

	"github.com/retrofit-llm/retrofit/sgemm"
	"github.com/x448/float16"
)

// rowsKernel computes rows [r0,r1) of W against all n activation rows.
type rowsKernel func(c *call, r0, r1 int)

// kernelSet is one implementation of the per-type kernels.
type kernelSet struct {
	name        string
	exact, fast [Q6_K + 1]rowsKernel
	// decode, where set, widens a row (a multiple of 32 elements) faster
	// than decodeRow, with the same result.
	decode [Q6_K + 1]decodeFunc
	// actBF16 and actQ8_0, where set, convert activation rows exactly as
	// toBF16 and quantizeQ8_0Block do (for finite inputs).
	actBF16 func(dst []uint16, src []float32)
	actQ8_0 func(q []int8, d []float32, x []float32)
	actQ8_K func(q []int8, d []float32, bs []int16, x []float32)
}

// decodeFunc widens one stored row to fp32 (len(dst) elements).
type decodeFunc func(dst []float32, raw []byte)

var genericSet = kernelSet{
	name: "generic",
	exact: [...]rowsKernel{F32: exactF32, F16: exactDecode, BF16: exactDecode,
		Q8_0: exactDecode, Q4_0: exactDecode, Q4_K: exactDecode, Q6_K: exactDecode},
	fast: [...]rowsKernel{F32: exactF32, F16: exactDecode, BF16: fastGeneric,
		Q8_0: fastGeneric, Q4_0: fastGeneric, Q4_K: fastGeneric, Q6_K: fastGeneric},
}

// active is the kernel set chosen for this CPU at init.
var active = &genericSet

// Backend names the kernel set in use: "generic" or an assembly variant.
func Backend() string { return active.name }

func exactKernel(c *call) rowsKernel { return active.exact[c.w.typ] }
func fastKernel(c *call) rowsKernel  { return active.fast[c.w.typ] }

func (c *call) beta() float32 {
	if c.add {
		return 1
	}
	return 0
}

// exactF32 multiplies F32 weights in place with sgemm.
func exactF32(c *call, r0, r1 int) {
	w := c.w
	raw := w.data[r0*w.rowBytes : r1*w.rowBytes]
	if uintptr(unsafe.Pointer(&raw[0]))%4 != 0 {
		exactDecode(c, r0, r1) // misaligned bytes: widen blocks of rows
		return
	}
	ws := unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), (r1-r0)*w.cols)
	sgemm.GemmThreads(1, false, true, c.n, r1-r0, w.cols, 1, c.x, w.cols, ws, w.cols, c.beta(), c.y[r0:], w.rows)
}

var f32Pool = sync.Pool{New: func() any { return new([]float32) }}

// exactDecode widens blocks of rows to fp32 and multiplies them with sgemm.
func exactDecode(c *call, r0, r1 int) {
	w := c.w
	br := 16
	if c.n > 8 {
		br = 256
	}
	bp := f32Pool.Get().(*[]float32)
	buf := growSlice(*bp, min(br, r1-r0)*w.cols)
	dec := c.dec
	if dec == nil || w.cols%32 != 0 {
		dec = func(dst []float32, raw []byte) { decodeRow(w.typ, dst, raw) }
	}
	for r := r0; r < r1; r += br {
		rb := min(br, r1-r)
		for i := 0; i < rb; i++ {
			dec(buf[i*w.cols:(i+1)*w.cols], w.row(r+i))
		}
		sgemm.GemmThreads(1, false, true, c.n, rb, w.cols, 1, c.x, w.cols, buf, w.cols, c.beta(), c.y[r:], w.rows)
	}
	*bp = buf
	f32Pool.Put(bp)
}

// fastGeneric is the portable Fast kernel: one dot per (row, activation row).
func fastGeneric(c *call, r0, r1 int) {
	w, a := c.w, c.act
	cols := w.cols
	for r := r0; r < r1; r++ {
		row := w.row(r)
		for i := 0; i < c.n; i++ {
			var v float32
			switch w.typ {
			case BF16:
				v = dotBF16(row, a.bf[i*cols:(i+1)*cols])
			case Q8_0:
				v = dotQ8_0(row, a.q[i*cols:(i+1)*cols], a.d[i*cols/32:])
			case Q4_0:
				v = dotQ4_0(row, a.q[i*cols:(i+1)*cols], a.d[i*cols/32:])
			case Q4_K:
				v = dotQ4_K(row, a.q[i*cols:(i+1)*cols], a.d[i*cols/256:], a.bs[i*cols/16:])
			case Q6_K:
				v = dotQ6_K(row, a.q[i*cols:(i+1)*cols], a.d[i*cols/256:])
			}
			c.store(&c.y[i*w.rows+r], v)
		}
	}
}

func half(b []byte) float32 { return float16.Frombits(binary.LittleEndian.Uint16(b)).Float32() }

// dotBF16 is Σ w·x over bf16 pairs with fp32 sums (products are exact).
func dotBF16(w []byte, x []uint16) float32 {
	var acc [16]float32
	for j := 0; j+1 < len(x); j += 2 {
		w0 := math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*j:])) << 16)
		w1 := math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*j+2:])) << 16)
		x0 := math.Float32frombits(uint32(x[j]) << 16)
		x1 := math.Float32frombits(uint32(x[j+1]) << 16)
		l := j / 2 % 16
		acc[l] += float32(w1 * x1)
		acc[l] += float32(w0 * x0)
	}
	if len(x)%2 == 1 { // an odd last element pairs with a zero
		j := len(x) - 1
		acc[j/2%16] += math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*j:]))<<16) * math.Float32frombits(uint32(x[j])<<16)
	}
	return sum16(&acc)
}

// sum16 adds 16 lanes pairwise (the order of a vector reduction).
func sum16(a *[16]float32) float32 {
	var s [8]float32
	for i := range s {
		s[i] = a[i] + a[i+8]
	}
	for i := 0; i < 4; i++ {
		s[i] += s[i+4]
	}
	return (s[0] + s[2]) + (s[1] + s[3])
}

// blockQ8_0 is the integer dot of one Q8_0 weight block's quants with 32 activations.
func blockQ8_0(qw []byte, q []int8) int32 {
	var s int32
	for j, v := range q[:32] {
		s += int32(int8(qw[j])) * int32(v)
	}
	return s
}

// dotQ8_0 is Σ_b dw·dx·Σ qw·qx over Q8_0 blocks. The explicit conversions
// round every product before the sum (the Go compiler would otherwise fuse
// them into FMADD on arm64), so these kernels give the same bits on every
// platform, and the NEON kernels compute in the same order.
func dotQ8_0(w []byte, q []int8, d []float32) float32 {
	var s float32
	for b := 0; b < len(q)/32; b++ {
		blk := w[34*b : 34*b+34]
		s += float32(float32(blockQ8_0(blk[2:], q[32*b:])) * (half(blk) * d[b]))
	}
	return s
}

// blockQ4_0 is the integer dot of one Q4_0 block's (nibble − 8) with 32 activations.
func blockQ4_0(qw []byte, q []int8) int32 {
	var s int32
	for j := 0; j < 16; j++ {
		s += (int32(qw[j]&15)-8)*int32(q[j]) + (int32(qw[j]>>4)-8)*int32(q[j+16])
	}
	return s
}

func dotQ4_0(w []byte, q []int8, d []float32) float32 {
	var s float32
	for b := 0; b < len(q)/32; b++ {
		blk := w[18*b : 18*b+18]
		s += float32(float32(blockQ4_0(blk[2:], q[32*b:])) * (half(blk) * d[b]))
	}
	return s
}

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j of a Q4_K block.
func scaleMinK4(j int, q []byte) (sc, m int32) {
	if j < 4 {
		return int32(q[j] & 63), int32(q[j+4] & 63)
	}
	return int32(q[j+4]&0xf | (q[j-4]>>6)<<4), int32(q[j+4]>>4 | (q[j]>>6)<<4)
}

// blockQ4_K returns, for one Q4_K super-block against Q8_K activations,
// Σ_j sc_j·Σ q4·q8 and Σ_j m_j·(bsum of sub-block j).
func blockQ4_K(blk []byte, q []int8, bs []int16) (isum, msum int32) {
	scales, qs := blk[4:16], blk[16:144]
	for g := 0; g < 4; g++ {
		sc1, m1 := scaleMinK4(2*g, scales)
		sc2, m2 := scaleMinK4(2*g+1, scales)
		var s1, s2 int32
		for l := 0; l < 32; l++ {
			v := qs[32*g+l]
			s1 += int32(v&15) * int32(q[64*g+l])
			s2 += int32(v>>4) * int32(q[64*g+32+l])
		}
		isum += sc1*s1 + sc2*s2
		msum += m1*int32(bs[4*g]+bs[4*g+1]) + m2*int32(bs[4*g+2]+bs[4*g+3])
	}
	return isum, msum
}

func dotQ4_K(w []byte, q []int8, d []float32, bs []int16) float32 {
	var s float32
	for b := 0; b < len(q)/256; b++ {
		blk := w[144*b : 144*b+144]
		isum, msum := blockQ4_K(blk, q[256*b:], bs[16*b:])
		s += float32(float32(isum)*(half(blk)*d[b])) - float32(float32(msum)*(half(blk[2:])*d[b]))
	}
	return s
}

// blockQ6_K is Σ_j sc_j·Σ (q6 − 32)·q8 over one Q6_K super-block.
func blockQ6_K(blk []byte, q []int8) int32 {
	ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
	var isum int32
	for h := 0; h < 2; h++ {
		l4, h2, s, x := ql[64*h:], qh[32*h:], sc[8*h:], q[128*h:]
		var sub [8]int32 // sums of the 16-element sub-blocks: is + 2·k for k=0..3
		for l := 0; l < 32; l++ {
			is := l / 16
			sub[is] += (int32(l4[l]&0xf|(h2[l]>>0&3)<<4) - 32) * int32(x[l])
			sub[is+2] += (int32(l4[l+32]&0xf|(h2[l]>>2&3)<<4) - 32) * int32(x[l+32])
			sub[is+4] += (int32(l4[l]>>4|(h2[l]>>4&3)<<4) - 32) * int32(x[l+64])
			sub[is+6] += (int32(l4[l+32]>>4|(h2[l]>>6&3)<<4) - 32) * int32(x[l+96])
		}
		for k, v := range sub {
			isum += int32(int8(s[k])) * v
		}
	}
	return isum
}

func dotQ6_K(w []byte, q []int8, d []float32) float32 {
	var s float32
	for b := 0; b < len(q)/256; b++ {
		blk := w[210*b : 210*b+210]
		s += float32(float32(blockQ6_K(blk, q[256*b:])) * (half(blk[208:]) * d[b]))
	}
	return s
}

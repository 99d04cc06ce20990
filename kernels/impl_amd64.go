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

//go:noescape
func dequantQ4_K(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ6_K(dst *float32, src *byte, nb int)

//go:noescape
func gemvQ8_0AVX2(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ4_0AVX2(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ4_KAVX2(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ6_KAVX2(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvBF16AVX2(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func dequantBF16AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantF16AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ8_0AVX2(dst *float32, src *byte, nb int)

func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C }

// avx2Set serves CPUs without AVX-512: GEMV kernels (also looped for GEMM)
// for Q8_0, Q4_0, Q4_K, Q6_K and BF16, and row widening for Exact mode of
// BF16, F16 and Q8_0.
var avx2Set = func() kernelSet {
	k := genericSet
	k.name = "avx2"
	k.fast[Q8_0] = fastAsm(gemvQ8_0AVX2)
	k.fast[Q4_0] = fastAsm(gemvQ4_0AVX2)
	k.fast[BF16] = fastAsm(gemvBF16AVX2)
	k.fast[Q4_K] = fastAsm(gemvQ4_KAVX2)
	k.fast[Q6_K] = fastAsm(gemvQ6_KAVX2)
	k.decode[BF16] = decodeAsm(dequantBF16AVX2)
	k.decode[F16] = decodeAsm(dequantF16AVX2)
	k.decode[Q8_0] = decodeAsm(dequantQ8_0AVX2)
	return k
}()

//go:noescape
func gemvF16(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

// fastF16 runs decode (n < gemmMinN) through gemvF16 and larger n through
// Exact's widened GEMM: both fp32 arithmetic on widened weights.
func fastF16(c *call, r0, r1 int) {
	if c.n >= gemmMinN || c.w.cols%32 != 0 {
		exactDecode(c, r0, r1)
		return
	}
	asmRows(c, r0, r1, gemvF16, func(i int) (unsafe.Pointer, *float32, *int16) {
		return unsafe.Pointer(&c.x[i*c.w.cols]), nil, nil
	})
}

//go:noescape
func toBF16Row(dst *uint16, src *float32, n int)

//go:noescape
func quantizeQ8_0Row(q *int8, d *float32, x *float32, nb int)

func actBF16AVX512(dst []uint16, src []float32) {
	if len(src)%16 != 0 || len(dst) < len(src) {
		panic("kernels: actBF16AVX512: bad lengths")
	}
	toBF16Row(&dst[0], &src[0], len(src))
}

func actQ8_0AVX512(q []int8, d []float32, x []float32) {
	if len(x)%32 != 0 || len(q) < len(x) || len(d) < len(x)/32 {
		panic("kernels: actQ8_0AVX512: bad lengths")
	}
	quantizeQ8_0Row(&q[0], &d[0], &x[0], len(x)/32)
}

//go:noescape
func quantizeQ8_KRow(q *int8, d *float32, bs *int16, x *float32, nb int)

func actQ8_KAVX512(q []int8, d []float32, bs []int16, x []float32) {
	if len(x)%256 != 0 || len(q) < len(x) || len(d) < len(x)/256 || len(bs) < len(x)/16 {
		panic("kernels: actQ8_KAVX512: bad lengths")
	}
	quantizeQ8_KRow(&q[0], &d[0], &bs[0], &x[0], len(x)/256)
}

//go:noescape
func exactRowsBF16(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ8_0(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ4_K(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ6_K(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsF16(w *byte, stride, nrows int, x *float32, n int, out *float32)

// exactGEMVBackend is the sgemm kernel whose dot order exactRows* follow.
const exactGEMVBackend = "avx512"

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
	k.decode[Q4_K] = decodeAsmK(dequantQ4_K)
	k.decode[Q6_K] = decodeAsmK(dequantQ6_K)
	k.fast[F16] = fastF16
	k.actBF16 = actBF16AVX512
	k.actQ8_0 = actQ8_0AVX512
	k.actQ8_K = actQ8_KAVX512
	k.exact[BF16] = exactGEMV(exactRowsBF16)
	k.exact[F16] = exactGEMV(exactRowsF16)
	k.exact[Q8_0] = exactGEMV(exactRowsQ8_0)
	k.exact[Q4_K] = exactGEMV(exactRowsQ4_K)
	k.exact[Q6_K] = exactGEMV(exactRowsQ6_K)
	k.fast[Q8_0] = gemmQ8Fast(fastAsm(gemvQ8_0VNNI))
	k.fast[Q4_0] = gemmQ8Fast(fastAsm(gemvQ4_0VNNI))
	k.fast[Q4_K] = gemmQ8Fast(fastAsm(gemvQ4_KAVX512))
	k.fast[Q6_K] = gemmQ8Fast(fastAsm(gemvQ6_KAVX512))
	if cpu.X86.HasAVX512BF16 {
		k.name += "+bf16"
		k.fast[BF16] = gemmBF16Fast
	} else {
		k.fast[BF16] = fastAsm(gemvBF16AVX2) // widened bf16, same semantics
	}
	return k
}()

func init() {
	switch {
	case hasVNNI():
		active = &vnniSet
	case hasAVX2():
		active = &avx2Set
	}
}

func availableSets() []*kernelSet {
	l := []*kernelSet{&genericSet}
	if hasAVX2() {
		l = append(l, &avx2Set)
	}
	if hasVNNI() {
		l = append(l, &vnniSet)
	}
	return l
}

var fastGEMVBF16 = fastAsm(gemvBF16)

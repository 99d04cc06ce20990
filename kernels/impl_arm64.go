//go:build arm64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_neon.go

//go:noescape
func gemvQ8_0SDOT(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ4_0SDOT(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ4_KSDOT(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvQ6_KSDOT(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func gemvBF16NEON(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)

//go:noescape
func exactRowsBF16NEON(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsF16NEON(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ8_0NEON(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ4_0NEON(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ4_KNEON(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func exactRowsQ6_KNEON(w *byte, stride, nrows int, x *float32, n int, out *float32)

//go:noescape
func dequantQ4_KNEON(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ6_KNEON(dst *float32, src *byte, nb int)

// exactGEMVBackend is the sgemm kernel whose dot order exactRows* follow.
const exactGEMVBackend = "neon"

//go:noescape
func dequantBF16NEON(dst *float32, src *byte, nb int)

//go:noescape
func dequantF16NEON(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ8_0NEON(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4_0NEON(dst *float32, src *byte, nb int)

// neonSet needs only ASIMD, part of the ARMv8-A base every arm64 CPU has:
// the Fast BF16 GEMV (FMLA, the portable kernel's summation order); for
// Exact mode, row widening of every stored type but F32 for sgemm's NEON
// kernels, and for decode the same widening inside sgemm's dot.
var neonSet = func() kernelSet {
	k := genericSet
	k.name = "neon"
	k.fast[BF16] = fastAsm(gemvBF16NEON)
	k.decode[BF16] = decodeAsm(dequantBF16NEON)
	k.decode[F16] = decodeAsm(dequantF16NEON)
	k.decode[Q8_0] = decodeAsm(dequantQ8_0NEON)
	k.decode[Q4_0] = decodeAsm(dequantQ4_0NEON)
	k.decode[Q4_K] = decodeAsmK(dequantQ4_KNEON)
	k.decode[Q6_K] = decodeAsmK(dequantQ6_KNEON)
	k.exact[BF16] = exactGEMV(exactRowsBF16NEON)
	k.exact[F16] = exactGEMV(exactRowsF16NEON)
	k.exact[Q8_0] = exactGEMV(exactRowsQ8_0NEON)
	k.exact[Q4_0] = exactGEMV(exactRowsQ4_0NEON)
	k.exact[Q4_K] = exactGEMV(exactRowsQ4_KNEON)
	k.exact[Q6_K] = exactGEMV(exactRowsQ6_KNEON)
	return k
}()

// dotprodSet adds the Fast Q8_0, Q4_0, Q4_K and Q6_K GEMV with SDOT
// (ARMv8.2 dotprod): exact int32 block sums, scaled and summed in fp32 in
// the portable kernels' order, so its results are theirs bit for bit.
var dotprodSet = func() kernelSet {
	k := neonSet
	k.name = "neon+dotprod"
	k.fast[Q8_0] = fastAsm(gemvQ8_0SDOT)
	k.fast[Q4_0] = fastAsm(gemvQ4_0SDOT)
	k.fast[Q4_K] = fastAsm(gemvQ4_KSDOT)
	k.fast[Q6_K] = fastAsm(gemvQ6_KSDOT)
	return k
}()

func init() {
	active = &neonSet
	if cpu.ARM64.HasASIMDDP {
		active = &dotprodSet
	}
}

func availableSets() []*kernelSet {
	l := []*kernelSet{&genericSet, &neonSet}
	if cpu.ARM64.HasASIMDDP {
		l = append(l, &dotprodSet)
	}
	return l
}

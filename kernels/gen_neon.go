//go:build ignore

// gen_neon writes kernels_arm64.s: go run gen_neon.go
//
// Go's arm64 assembler lacks SDOT (ARMv8.2 dotprod), SXTL, SCVTF and FCVTL
// on vectors, and vector FADD/FMUL; they are emitted as WORDs with the
// mnemonic in a comment. The encodings follow the Arm ARM (A64 "SDOT
// (vector)", "SSHLL", "SCVTF (vector, integer)", "FCVTL", "FADD (vector)",
// "FMUL (by element)", "FADDP (scalar)") and were checked against
// llvm-mc -triple=aarch64 -mattr=+dotprod -show-encoding.
//
// Go operand order: sources first, destination last, and for three-register
// vector instructions the two sources reversed (VSUB Vm, Vn, Vd is
// Vd = Vn − Vm).
package main

import (
	"fmt"
	"os"
	"strings"
)

var w strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&w, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&w, "%s:\n", l) }

func word(enc uint32, format string, args ...any) {
	p("WORD $0x%08x // %s", enc, fmt.Sprintf(format, args...))
}

func rdn(d, n int) uint32 { return uint32(n)<<5 | uint32(d) }

// sdot: SDOT Vd.4S, Vn.16B, Vm.16B (Vd += Σ of four int8 products per lane).
func sdot(d, n, m int) {
	word(0x4E809400|uint32(m)<<16|rdn(d, n), "SDOT V%d.4S, V%d.16B, V%d.16B", d, n, m)
}

// sxtl widens the low (hi=false) or high half of Vn's signed lanes of size
// from bits (8 or 16) to twice that: SXTL/SXTL2 (SSHLL #0).
func sxtl(d, n, from int, hi bool) {
	enc := uint32(0x0F08A400)
	if from == 16 {
		enc = 0x0F10A400
	}
	name, src, dst := "SXTL", fmt.Sprintf("%dB", 8), "8H"
	if from == 16 {
		src, dst = "4H", "4S"
	}
	if hi {
		enc |= 1 << 30
		name += "2"
		src = map[int]string{8: "16B", 16: "8H"}[from]
	}
	word(enc|rdn(d, n), "%s V%d.%s, V%d.%s", name, d, dst, n, src)
}

// scvtf4: SCVTF Vd.4S, Vn.4S.
func scvtf4(d, n int) { word(0x4E21D800|rdn(d, n), "SCVTF V%d.4S, V%d.4S", d, n) }

// scvtfS: SCVTF Sd, Sn (an int32 in a vector register).
func scvtfS(d, n int) { word(0x5E21D800|rdn(d, n), "SCVTF S%d, S%d", d, n) }

// fcvtl widens four fp16 lanes (the high four with hi) to fp32: FCVTL/FCVTL2.
func fcvtl(d, n int, hi bool) {
	if hi {
		word(0x4E217800|rdn(d, n), "FCVTL2 V%d.4S, V%d.8H", d, n)
	} else {
		word(0x0E217800|rdn(d, n), "FCVTL V%d.4S, V%d.4H", d, n)
	}
}

// fadd4: FADD Vd.4S, Vn.4S, Vm.4S.
func fadd4(d, n, m int) {
	word(0x4E20D400|uint32(m)<<16|rdn(d, n), "FADD V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// fmulElem: FMUL Vd.4S, Vn.4S, Vm.S[idx].
func fmulElem(d, n, m, idx int) {
	enc := 0x4F809000 | uint32(idx&1)<<21 | uint32(m)<<16 | uint32(idx>>1)<<11 | rdn(d, n)
	word(enc, "FMUL V%d.4S, V%d.4S, V%d.S[%d]", d, n, m, idx)
}

// faddpS: FADDP Sd, Vn.2S.
func faddpS(d, n int) { word(0x7E30D800|rdn(d, n), "FADDP S%d, V%d.2S", d, n) }

// halfTo loads the fp16 at (reg), moving reg past it, into Sd as fp32.
func halfTo(d int, reg string) {
	p("MOVHU.P 2(%s), R12", reg)
	p("VMOV R12, V%d.H[0]", d)
	p("FCVTHS F%d, F%d", d, d)
}

// gemvSpec describes a Fast GEMV kernel with the frame
//
//	func name(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)
//
// computing out[r] = row r of W (at w + r·stride) · activations, for r <
// nrows, one row at a time, nb blocks per row. Registers: R8 the row's
// weights, R9 the activations, R10 their scales, R13 their bsums, R11 the
// blocks left; body(u) emits one block (u = 0 or 1 within an unrolled
// pair: independent temporaries) advancing the pointers with post-indexed
// loads; zero clears the accumulators and finish stores the row's sum with
// FMOVS.P F?, 4(R7).
type gemvSpec struct {
	name                string
	setup, zero, finish func()
	body                func(u int)
}

func gemvFrame(g gemvSpec) {
	n := g.name
	fmt.Fprintf(&w, "// func %s(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)\n", n)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", n)
	p("MOVD w+0(FP), R0")
	p("MOVD stride+8(FP), R1")
	p("MOVD nrows+16(FP), R2")
	p("MOVD out+56(FP), R7")
	if g.setup != nil {
		g.setup()
	}
	p("CBZ R2, %s_done", n)
	label(n + "_row")
	p("MOVD R0, R8")
	p("MOVD x+24(FP), R9")
	p("MOVD xd+32(FP), R10")
	p("MOVD xs+40(FP), R13")
	p("MOVD nb+48(FP), R11")
	g.zero()
	// Pairs of blocks, then the odd one: R11 ends at −2 (even nb) or −1.
	p("SUBS $2, R11, R11")
	p("BLT %s_one", n)
	label(n + "_pair")
	g.body(0)
	g.body(1)
	p("SUBS $2, R11, R11")
	p("BGE %s_pair", n)
	label(n + "_one")
	p("TBZ $0, R11, %s_fin", n)
	g.body(0)
	label(n + "_fin")
	g.finish()
	p("ADD R1, R0, R0")
	p("SUBS $1, R2, R2")
	p("BNE %s_row", n)
	label(n + "_done")
	p("RET")
	w.WriteString("\n")
}

// scaleAdd finishes a 32-block of a Q8_0-activation kernel: the int32 lane
// sums in V(acc) are added (exact), converted to fp32 and multiplied by
// dw·dx, then added to the row sum F7 — each operation rounded, in the
// order of the portable dotQ8_0.
func scaleAdd(acc, t int) {
	p("VADDV V%d.S4, V%d", acc, acc)
	scvtfS(acc, acc)
	p("FMOVS.P 4(R10), F%d", t+1)
	p("FMULS F%d, F%d, F%d", t+1, t, t) // dw·dx
	p("FMULS F%d, F%d, F%d", t, acc, acc)
	p("FADDS F%d, F7, F7", acc)
}

func zeroF7()  { p("VEOR V7.B16, V7.B16, V7.B16") }
func storeF7() { p("FMOVS.P F7, 4(R7)") }

// gemvQ8_0: W blocks of 34 bytes (fp16 dw, 32 int8); activations 32 int8
// per block with fp32 scales. Two SDOTs give four lane sums of the block.
func gemvQ8_0() {
	gemvFrame(gemvSpec{name: "gemvQ8_0SDOT", zero: zeroF7, finish: storeF7, body: func(u int) {
		x, wv, acc := 16+4*u, 18+4*u, 24+2*u
		p("VLD1.P 32(R9), [V%d.B16, V%d.B16]", x, x+1)
		halfTo(2*u+1, "R8")
		p("VLD1.P 32(R8), [V%d.B16, V%d.B16]", wv, wv+1)
		p("VEOR V%d.B16, V%d.B16, V%d.B16", acc, acc, acc)
		sdot(acc, wv, x)
		sdot(acc, wv+1, x+1)
		scaleAdd(acc, 2*u+1)
	}})
}

// gemvQ4_0: W blocks of 18 bytes (fp16 dw, 16 bytes of nibbles: element j
// the low nibble of byte j, element j+16 its high nibble). The nibbles minus
// 8 are int8, so SDOT takes them as Q8_0's quants.
func gemvQ4_0() {
	gemvFrame(gemvSpec{name: "gemvQ4_0SDOT", zero: zeroF7, finish: storeF7, setup: func() {
		p("VMOVI $15, V30.B16")
		p("VMOVI $8, V31.B16")
	}, body: func(u int) {
		x, wv, acc := 16+4*u, 18+4*u, 24+2*u
		p("VLD1.P 32(R9), [V%d.B16, V%d.B16]", x, x+1)
		halfTo(2*u+1, "R8")
		p("VLD1.P 16(R8), [V%d.B16]", wv)
		p("VUSHR $4, V%d.B16, V%d.B16", wv, wv+1)
		p("VAND V30.B16, V%d.B16, V%d.B16", wv, wv)
		p("VSUB V31.B16, V%d.B16, V%d.B16", wv, wv)
		p("VSUB V31.B16, V%d.B16, V%d.B16", wv+1, wv+1)
		p("VEOR V%d.B16, V%d.B16, V%d.B16", acc, acc, acc)
		sdot(acc, wv, x)
		sdot(acc, wv+1, x+1)
		scaleAdd(acc, 2*u+1)
	}})
}

// gemvBF16: bf16 weights and activations, 32 per block. A 32-bit word holds
// the pair (2p, 2p+1): the odd element is the word's high half (mask), the
// even one its low half shifted up. Lane l of V16..V19 (16 lanes) sums the
// pairs p ≡ l mod 16, odd product first, as the portable dotBF16 does; the
// products of two bf16 are exact in fp32 (barring underflow below 2^-126),
// so FMLA rounds as its multiply and add do.
func gemvBF16() {
	gemvFrame(gemvSpec{name: "gemvBF16NEON", setup: func() {
		p("VMOVQ $0xffff0000ffff0000, $0xffff0000ffff0000, V20")
	}, zero: func() {
		for i := 16; i < 20; i++ {
			p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
		}
	}, finish: func() {
		// sum16: (A0+A2) and (A1+A3), then their sum, then (s0+s2)+(s1+s3).
		fadd4(16, 16, 18)
		fadd4(17, 17, 19)
		fadd4(16, 16, 17)
		p("VEXT $8, V16.B16, V16.B16, V17.B16")
		fadd4(16, 16, 17)
		faddpS(16, 16)
		p("FMOVS.P F16, 4(R7)")
	}, body: func(u int) {
		wv, x := 0, 4
		if u == 1 {
			wv, x = 8, 12
		}
		p("VLD1.P 64(R8), [V%d.S4, V%d.S4, V%d.S4, V%d.S4]", wv, wv+1, wv+2, wv+3)
		p("VLD1.P 64(R9), [V%d.S4, V%d.S4, V%d.S4, V%d.S4]", x, x+1, x+2, x+3)
		for k := 0; k < 4; k++ {
			t := 21 + 2*k
			if k == 3 {
				t = 2*u + 28 // V28..V31
			}
			p("VAND V20.B16, V%d.B16, V%d.B16", wv+k, t)
			p("VAND V20.B16, V%d.B16, V%d.B16", x+k, t+1)
			p("VFMLA V%d.S4, V%d.S4, V%d.S4", t+1, t, 16+k)
			p("VSHL $16, V%d.S4, V%d.S4", wv+k, wv+k)
			p("VSHL $16, V%d.S4, V%d.S4", x+k, x+k)
			p("VFMLA V%d.S4, V%d.S4, V%d.S4", x+k, wv+k, 16+k)
		}
	}})
}

// dequantFrame emits func name(dst *float32, src *byte, nb int) widening
// nb 32-element blocks; body reads src at R1 and writes dst at R0, both
// post-indexed.
func dequantFrame(name string, setup, body func()) {
	fmt.Fprintf(&w, "// func %s(dst *float32, src *byte, nb int)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
	p("MOVD dst+0(FP), R0")
	p("MOVD src+8(FP), R1")
	p("MOVD nb+16(FP), R2")
	if setup != nil {
		setup()
	}
	p("CBZ R2, %s_done", name)
	label(name + "_loop")
	body()
	p("SUBS $1, R2, R2")
	p("BNE %s_loop", name)
	label(name + "_done")
	p("RET")
	w.WriteString("\n")
}

// dequantBF16: bf16 → fp32 is the bits shifted up 16: ZIP1/ZIP2 with zero
// halves below.
func dequantBF16() {
	dequantFrame("dequantBF16NEON", func() { p("VEOR V31.B16, V31.B16, V31.B16") }, func() {
		p("VLD1.P 64(R1), [V0.H8, V1.H8, V2.H8, V3.H8]")
		for k := 0; k < 4; k++ {
			p("VZIP1 V%d.H8, V31.H8, V%d.H8", k, 4+2*k)
			p("VZIP2 V%d.H8, V31.H8, V%d.H8", k, 5+2*k)
		}
		p("VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)")
		p("VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R0)")
	})
}

// dequantF16: FCVTL/FCVTL2 (exact for every finite fp16, subnormals included).
func dequantF16() {
	dequantFrame("dequantF16NEON", nil, func() {
		p("VLD1.P 64(R1), [V0.H8, V1.H8, V2.H8, V3.H8]")
		for k := 0; k < 4; k++ {
			fcvtl(4+2*k, k, false)
			fcvtl(5+2*k, k, true)
		}
		p("VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)")
		p("VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R0)")
	})
}

// int8x32ToF32 widens the int8 lanes of V0 and V1 to fp32 in V4..V11 and
// multiplies them by S16 (one rounding, as quant's q·d).
func int8x32ToF32() {
	for k := 0; k < 2; k++ {
		sxtl(2, k, 8, false)
		sxtl(3, k, 8, true)
		for h := 0; h < 2; h++ {
			d := 4 + 4*k + 2*h
			sxtl(d, 2+h, 16, false)
			sxtl(d+1, 2+h, 16, true)
		}
	}
	for d := 4; d < 12; d++ {
		scvtf4(d, d)
		fmulElem(d, d, 16, 0)
	}
	p("VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)")
	p("VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R0)")
}

func dequantQ8_0() {
	dequantFrame("dequantQ8_0NEON", nil, func() {
		halfTo(16, "R1")
		p("VLD1.P 32(R1), [V0.B16, V1.B16]")
		int8x32ToF32()
	})
}

// dequantQ4_0: (nibble − 8)·d, low nibbles first.
func dequantQ4_0() {
	dequantFrame("dequantQ4_0NEON", func() {
		p("VMOVI $15, V30.B16")
		p("VMOVI $8, V31.B16")
	}, func() {
		halfTo(16, "R1")
		p("VLD1.P 16(R1), [V0.B16]")
		p("VUSHR $4, V0.B16, V1.B16")
		p("VAND V30.B16, V0.B16, V0.B16")
		p("VSUB V31.B16, V0.B16, V0.B16")
		p("VSUB V31.B16, V1.B16, V1.B16")
		int8x32ToF32()
	})
}

func main() {
	w.WriteString("// Code generated by gen_neon.go; DO NOT EDIT.\n\n//go:build arm64 && !purego\n\n#include \"textflag.h\"\n\n")
	gemvQ8_0()
	gemvQ4_0()
	gemvBF16()
	dequantBF16()
	dequantF16()
	dequantQ8_0()
	dequantQ4_0()
	if err := os.WriteFile("kernels_arm64.s", []byte(w.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

//go:build ignore

// gen_neon writes kernels_arm64.s: go run gen_neon.go
//
// Go's arm64 assembler lacks SDOT (ARMv8.2 dotprod), SXTL, SCVTF and FCVTL,
// vector FADD/FSUB/FMUL/FADDP and integer MUL/MLA/SMULL/SMLAL on vectors;
// they are emitted as WORDs with the mnemonic in a comment. The encodings
// follow the Arm ARM (A64 "SDOT (vector)", "SSHLL", "SCVTF (vector,
// integer)", "FCVTL", "FADD (vector)", "FMUL (by element)", ...);
// scripts/check_neon_words.sh checks every WORD of kernels_arm64.s against
// llvm-mc's disassembly.
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

// fmul4: FMUL Vd.4S, Vn.4S, Vm.4S.
func fmul4(d, n, m int) {
	word(0x6E20DC00|uint32(m)<<16|rdn(d, n), "FMUL V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// mul4 and mla4: MUL / MLA Vd.4S, Vn.4S, Vm.4S (int32 lanes).
func mul4(d, n, m int) {
	word(0x4EA09C00|uint32(m)<<16|rdn(d, n), "MUL V%d.4S, V%d.4S, V%d.4S", d, n, m)
}
func mla4(d, n, m int) {
	word(0x4EA09400|uint32(m)<<16|rdn(d, n), "MLA V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// smull, smlal and smlal2: SMULL / SMLAL Vd.4S, Vn.4H, Vm.4H and SMLAL2
// Vd.4S, Vn.8H, Vm.8H.
func smull(d, n, m int) {
	word(0x0E60C000|uint32(m)<<16|rdn(d, n), "SMULL V%d.4S, V%d.4H, V%d.4H", d, n, m)
}
func smlal(d, n, m int) {
	word(0x0E608000|uint32(m)<<16|rdn(d, n), "SMLAL V%d.4S, V%d.4H, V%d.4H", d, n, m)
}
func smlal2(d, n, m int) {
	word(0x4E608000|uint32(m)<<16|rdn(d, n), "SMLAL2 V%d.4S, V%d.8H, V%d.8H", d, n, m)
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

// rowSum is the register of the quantized kernels' fp32 row sum, one no
// block body touches.
var rowSum = 7

// scaleAdd finishes a 32-block of a Q8_0-activation kernel: the int32 lane
// sums in V(acc) are added (exact), converted to fp32 and multiplied by
// dw·dx, then added to the row sum — each operation rounded, in the order
// of the portable dotQ8_0.
func scaleAdd(acc, t int) {
	p("VADDV V%d.S4, V%d", acc, acc)
	scvtfS(acc, acc)
	p("FMOVS.P 4(R10), F%d", t+1)
	p("FMULS F%d, F%d, F%d", t+1, t, t) // dw·dx
	p("FMULS F%d, F%d, F%d", t, acc, acc)
	p("FADDS F%d, F%d, F%d", acc, rowSum, rowSum)
}

func zeroSum()  { p("VEOR V%d.B16, V%d.B16, V%d.B16", rowSum, rowSum, rowSum) }
func storeSum() { p("FMOVS.P F%d, 4(R7)", rowSum) }

// gemvQ8_0: W blocks of 34 bytes (fp16 dw, 32 int8); activations 32 int8
// per block with fp32 scales. Two SDOTs give four lane sums of the block.
func gemvQ8_0() {
	gemvFrame(gemvSpec{name: "gemvQ8_0SDOT", zero: zeroSum, finish: storeSum, body: func(u int) {
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
	gemvFrame(gemvSpec{name: "gemvQ4_0SDOT", zero: zeroSum, finish: storeSum, setup: func() {
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

// lanes4 reduces four vectors of int32 lane sums (V(a)..V(a+3)) to one
// vector of their four totals in V(a): ADDP pairs lanes, twice.
func lanes4(a int) {
	p("VADDP V%d.S4, V%d.S4, V%d.S4", a+1, a, a)
	p("VADDP V%d.S4, V%d.S4, V%d.S4", a+3, a+2, a+2)
	p("VADDP V%d.S4, V%d.S4, V%d.S4", a+2, a, a)
}

// gemvQ4_K: 144-byte super-blocks of 256 (fp16 d and dmin, 12 bytes of
// 6-bit scales and mins, 128 bytes of nibbles: group g's 32 bytes hold
// sub-block 2g in the low and 2g+1 in the high nibbles) against Q8_K
// activations with bsums. SDOT gives the eight sub-block sums; the scales
// and mins are unpacked in general registers (bytes 0-3 of each from the
// low 6 bits of bytes 0-3 / 4-7, bytes 4-7 from the nibbles of bytes 8-11
// and the top 2 bits of bytes 0-3 / 4-7), then isum = Σ sc·sum and msum =
// Σ m·(bsum pair) in int32 lanes, and, as the portable dotQ4_K,
// s += isum·(d·dx) − msum·(dmin·dx).
func gemvQ4_K() {
	gemvFrame(gemvSpec{name: "gemvQ4_KSDOT", zero: zeroSum, finish: storeSum, setup: func() {
		p("VMOVI $15, V31.B16")
	}, body: func(int) {
		p("MOVWU.P 4(R8), R12") // d, dmin
		p("VMOV R12, V28.S[0]")
		fcvtl(28, 28, false)
		p("MOVD.P 8(R8), R14")
		p("MOVWU.P 4(R8), R15")
		p("AND $0x3f3f3f3f3f3f3f3f, R14, R16") // sc0-3, m0-3
		p("LSR $4, R15, R17")
		p("ORR R17<<32, R15, R17")
		p("AND $0x0f0f0f0f0f0f0f0f, R17, R17")
		p("LSR $6, R14, R19")
		p("AND $0x0303030303030303, R19, R19")
		p("ORR R19<<4, R17, R17") // sc4-7, m4-7
		p("VMOV R16, V24.D[0]")
		p("VMOV R17, V24.D[1]")
		p("VUZP1 V24.S4, V24.S4, V25.S4") // sc0-7
		p("VUZP2 V24.S4, V24.S4, V26.S4") // m0-7
		p("VUXTL V25.B8, V25.H8")
		p("VUXTL V26.B8, V26.H8")
		p("VUXTL V25.H4, V24.S4")
		p("VUXTL2 V25.H8, V25.S4")
		for g := 0; g < 4; g++ {
			a := 16 + 2*g
			p("VLD1.P 32(R8), [V0.B16, V1.B16]")
			p("VLD1.P 64(R9), [V2.B16, V3.B16, V4.B16, V5.B16]")
			p("VAND V31.B16, V0.B16, V6.B16")
			p("VAND V31.B16, V1.B16, V7.B16")
			p("VUSHR $4, V0.B16, V8.B16")
			p("VUSHR $4, V1.B16, V9.B16")
			p("VEOR V%d.B16, V%d.B16, V%d.B16", a, a, a)
			p("VEOR V%d.B16, V%d.B16, V%d.B16", a+1, a+1, a+1)
			sdot(a, 6, 2)
			sdot(a, 7, 3)
			sdot(a+1, 8, 4)
			sdot(a+1, 9, 5)
		}
		lanes4(16)
		lanes4(20)
		mul4(27, 16, 24)
		mla4(27, 20, 25)
		p("VADDV V27.S4, V27") // isum
		p("VLD1.P 32(R13), [V2.H8, V3.H8]")
		p("VADDP V3.H8, V2.H8, V2.H8") // bsum pairs
		smull(29, 26, 2)
		smlal2(29, 26, 2)
		p("VADDV V29.S4, V29") // msum
		p("VMOV V29.S[0], V27.S[1]")
		scvtf4(27, 27)
		p("FMOVS.P 4(R10), F30")
		fmulElem(28, 28, 30, 0) // d·dx, dmin·dx
		fmul4(27, 27, 28)
		p("VMOV V27.S[1], V29.S[0]")
		p("FSUBS F29, F27, F27")
		p("FADDS F27, F10, F10")
	}})
}

// gemvQ6_K: 210-byte super-blocks of 256 (128 bytes of low nibbles ql, 64
// of 2-bit highs qh, 16 int8 sub-block scales, fp16 d) against Q8_K
// activations with bsums. In half h, 16-element sub-block m = is + 2k
// (is = 0, 1; k = 0..3) takes its low nibbles from ql[64h + 32·(k&1) +
// 16·is ...] (low nibble for k < 2, high for k ≥ 2) and its top bits from
// bits 2k, 2k+1 of qh[32h + 16·is ...], inserted with BIT: one vector of 16
// unsigned 6-bit quants, one SDOT. Four sub-blocks at a time are reduced to
// their totals and multiplied by their scales into the int32 lanes of V28;
// the offset 32 comes off at the end as 32·Σ sc·bsum, so isum = Σ sc·Σ
// (q − 32)·x exactly, and s += isum·(d·dx) as dotQ6_K does.
func gemvQ6_K() {
	gemvFrame(gemvSpec{name: "gemvQ6_KSDOT", zero: zeroSum, finish: storeSum, setup: func() {
		p("VMOVI $15, V29.B16")
		p("VMOVI $48, V30.B16")
	}, body: func(int) {
		p("VLD1.P 64(R8), [V0.B16, V1.B16, V2.B16, V3.B16]") // ql, half 0
		p("VLD1.P 64(R8), [V4.B16, V5.B16, V6.B16, V7.B16]") // ql, half 1
		p("VLD1.P 64(R8), [V8.B16, V9.B16, V10.B16, V11.B16]")
		p("VLD1.P 16(R8), [V13.B16]")
		p("MOVHU.P 2(R8), R12")
		sxtl(14, 13, 8, true)
		sxtl(13, 13, 8, false)
		p("VEOR V28.B16, V28.B16, V28.B16")
		for h := 0; h < 2; h++ {
			for c := 0; c < 2; c++ {
				p("VLD1.P 64(R9), [V16.B16, V17.B16, V18.B16, V19.B16]")
				for j := 0; j < 4; j++ { // sub-block 4c + j: is = j&1, k = 2c + j>>1
					is, k := j&1, 2*c+j>>1
					l, hb, q := 4*h+2*(k&1)+is, 8+2*h+is, 20+j
					if k < 2 {
						p("VAND V29.B16, V%d.B16, V%d.B16", l, q)
					} else {
						p("VUSHR $4, V%d.B16, V%d.B16", l, q)
					}
					top := 15 // the high bits at bits 4-5
					switch k {
					case 0:
						p("VSHL $4, V%d.B16, V15.B16", hb)
					case 1:
						p("VSHL $2, V%d.B16, V15.B16", hb)
					case 2:
						top = hb
					case 3:
						p("VUSHR $2, V%d.B16, V15.B16", hb)
					}
					p("VBIT V30.B16, V%d.B16, V%d.B16", top, q)
					p("VEOR V%d.B16, V%d.B16, V%d.B16", 24+j, 24+j, 24+j)
					sdot(24+j, q, 16+j)
				}
				lanes4(24)
				sxtl(15, 13+h, 16, c == 1)
				mla4(28, 24, 15)
			}
		}
		p("VLD1.P 32(R13), [V16.H8, V17.H8]") // bsums
		smull(18, 13, 16)
		smlal2(18, 13, 16)
		smlal(18, 14, 17)
		smlal2(18, 14, 17)
		p("VSHL $5, V18.S4, V18.S4")
		p("VSUB V18.S4, V28.S4, V28.S4")
		p("VADDV V28.S4, V28")
		scvtfS(28, 28)
		p("VMOV R12, V16.H[0]")
		p("FCVTHS F16, F16")
		p("FMOVS.P 4(R10), F17")
		p("FMULS F17, F16, F16")
		p("FMULS F16, F28, F28")
		p("FADDS F28, F12, F12")
	}})
}

// exactRows emits func name(w *byte, stride, nrows int, x *float32, n int,
// out *float32): out[r] = x[:n] · (row r of W widened to fp32), for r <
// nrows, in exactly the order of sgemm's dotNEON (V16..V19 accumulate
// FMLAs of 16 elements at a time, then (V16+V17)+(V18+V19) and two FADDPs),
// which Exact mode's GEMV calls on the widened rows; n must be a multiple of
// step. widen(u) leaves 16 widened weights, the u-th 16 of the step, in
// V4..V7, reading the row at R8 post-indexed.
func exactRows(name string, step int, setup func(), widen func(u int)) {
	fmt.Fprintf(&w, "// func %s(w *byte, stride, nrows int, x *float32, n int, out *float32)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVD w+0(FP), R0")
	p("MOVD stride+8(FP), R1")
	p("MOVD nrows+16(FP), R2")
	p("MOVD x+24(FP), R3")
	p("MOVD n+32(FP), R4")
	p("MOVD out+40(FP), R7")
	if setup != nil {
		setup()
	}
	p("CBZ R2, %s_done", name)
	label(name + "_row")
	p("MOVD R0, R8")
	p("MOVD R3, R9")
	p("MOVD R4, R11")
	for i := 16; i < 20; i++ {
		p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	label(name + "_loop")
	for u := 0; u < step/16; u++ {
		widen(u)
		p("VLD1.P 64(R9), [V0.S4, V1.S4, V2.S4, V3.S4]")
		for k := 0; k < 4; k++ {
			p("VFMLA V%d.S4, V%d.S4, V%d.S4", 4+k, k, 16+k)
		}
	}
	p("SUBS $%d, R11, R11", step)
	p("BNE %s_loop", name)
	fadd4(16, 16, 17)
	fadd4(18, 18, 19)
	fadd4(16, 16, 18)
	faddp4(16, 16, 16)
	faddpS(16, 16)
	p("FMOVS.P F16, 4(R7)")
	p("ADD R1, R0, R0")
	p("SUBS $1, R2, R2")
	p("BNE %s_row", name)
	label(name + "_done")
	p("RET")
	w.WriteString("\n")
}

// faddp4: FADDP Vd.4S, Vn.4S, Vm.4S.
func faddp4(d, n, m int) {
	word(0x6E20D400|uint32(m)<<16|rdn(d, n), "FADDP V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

func exactRowsAll() {
	exactRows("exactRowsBF16NEON", 16, func() { p("VEOR V31.B16, V31.B16, V31.B16") }, func(int) {
		p("VLD1.P 32(R8), [V8.H8, V9.H8]")
		p("VZIP1 V8.H8, V31.H8, V4.H8")
		p("VZIP2 V8.H8, V31.H8, V5.H8")
		p("VZIP1 V9.H8, V31.H8, V6.H8")
		p("VZIP2 V9.H8, V31.H8, V7.H8")
	})
	exactRows("exactRowsF16NEON", 16, nil, func(int) {
		p("VLD1.P 32(R8), [V8.H8, V9.H8]")
		fcvtl(4, 8, false)
		fcvtl(5, 8, true)
		fcvtl(6, 9, false)
		fcvtl(7, 9, true)
	})
	exactRows("exactRowsQ8_0NEON", 32, nil, widenQ8_0)
	exactRows("exactRowsQ4_0NEON", 32, q4_0Consts, widenQ4_0)
	exactRows("exactRowsQ4_KNEON", 256, func() { p("VMOVI $15, V31.B16") }, widenQ4_K)
	exactRows("exactRowsQ6_KNEON", 256, q6_KConsts, widenQ6_K)
}

// fsub4: FSUB Vd.4S, Vn.4S, Vm.4S.
func fsub4(d, n, m int) {
	word(0x4EA0D400|uint32(m)<<16|rdn(d, n), "FSUB V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// widen16 widens the 16 bytes of V(src) — unsigned, or signed with signed —
// to fp32 in V4..V7 (through V8, V9) and multiplies them by V(sv).S[lane].
func widen16(src int, signed bool, sv, lane int) {
	if signed {
		sxtl(8, src, 8, false)
		sxtl(9, src, 8, true)
		sxtl(4, 8, 16, false)
		sxtl(5, 8, 16, true)
		sxtl(6, 9, 16, false)
		sxtl(7, 9, 16, true)
	} else {
		p("VUXTL V%d.B8, V8.H8", src)
		p("VUXTL2 V%d.B16, V9.H8", src)
		p("VUXTL V8.H4, V4.S4")
		p("VUXTL2 V8.H8, V5.S4")
		p("VUXTL V9.H4, V6.S4")
		p("VUXTL2 V9.H8, V7.S4")
	}
	for d := 4; d < 8; d++ {
		scvtf4(d, d)
		fmulElem(d, d, sv, lane)
	}
}

// The widening bodies below leave elements 16u..16u+15 of a block in
// V4..V7 as fp32, reading the row at R8 post-indexed, bit for bit as
// package quant dequantizes: used by the row dequantizers and, inside
// sgemm's dot order, by exactRows. They use V8..V15 and V20..V31.

// widenQ8_0: q·d (32-element blocks of 34 bytes).
func widenQ8_0(u int) {
	if u == 0 {
		halfTo(20, "R8")
		p("VLD1.P 32(R8), [V10.B16, V11.B16]")
	}
	widen16(10+u, true, 20, 0)
}

// widenQ4_0: (nibble − 8)·d, the low nibbles first (18-byte blocks).
func widenQ4_0(u int) {
	if u == 0 {
		halfTo(20, "R8")
		p("VLD1.P 16(R8), [V10.B16]")
		p("VUSHR $4, V10.B16, V11.B16")
		p("VAND V30.B16, V10.B16, V10.B16")
		p("VSUB V31.B16, V10.B16, V10.B16")
		p("VSUB V31.B16, V11.B16, V11.B16")
	}
	widen16(10+u, true, 20, 0)
}

func q4_0Consts() {
	p("VMOVI $15, V30.B16")
	p("VMOVI $8, V31.B16")
}

// widenQ4_K: float32(d·sc_j · q) − dmin·m_j for sub-block j = u/2 (144-byte
// super-blocks of 256; the 6-bit scales unpacked as in gemvQ4_K). V20/V21
// hold d·sc, V22/V23 dmin·m, V31 = 0x0f.
func widenQ4_K(u int) {
	if u == 0 {
		p("MOVWU.P 4(R8), R12") // d, dmin
		p("VMOV R12, V28.S[0]")
		fcvtl(28, 28, false)
		p("MOVD.P 8(R8), R14")
		p("MOVWU.P 4(R8), R15")
		p("AND $0x3f3f3f3f3f3f3f3f, R14, R16")
		p("LSR $4, R15, R17")
		p("ORR R17<<32, R15, R17")
		p("AND $0x0f0f0f0f0f0f0f0f, R17, R17")
		p("LSR $6, R14, R19")
		p("AND $0x0303030303030303, R19, R19")
		p("ORR R19<<4, R17, R17")
		p("VMOV R16, V24.D[0]")
		p("VMOV R17, V24.D[1]")
		p("VUZP1 V24.S4, V24.S4, V25.S4")
		p("VUZP2 V24.S4, V24.S4, V26.S4")
		p("VUXTL V25.B8, V25.H8")
		p("VUXTL V26.B8, V26.H8")
		p("VUXTL V25.H4, V20.S4")
		p("VUXTL2 V25.H8, V21.S4")
		p("VUXTL V26.H4, V22.S4")
		p("VUXTL2 V26.H8, V23.S4")
		for v := 20; v < 24; v++ {
			scvtf4(v, v)
			fmulElem(v, v, 28, (v-20)/2)
		}
	}
	j := u / 2
	if u%4 == 0 {
		p("VLD1.P 32(R8), [V24.B16, V25.B16]")
	}
	src := 24 + u%2
	if u%4 < 2 {
		p("VAND V31.B16, V%d.B16, V26.B16", src)
	} else {
		p("VUSHR $4, V%d.B16, V26.B16", src)
	}
	widen16(26, false, 20+j/4, j%4)
	if u%2 == 0 {
		p("VDUP V%d.S[%d], V10.S4", 22+j/4, j%4)
	}
	for d := 4; d < 8; d++ {
		fsub4(d, d, 10)
	}
}

// widenQ6_K: float32(d·sc_m) · (q − 32) for 16-element sub-block m = u
// (210-byte super-blocks; the quants assembled as in gemvQ6_K, one half of
// ql and qh at a time: R14 walks qh, R8 ql, then skips to the next block).
// V10..V13 hold d·sc, V29 = 0x0f, V30 = 0x30, V31 = 32.
func widenQ6_K(u int) {
	if u == 0 {
		p("ADD $192, R8, R15")
		p("VLD1 (R15), [V14.B16]")
		p("MOVHU 208(R8), R12")
		p("VMOV R12, V15.H[0]")
		p("FCVTHS F15, F15")
		sxtl(8, 14, 8, false)
		sxtl(9, 14, 8, true)
		sxtl(10, 8, 16, false)
		sxtl(11, 8, 16, true)
		sxtl(12, 9, 16, false)
		sxtl(13, 9, 16, true)
		for v := 10; v < 14; v++ {
			scvtf4(v, v)
			fmulElem(v, v, 15, 0)
		}
		p("ADD $128, R8, R14")
	}
	h, m := u/8, u%8
	if m == 0 {
		p("VLD1.P 64(R8), [V20.B16, V21.B16, V22.B16, V23.B16]")
		p("VLD1.P 32(R14), [V24.B16, V25.B16]")
	}
	is, k := m&1, m>>1
	l, hb := 20+2*(k&1)+is, 24+is
	if k < 2 {
		p("VAND V29.B16, V%d.B16, V14.B16", l)
	} else {
		p("VUSHR $4, V%d.B16, V14.B16", l)
	}
	top := 15
	switch k {
	case 0:
		p("VSHL $4, V%d.B16, V15.B16", hb)
	case 1:
		p("VSHL $2, V%d.B16, V15.B16", hb)
	case 2:
		top = hb
	case 3:
		p("VUSHR $2, V%d.B16, V15.B16", hb)
	}
	p("VBIT V30.B16, V%d.B16, V14.B16", top)
	p("VSUB V31.B16, V14.B16, V14.B16")
	widen16(14, true, 10+(8*h+m)/4, m%4)
	if u == 15 {
		p("ADD $82, R8, R8")
	}
}

func q6_KConsts() {
	p("VMOVI $15, V29.B16")
	p("VMOVI $48, V30.B16")
	p("VMOVI $32, V31.B16")
}

// dequantWiden emits func name(dst *float32, src *byte, nb int) widening
// nb blocks of step elements with widen.
func dequantWiden(name string, step int, setup func(), widen func(u int)) {
	fmt.Fprintf(&w, "// func %s(dst *float32, src *byte, nb int)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
	p("MOVD dst+0(FP), R0")
	p("MOVD src+8(FP), R8")
	p("MOVD nb+16(FP), R2")
	if setup != nil {
		setup()
	}
	p("CBZ R2, %s_done", name)
	label(name + "_loop")
	for u := 0; u < step/16; u++ {
		widen(u)
		p("VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)")
	}
	p("SUBS $1, R2, R2")
	p("BNE %s_loop", name)
	label(name + "_done")
	p("RET")
	w.WriteString("\n")
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

func main() {
	w.WriteString("// Code generated by gen_neon.go; DO NOT EDIT.\n\n//go:build arm64 && !purego\n\n#include \"textflag.h\"\n\n")
	gemvQ8_0()
	gemvQ4_0()
	rowSum = 10 // V0..V9 hold a group's quants
	gemvQ4_K()
	rowSum = 12 // V31 is the only other free register
	gemvQ6_K()
	gemvBF16()
	exactRowsAll()
	dequantBF16()
	dequantF16()
	dequantWiden("dequantQ8_0NEON", 32, nil, widenQ8_0)
	dequantWiden("dequantQ4_0NEON", 32, q4_0Consts, widenQ4_0)
	dequantWiden("dequantQ4_KNEON", 256, func() { p("VMOVI $15, V31.B16") }, widenQ4_K)
	dequantWiden("dequantQ6_KNEON", 256, q6_KConsts, widenQ6_K)
	if err := os.WriteFile("kernels_arm64.s", []byte(w.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

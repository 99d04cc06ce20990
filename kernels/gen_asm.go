//go:build ignore

// gen_asm writes kernels_amd64.s: go run gen_asm.go
package main

import (
	"fmt"
	"os"
	"strings"
)

var w strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&w, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&w, "%s:\n", l) }

// rowRegs are the row pointers of a group of up to four weight rows.
var rowRegs = []string{"R8", "R9", "R10", "R11"}

// gemvFrame is the common frame of the Fast GEMV kernels:
//
//	func name(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)
//
// computing out[r] = row r of W (at w + r·stride) · activations, for r < nrows.
// body(rows, u) emits block u (of an unrolled group) for `rows` rows
// (pointers in rowRegs, accumulators Z0..Z3, or Z4..Z7 for odd u when split,
// activations at SI, scales at DX); advance(rows, k) moves the pointers k blocks on.
type gemvSpec struct {
	name    string
	unroll  int
	split   bool // odd unrolled blocks accumulate into Z4..Z7
	setup   func()
	body    func(rows, u int)
	advance func(rows, k int)
}

func gemvFrame(g gemvSpec) {
	name := g.name
	fmt.Fprintf(&w, "// func %s(w *byte, stride, nrows int, x unsafe.Pointer, xd *float32, xs *int16, nb int, out *float32)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	p("MOVQ w+0(FP), BX")
	p("MOVQ stride+8(FP), R14")
	p("MOVQ nrows+16(FP), R13")
	p("MOVQ out+56(FP), DI")
	if g.setup != nil {
		g.setup()
	}
	for _, rows := range []int{4, 1} {
		lbl := fmt.Sprintf("%s_r%d", name, rows)
		label(lbl)
		p("CMPQ R13, $%d", rows)
		if rows == 4 {
			p("JLT %s_r1", name)
		} else {
			p("JLT %s_done", name)
		}
		p("MOVQ BX, R8")
		for j := 1; j < rows; j++ {
			p("LEAQ (%s)(R14*1), %s", rowRegs[j-1], rowRegs[j])
		}
		for j := 0; j < rows; j++ {
			p("VPXORD Z%d, Z%d, Z%d", j, j, j)
			if g.split {
				p("VPXORD Z%d, Z%d, Z%d", j+4, j+4, j+4)
			}
		}
		p("MOVQ x+24(FP), SI")
		p("MOVQ xd+32(FP), DX")
		p("MOVQ xs+40(FP), AX")
		p("MOVQ nb+48(FP), CX")
		if g.unroll > 1 {
			label(lbl + "_loopu")
			p("CMPQ CX, $%d", g.unroll)
			p("JLT %s_blk0", lbl)
			for u := 0; u < g.unroll; u++ {
				g.body(rows, u)
			}
			g.advance(rows, g.unroll)
			p("SUBQ $%d, CX", g.unroll)
			p("JMP %s_loopu", lbl)
			label(lbl + "_blk0")
			p("TESTQ CX, CX")
			p("JZ %s_sum", lbl)
		}
		label(lbl + "_blk")
		g.body(rows, 0)
		g.advance(rows, 1)
		p("DECQ CX")
		p("JNZ %s_blk", lbl)
		label(lbl + "_sum")
		if g.split {
			for j := 0; j < rows; j++ {
				p("VADDPS Z%d, Z%d, Z%d", j+4, j, j)
			}
		}
		hsum(rows)
		p("ADDQ $%d, DI", 4*rows)
		if rows == 4 {
			p("LEAQ (BX)(R14*4), BX")
		} else {
			p("ADDQ R14, BX")
		}
		p("SUBQ $%d, R13", rows)
		p("JMP %s", lbl)
	}
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// advanceBy returns an advance func moving the row pointers by wb and the
// activation pointers by xb and db bytes per block.
func advanceBy(wb, xb, db int) func(rows, k int) { return advanceBy4(wb, xb, db, 0) }

// advanceBy4 also moves the bsums pointer AX by sb bytes per block.
func advanceBy4(wb, xb, db, sb int) func(rows, k int) {
	return func(rows, k int) {
		for j := 0; j < rows; j++ {
			p("ADDQ $%d, %s", k*wb, rowRegs[j])
		}
		p("ADDQ $%d, SI", k*xb)
		if db > 0 {
			p("ADDQ $%d, DX", k*db)
		}
		if sb > 0 {
			p("ADDQ $%d, AX", k*sb)
		}
	}
}

// hsum stores the lane sums of Z0..Z(rows-1) to out[0:rows] at DI.
func hsum(rows int) {
	for j := 0; j < rows; j++ {
		p("VEXTRACTF64X4 $1, Z%d, Y%d", j, 16+j)
		p("VADDPS Y%d, Y%d, Y%d", 16+j, j, j)
	}
	if rows == 4 {
		p("VHADDPS Y1, Y0, Y0")
		p("VHADDPS Y3, Y2, Y2")
		p("VHADDPS Y2, Y0, Y0")
		p("VEXTRACTF128 $1, Y0, X1")
		p("VADDPS X1, X0, X0")
		p("VMOVUPS X0, (DI)")
		return
	}
	p("VEXTRACTF128 $1, Y0, X1")
	p("VADDPS X1, X0, X0")
	p("VHADDPS X0, X0, X0")
	p("VHADDPS X0, X0, X0")
	p("VMOVSS X0, (DI)")
}

// blockScale emits Y14 = fp16 scale at off(reg) widened and multiplied by Y9.
func blockScale(reg string, off int) {
	p("VPBROADCASTW %d(%s), X14", off, reg)
	p("VCVTPH2PS X14, Y14")
	p("VMULPS Y9, Y14, Y14")
}

// gemvQ8_0: W blocks of 34 bytes (fp16 d, 32 × int8); activations 32 int8
// per block with fp32 scales. Σ w·x per block = VPDPBUSD(|w|, x·sign(w)).
func gemvQ8_0() {
	gemvFrame(gemvSpec{name: "gemvQ8_0VNNI", unroll: 1, advance: advanceBy(34, 32, 4), body: func(rows, u int) {
		p("VMOVDQU (SI), Y8")
		p("VBROADCASTSS (DX), Y9")
		for j := 0; j < rows; j++ {
			r := rowRegs[j]
			p("VMOVDQU 2(%s), Y10", r)
			p("VPSIGNB Y10, Y10, Y11")
			p("VPSIGNB Y10, Y8, Y12")
			p("VPXOR Y13, Y13, Y13")
			p("VPDPBUSD Y12, Y11, Y13")
			p("VCVTDQ2PS Y13, Y13")
			blockScale(r, 0)
			p("VFMADD231PS Y14, Y13, Y%d", j)
		}
	}})
}

// gemvQ4_0: W blocks of 18 bytes (fp16 d, 16 bytes of nibbles: element j
// low nibble of byte j, element j+16 its high nibble). Σ (u−8)·x =
// VPDPBUSD(u, x) − VPDPBUSD(8, x), the second shared by the rows.
func gemvQ4_0() {
	gemvFrame(gemvSpec{name: "gemvQ4_0VNNI", unroll: 1, advance: advanceBy(18, 32, 4), setup: func() {
		p("VPBROADCASTB nib8<>+0(SB), Y7")
		p("VPBROADCASTB nib8<>+8(SB), Y6")
	}, body: func(rows, u int) {
		p("VMOVDQU (SI), Y8")
		p("VBROADCASTSS (DX), Y9")
		p("VPXOR Y15, Y15, Y15")
		p("VPDPBUSD Y8, Y7, Y15") // Y7 = 8s
		for j := 0; j < rows; j++ {
			r := rowRegs[j]
			p("VMOVDQU 2(%s), X10", r)
			p("VPSRLW $4, X10, X11")
			p("VINSERTI128 $1, X11, Y10, Y10")
			p("VPAND Y6, Y10, Y10") // Y6 = 0x0f
			p("VPXOR Y13, Y13, Y13")
			p("VPDPBUSD Y8, Y10, Y13")
			p("VPSUBD Y15, Y13, Y13")
			p("VCVTDQ2PS Y13, Y13")
			blockScale(r, 0)
			p("VFMADD231PS Y14, Y13, Y%d", j)
		}
	}})
}

// evex emits an EVEX-encoded 512-bit instruction of map 0F38, W0, with
// prefix pp (1: 66, 2: F3, 3: F2): dst ← op(src1, rm), where rm is register
// src2 (base < 0) or the memory operand disp(base) (disp a multiple of 64,
// or of 4 with bcast), for opcodes the Go assembler lacks.
func evex(comment string, pp, opcode, dst, src1, src2, base, disp int, bcast bool) {
	rmReg := src2
	mod, d8 := 3, 0
	if base >= 0 {
		rmReg = base
		n := 64
		if bcast {
			n = 4
		}
		if disp%n != 0 || disp/n > 127 {
			panic("evex: displacement")
		}
		switch {
		case disp == 0 && base&7 != 5:
			mod = 0
		default:
			mod, d8 = 1, disp/n
		}
		if base&7 == 4 {
			panic("evex: SP/R12 base needs SIB")
		}
	}
	inv := func(v, bit int) int { return (^v >> bit) & 1 }
	p1 := inv(dst, 3)<<7 | 1<<6 | inv(rmReg, 3)<<5 | inv(dst, 4)<<4 | 2
	if base < 0 {
		p1 = inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 2
	}
	p2 := (^src1&15)<<3 | 1<<2 | pp
	p3 := 2<<5 | inv(src1, 4)<<3
	if bcast {
		p3 |= 1 << 4
	}
	modrm := mod<<6 | (dst&7)<<3 | rmReg&7
	b := []int{0x62, p1, p2, p3, opcode, modrm}
	if mod == 1 {
		b = append(b, d8&0xff)
	}
	var parts []string
	for _, v := range b {
		parts = append(parts, fmt.Sprintf("BYTE $0x%02x", v))
	}
	p("%s // %s", strings.Join(parts, "; "), comment)
}

// regNum maps Go register names to encoding numbers.
var regNum = map[string]int{"AX": 0, "CX": 1, "DX": 2, "BX": 3, "SP": 4, "BP": 5, "SI": 6, "DI": 7,
	"R8": 8, "R9": 9, "R10": 10, "R11": 11, "R12": 12, "R13": 13, "R14": 14, "R15": 15}

// vdpbf16psMem emits VDPBF16PS disp(base), Zsrc1, Zdst (dst += pairs of src1·mem).
func vdpbf16psMem(dst, src1 int, base string, disp int) {
	evex(fmt.Sprintf("VDPBF16PS %d(%s), Z%d, Z%d", disp, base, src1, dst), 2, 0x52, dst, src1, 0, regNum[base], disp, false)
}

// gemvBF16: W rows of bf16, activations rounded to bf16: VDPBF16PS over 32
// elements (64 bytes) per step, two accumulators per row.
func gemvBF16() {
	gemvFrame(gemvSpec{name: "gemvBF16", unroll: 2, split: true, advance: advanceBy(64, 64, 0), body: func(rows, u int) {
		p("VMOVDQU64 %d(SI), Z%d", 64*u, 8+u)
		for j := 0; j < rows; j++ {
			vdpbf16psMem(j+4*(u&1), 8+u, rowRegs[j], 64*u)
		}
	}})
}

// data emits a read-only table of 16-bit words.
func data(name string, words []int) {
	for i := 0; i < len(words); i += 4 {
		var v uint64
		for k := 0; k < 4 && i+k < len(words); k++ {
			v |= uint64(uint16(words[i+k])) << (16 * k)
		}
		fmt.Fprintf(&w, "DATA %s<>+%d(SB)/8, $0x%016x\n", name, 2*i, v)
	}
	fmt.Fprintf(&w, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n\n", name, 2*len(words))
}

// rep returns n copies of each value.
func rep(n int, vals ...int) []int {
	var out []int
	for _, v := range vals {
		for i := 0; i < n; i++ {
			out = append(out, v)
		}
	}
	return out
}

func kquantData() {
	// Q4_K: word tables for VPERMW over [scales 0..7, mins 0..7].
	for g := 0; g < 4; g++ {
		data(fmt.Sprintf("q4kidx%d", g), rep(16, 2*g, 2*g+1))
	}
	data("q4kmin", rep(2, 8, 9, 10, 11, 12, 13, 14, 15))
	data("q4kshift", []int{0, 0, 4, 0, 0, 0, 0, 0})
	data("kmask", []int{0x3f3f, 0x3f3f, 0x0f0f, 0x0f0f, 0x0303, 0x0303, 0x3030, 0x3030})
	// Q6_K: word tables over the 16 scales, 8 words per 16-element sub-block.
	for k := 0; k < 4; k++ {
		data(fmt.Sprintf("q6kidx%d", k), rep(8, 4*k, 4*k+1, 4*k+2, 4*k+3))
	}
}

// gemvQ4_K: W super-blocks of 144 bytes (fp16 d, fp16 dmin, 12 bytes of
// 6-bit scales and mins, 128 bytes of nibbles) against Q8_K activations:
// per row and block, isum = Σ_j sc_j·Σ q4·q8 (VPMADDUBSW, then VPMADDWD
// with the scales) and msum = Σ_j m_j·(bsums of sub-block j), combined as
// d·dx·isum − dmin·dx·msum.
func gemvQ4_K() {
	gemvFrame(gemvSpec{name: "gemvQ4_KAVX512", unroll: 1, advance: advanceBy4(144, 256, 4, 32), setup: func() {
		p("VPBROADCASTB nib8<>+8(SB), Z6")
		for g := 0; g < 4; g++ {
			p("VMOVDQU64 q4kidx%d<>(SB), Z%d", g, 20+g)
		}
		p("VMOVDQU32 q4kmin<>(SB), Y24")
		p("VMOVDQU32 q4kshift<>(SB), X25")
		p("VPBROADCASTD kmask<>+0(SB), X26")
		p("VPBROADCASTD kmask<>+4(SB), X27")
		p("VPBROADCASTD kmask<>+8(SB), X28")
		p("VPBROADCASTD kmask<>+12(SB), X29")
	}, body: func(rows, u int) {
		p("VBROADCASTSS (DX), Z9")
		p("VMOVDQU (AX), Y8") // bsums
		for j := 0; j < rows; j++ {
			r := rowRegs[j]
			// Scales and mins: V = [u0, u1, u2, ·] as dwords.
			p("VMOVDQU 4(%s), X10", r)
			p("VPANDD X26, X10, X11")    // [u0&3f, u1&3f]: low scales, low mins
			p("VPSHUFD $0xaa, X10, X12") // u2 everywhere
			p("VPSRLVD X25, X12, X12")   // [u2, u2>>4]
			p("VPANDD X27, X12, X12")    // & 0f
			p("VPSRLD $6, X10, X13")     // [u0>>6, u1>>6]
			p("VPANDD X28, X13, X13")    // & 03
			p("VPSLLD $4, X13, X13")
			p("VPORD X13, X12, X12")      // high scales, high mins
			p("VPUNPCKLDQ X12, X11, X11") // bytes: sc0..7, m0..7
			p("VPMOVZXBW X11, Y11")       // words
			p("VPERMW Y11, Y24, Y12")     // m0,m0,m1,m1,...
			p("VPMADDWD Y8, Y12, Y12")    // m_j·(bs_2j + bs_2j+1)
			p("VPXORD Z13, Z13, Z13")
			for g := 0; g < 4; g++ {
				p("VMOVDQU %d(%s), Y14", 16+32*g, r)
				p("VPSRLW $4, Y14, Y15")
				p("VINSERTI64X4 $1, Y15, Z14, Z14")
				p("VPANDD Z6, Z14, Z14")
				p("VPMADDUBSW %d(SI), Z14, Z14", 64*g)
				p("VPERMW Z11, Z%d, Z15", 20+g)
				p("VPMADDWD Z15, Z14, Z14")
				p("VPADDD Z14, Z13, Z13")
			}
			p("VCVTDQ2PS Z13, Z13")
			p("VCVTDQ2PS Z12, Z12") // upper lanes zero
			p("VPBROADCASTW 0(%s), Y14", r)
			p("VCVTPH2PS Y14, Z14")
			p("VMULPS Z9, Z14, Z14")
			p("VFMADD231PS Z14, Z13, Z%d", j)
			p("VPBROADCASTW 2(%s), Y15", r)
			p("VCVTPH2PS Y15, Z15")
			p("VMULPS Z9, Z15, Z15")
			p("VFNMADD231PS Z15, Z12, Z%d", j)
		}
	}})
}

// gemvQ6_K: W super-blocks of 210 bytes (128 bytes low nibbles, 64 bytes of
// 2-bit highs, 16 int8 scales, fp16 d) against Q8_K activations: the 6-bit
// quants q (0..63) meet x through VPMADDUBSW and VPMADDWD with the scales;
// the −32 offset is Σ_j sc_j·32·bsum_j.
func gemvQ6_K() {
	gemvFrame(gemvSpec{name: "gemvQ6_KAVX512", unroll: 1, advance: advanceBy4(210, 256, 4, 32), setup: func() {
		p("VPBROADCASTB nib8<>+8(SB), Z6")
		p("VPBROADCASTD kmask<>+12(SB), Z7") // 0x30
		for k := 0; k < 4; k++ {
			p("VMOVDQU64 q6kidx%d<>(SB), Z%d", k, 20+k)
		}
	}, body: func(rows, u int) {
		p("VBROADCASTSS (DX), Z9")
		p("VMOVDQU (AX), Y8") // bsums
		for j := 0; j < rows; j++ {
			r := rowRegs[j]
			p("VPMOVSXBW 192(%s), Y11", r) // 16 scales as words
			p("VPMADDWD Y8, Y11, Y12")     // sc_j·bs_j pairs
			p("VPSLLD $5, Y12, Y12")       // ·32
			p("VPXORD Z13, Z13, Z13")
			for h := 0; h < 2; h++ {
				p("VMOVDQU64 %d(%s), Z14", 64*h, r)   // l4[0:64]
				p("VMOVDQU %d(%s), Y15", 128+32*h, r) // h2[0:32]
				p("VPSLLW $4, Y15, Y16")
				p("VPSLLW $2, Y15, Y17")
				p("VINSERTI64X4 $1, Y17, Z16, Z16") // [H<<4 | H<<2]
				p("VPSRLW $2, Y15, Y17")
				p("VINSERTI64X4 $1, Y17, Z15, Z17") // [H | H>>2]
				p("VPANDD Z7, Z16, Z16")
				p("VPANDD Z7, Z17, Z17")
				p("VPANDD Z6, Z14, Z18") // low nibbles
				p("VPSRLW $4, Z14, Z19")
				p("VPANDD Z6, Z19, Z19") // high nibbles
				p("VPORD Z16, Z18, Z18") // q for elements 0..63 of the half
				p("VPORD Z17, Z19, Z19") // 64..127
				p("VPMADDUBSW %d(SI), Z18, Z18", 128*h)
				p("VPMADDUBSW %d(SI), Z19, Z19", 128*h+64)
				p("VPERMW Z11, Z%d, Z16", 20+2*h)
				p("VPERMW Z11, Z%d, Z17", 21+2*h)
				p("VPMADDWD Z16, Z18, Z18")
				p("VPMADDWD Z17, Z19, Z19")
				p("VPADDD Z18, Z13, Z13")
				p("VPADDD Z19, Z13, Z13")
			}
			p("VPSUBD Z12, Z13, Z13") // Z12's upper lanes are zero
			p("VCVTDQ2PS Z13, Z13")
			p("VPBROADCASTW 208(%s), Y14", r)
			p("VCVTPH2PS Y14, Z14")
			p("VMULPS Z9, Z14, Z14")
			p("VFMADD231PS Z14, Z13, Z%d", j)
		}
	}})
}

// vdpbf16psBcast emits VDPBF16PS disp(base){1to16}, Zsrc1, Zdst.
func vdpbf16psBcast(dst, src1 int, base string, disp int) {
	evex(fmt.Sprintf("VDPBF16PS.BCST %d(%s), Z%d, Z%d", disp, base, src1, dst), 2, 0x52, dst, src1, 0, regNum[base], disp, true)
}

// gemmBF16 emits the BF16 GEMM micro-kernel
//
//	func gemmBF16Kernel(kp int, a, b *uint32, c *float32, ldc int, add bool)
//
// computing the 12×32 tile C (+)= A·Bᵀ over kp bf16 pairs, where the packed
// A panel holds 12 dwords (bf16 pairs of 12 activation rows) per step and the
// packed B panel 32 dwords (pairs of 32 weight rows) per step.
func gemmBF16() {
	const mr, nv, unroll = 12, 2, 4
	name := "gemmBF16Kernel"
	acc := func(i, v int) int { return i*nv + v }
	fmt.Fprintf(&w, "// func %s(kp int, a, b *uint32, c *float32, ldc int, add bool)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-41\n", name)
	p("MOVQ kp+0(FP), CX")
	p("MOVQ a+8(FP), AX")
	p("MOVQ b+16(FP), BX")
	p("MOVQ c+24(FP), DI")
	p("MOVQ ldc+32(FP), R8")
	p("SHLQ $2, R8")
	for i := 0; i < mr*nv; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	step := func(u int) {
		for v := 0; v < nv; v++ {
			p("VMOVDQU32 %d(BX), Z%d", (u*nv+v)*64, 24+v+2*(u&1))
		}
		for i := 0; i < mr; i++ {
			for v := 0; v < nv; v++ {
				vdpbf16psBcast(acc(i, v), 24+v+2*(u&1), "AX", 4*(u*mr+i))
			}
		}
	}
	p("MOVQ CX, DX")
	p("SHRQ $2, DX")
	p("JZ %s_tail", name)
	label(name + "_loop")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	p("ADDQ $%d, AX", unroll*mr*4)
	p("ADDQ $%d, BX", unroll*nv*64)
	p("DECQ DX")
	p("JNZ %s_loop", name)
	label(name + "_tail")
	p("ANDQ $3, CX")
	p("JZ %s_store", name)
	label(name + "_loop1")
	step(0)
	p("ADDQ $%d, AX", mr*4)
	p("ADDQ $%d, BX", nv*64)
	p("DECQ CX")
	p("JNZ %s_loop1", name)
	label(name + "_store")
	p("MOVBLZX add+40(FP), DX")
	p("TESTQ DX, DX")
	p("JZ %s_nadd", name)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VADDPS %d(DI), Z%d, Z%d", 64*v, acc(i, v), acc(i, v))
		}
		for v := 0; v < nv; v++ {
			p("VMOVUPS Z%d, %d(DI)", acc(i, v), 64*v)
		}
		p("ADDQ R8, DI")
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_nadd")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VMOVUPS Z%d, %d(DI)", acc(i, v), 64*v)
		}
		p("ADDQ R8, DI")
	}
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// gemmQ8 emits the integer GEMM micro-kernels
//
//	func name(nblk, steps int, a, b unsafe.Pointer, c *float32, ldc int, add bool)
//
// computing the 6×32 tile C (+)= Σ_blocks sA·sW·(Σ a·w − wcorr) [− aS·mW]
// over nblk blocks of 4·steps elements. Per block, the packed A panel holds
// steps×6 dwords of activations as unsigned bytes (a+128), then 6 floats sA
// (and 6 floats aS with mins); the packed B panel holds steps×32 dwords of
// signed weight bytes, 32 int32 wcorr (128·Σw), 32 floats sW (and 32 floats
// mW with mins).
func gemmQ8(name string, mins bool) {
	const mr, nv = 6, 2
	facc := func(i, v int) int { return i*nv + v }
	iacc := func(i, v int) int { return 12 + i*nv + v }
	fmt.Fprintf(&w, "// func %s(nblk, steps int, a, b unsafe.Pointer, c *float32, ldc int, add bool)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-49\n", name)
	p("MOVQ nblk+0(FP), CX")
	p("MOVQ a+16(FP), AX")
	p("MOVQ b+24(FP), BX")
	p("MOVQ c+32(FP), DI")
	p("MOVQ ldc+40(FP), R8")
	p("SHLQ $2, R8")
	for i := 0; i < mr*nv; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	label(name + "_blk")
	for i := 0; i < mr*nv; i++ {
		p("VPXORD Z%d, Z%d, Z%d", 12+i, 12+i, 12+i)
	}
	p("MOVQ steps+8(FP), DX")
	p("SHRQ $1, DX")
	label(name + "_step")
	for u := 0; u < 2; u++ {
		for v := 0; v < nv; v++ {
			p("VMOVDQU32 %d(BX), Z%d", (u*nv+v)*64, 24+2*u+v)
		}
		for i := 0; i < mr; i++ {
			bc := 28 + (u*mr+i)%4
			p("VPBROADCASTD %d(AX), Z%d", 4*(u*mr+i), bc)
			for v := 0; v < nv; v++ {
				// unsigned activations (broadcast) × signed weights
				p("VPDPBUSD Z%d, Z%d, Z%d", 24+2*u+v, bc, iacc(i, v))
			}
		}
	}
	p("ADDQ $%d, AX", 2*mr*4)
	p("ADDQ $%d, BX", 2*nv*64)
	p("DECQ DX")
	p("JNZ %s_step", name)
	// Epilogue of the block.
	p("VMOVDQU32 (BX), Z24")
	p("VMOVDQU32 64(BX), Z25")
	p("VMOVUPS 128(BX), Z26")
	p("VMOVUPS 192(BX), Z27")
	if mins {
		p("VMOVUPS 256(BX), Z30")
		p("VMOVUPS 320(BX), Z31")
	}
	for i := 0; i < mr; i++ {
		p("VBROADCASTSS %d(AX), Z28", 4*i)
		if mins {
			p("VBROADCASTSS %d(AX), Z29", 4*(mr+i))
		}
		for v := 0; v < nv; v++ {
			p("VPSUBD Z%d, Z%d, Z%d", 24+v, iacc(i, v), iacc(i, v))
			p("VCVTDQ2PS Z%d, Z%d", iacc(i, v), iacc(i, v))
			p("VMULPS Z%d, Z%d, Z%d", 26+v, iacc(i, v), iacc(i, v))
			p("VFMADD231PS Z28, Z%d, Z%d", iacc(i, v), facc(i, v))
			if mins {
				p("VFNMADD231PS Z29, Z%d, Z%d", 30+v, facc(i, v))
			}
		}
	}
	if mins {
		p("ADDQ $%d, AX", 2*mr*4)
		p("ADDQ $%d, BX", 6*64)
	} else {
		p("ADDQ $%d, AX", mr*4)
		p("ADDQ $%d, BX", 4*64)
	}
	p("DECQ CX")
	p("JNZ %s_blk", name)
	p("MOVBLZX add+48(FP), DX")
	p("TESTQ DX, DX")
	p("JZ %s_nadd", name)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VADDPS %d(DI), Z%d, Z%d", 64*v, facc(i, v), facc(i, v))
			p("VMOVUPS Z%d, %d(DI)", facc(i, v), 64*v)
		}
		p("ADDQ R8, DI")
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_nadd")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VMOVUPS Z%d, %d(DI)", facc(i, v), 64*v)
		}
		p("ADDQ R8, DI")
	}
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// dequant emits func name(dst *float32, src *byte, nb int): nb blocks
// widened by body (src at SI, dst at DI), advancing by sb and db bytes.
func dequant(name string, sb, db int, setup, body func()) {
	fmt.Fprintf(&w, "// func %s(dst *float32, src *byte, nb int)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-24\n", name)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ nb+16(FP), CX")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	if setup != nil {
		setup()
	}
	label(name + "_loop")
	body()
	p("ADDQ $%d, SI", sb)
	p("ADDQ $%d, DI", db)
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

func dequants() {
	// 32 elements per block for BF16/F16 too.
	dequant("dequantBF16", 64, 128, nil, func() {
		p("VPMOVZXWD (SI), Z0")
		p("VPMOVZXWD 32(SI), Z1")
		p("VPSLLD $16, Z0, Z0")
		p("VPSLLD $16, Z1, Z1")
		p("VMOVUPS Z0, (DI)")
		p("VMOVUPS Z1, 64(DI)")
	})
	dequant("dequantF16", 64, 128, nil, func() {
		p("VCVTPH2PS (SI), Z0")
		p("VCVTPH2PS 32(SI), Z1")
		p("VMOVUPS Z0, (DI)")
		p("VMOVUPS Z1, 64(DI)")
	})
	dequant("dequantQ8_0", 34, 128, nil, func() {
		p("VPBROADCASTW (SI), Y2")
		p("VCVTPH2PS Y2, Z2")
		p("VPMOVSXBD 2(SI), Z0")
		p("VPMOVSXBD 18(SI), Z1")
		p("VCVTDQ2PS Z0, Z0")
		p("VCVTDQ2PS Z1, Z1")
		p("VMULPS Z2, Z0, Z0")
		p("VMULPS Z2, Z1, Z1")
		p("VMOVUPS Z0, (DI)")
		p("VMOVUPS Z1, 64(DI)")
	})
	dequant("dequantQ4_0", 18, 128, func() {
		p("VPBROADCASTB nib8<>+8(SB), X6")
		p("VPBROADCASTD eight<>(SB), Z7")
	}, func() {
		p("VPBROADCASTW (SI), Y2")
		p("VCVTPH2PS Y2, Z2")
		p("VMOVDQU 2(SI), X3")
		p("VPSRLW $4, X3, X4")
		p("VPAND X6, X3, X3")
		p("VPAND X6, X4, X4")
		p("VPMOVZXBD X3, Z0")
		p("VPMOVZXBD X4, Z1")
		p("VPSUBD Z7, Z0, Z0")
		p("VPSUBD Z7, Z1, Z1")
		p("VCVTDQ2PS Z0, Z0")
		p("VCVTDQ2PS Z1, Z1")
		p("VMULPS Z2, Z0, Z0")
		p("VMULPS Z2, Z1, Z1")
		p("VMOVUPS Z0, (DI)")
		p("VMOVUPS Z1, 64(DI)")
	})
}

func main() {
	w.WriteString("// Code generated by gen_asm.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	w.WriteString("DATA nib8<>+0(SB)/8, $0x0808080808080808\nDATA nib8<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f\nGLOBL nib8<>(SB), RODATA|NOPTR, $16\n\n")
	gemvQ8_0()
	gemvQ4_0()
	gemvBF16()
	kquantData()
	gemvQ4_K()
	gemvQ6_K()
	gemmBF16()
	w.WriteString("DATA eight<>+0(SB)/4, $8\nGLOBL eight<>(SB), RODATA|NOPTR, $4\n\n")
	dequants()
	gemmQ8("gemmQ8Kernel", false)
	gemmQ8("gemmQ8MinKernel", true)
	if err := os.WriteFile("kernels_amd64.s", []byte(w.String()), 0o644); err != nil {
		panic(err)
	}
}

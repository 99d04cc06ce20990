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
	avx2    bool // only VEX instructions (Y0..Y15) in the frame
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
	// One row at a time: streaming several rows at once is no faster from
	// cache and two to four times slower from DRAM on this machine.
	for _, rows := range []int{1} {
		lbl := fmt.Sprintf("%s_r%d", name, rows)
		label(lbl)
		p("CMPQ R13, $%d", rows)
		p("JLT %s_done", name)
		p("MOVQ BX, R8")
		for j := 1; j < rows; j++ {
			p("LEAQ (%s)(R14*1), %s", rowRegs[j-1], rowRegs[j])
		}
		for j := 0; j < rows; j++ {
			zero := "VPXORD Z%d, Z%d, Z%d"
			if g.avx2 {
				zero = "VPXOR Y%d, Y%d, Y%d"
			}
			p(zero, j, j, j)
			if g.split {
				p(zero, j+4, j+4, j+4)
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
				if g.avx2 {
					p("VADDPS Y%d, Y%d, Y%d", j+4, j, j)
				} else {
					p("VADDPS Z%d, Z%d, Z%d", j+4, j, j)
				}
			}
		}
		if !g.avx2 {
			p("VEXTRACTF64X4 $1, Z0, Y16")
			p("VADDPS Y16, Y0, Y0")
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

// hsum stores the lane sum of Y0 to out[0] at DI.
func hsum(rows int) {
	if rows != 1 {
		panic("hsum: one row")
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
	gemvFrame(gemvSpec{name: "gemvQ8_0VNNI", unroll: 2, split: true, advance: advanceBy(34, 32, 4), body: func(rows, u int) {
		p("VMOVDQU %d(SI), Y8", 32*u)
		p("VBROADCASTSS %d(DX), Y9", 4*u)
		for j := 0; j < rows; j++ {
			r := rowRegs[j]
			p("VMOVDQU %d(%s), Y10", 34*u+2, r)
			p("VPSIGNB Y10, Y10, Y11")
			p("VPSIGNB Y10, Y8, Y12")
			p("VPXOR Y13, Y13, Y13")
			p("VPDPBUSD Y12, Y11, Y13")
			p("VCVTDQ2PS Y13, Y13")
			blockScale(r, 34*u)
			p("VFMADD231PS Y14, Y13, Y%d", j+4*u)
		}
	}})
}

// gemvQ4_0: W blocks of 18 bytes (fp16 d, 16 bytes of nibbles: element j
// low nibble of byte j, element j+16 its high nibble). Σ (u−8)·x =
// VPDPBUSD(u, x) − VPDPBUSD(8, x), the second shared by the rows.
func gemvQ4_0() {
	gemvFrame(gemvSpec{name: "gemvQ4_0VNNI", unroll: 2, split: true, advance: advanceBy(18, 32, 4), setup: func() {
		p("VPBROADCASTB nib8<>+0(SB), Y7")
		p("VPBROADCASTB nib8<>+8(SB), Y6")
	}, body: func(rows, u int) {
		p("VMOVDQU %d(SI), Y8", 32*u)
		p("VBROADCASTSS %d(DX), Y9", 4*u)
		p("VPXOR Y15, Y15, Y15")
		p("VPDPBUSD Y8, Y7, Y15") // Y7 = 8s
		for j := 0; j < rows; j++ {
			r := rowRegs[j]
			p("VMOVDQU %d(%s), X10", 18*u+2, r)
			p("VPSRLW $4, X10, X11")
			p("VINSERTI128 $1, X11, Y10, Y10")
			p("VPAND Y6, Y10, Y10") // Y6 = 0x0f
			p("VPXOR Y13, Y13, Y13")
			p("VPDPBUSD Y8, Y10, Y13")
			p("VPSUBD Y15, Y13, Y13")
			p("VCVTDQ2PS Y13, Y13")
			blockScale(r, 18*u)
			p("VFMADD231PS Y14, Y13, Y%d", j+4*u)
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
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $64-24\n", name)
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

// storeSink stores widened chunk Zz (16 values) at element offset off of
// the output row (DI).
func storeSink(z, off int) { p("VMOVUPS Z%d, %d(DI)", z, 4*off) }

// fmaSink accumulates widened chunk Zz times x (SI) at element offset off
// into Z(off/16 % 4), the accumulator sgemm's dot gives that chunk.
func fmaSink(z, off int) { p("VFMADD231PS %d(SI), Z%d, Z%d", 4*off, z, off/16%4) }

func q4kSetup() {
	p("VPBROADCASTD nib8<>+8(SB), Z7") // 0x0f0f0f0f: VPANDD on dwords of bytes keeps the low nibble
	p("VMOVDQU32 q4kshift<>(SB), X25")
	p("VPBROADCASTD kmask<>+0(SB), X26")
	p("VPBROADCASTD kmask<>+4(SB), X27")
	p("VPBROADCASTD kmask<>+8(SB), X28")
}

// q4kBody widens the Q4_K super-block at src, handing each 16 values to sink.
// It uses Z4, Z5, Z10..Z13, Z16, Z22, Z23 and the 64-byte frame.
func q4kBody(src string, sink func(z, off int)) {
	p("VMOVDQU 4(%s), X10", src)
	p("VPANDD X26, X10, X11")
	p("VPSHUFD $0xaa, X10, X12")
	p("VPSRLVD X25, X12, X12")
	p("VPANDD X27, X12, X12")
	p("VPSRLD $6, X10, X13")
	p("VPANDD X28, X13, X13")
	p("VPSLLD $4, X13, X13")
	p("VPORD X13, X12, X12")
	p("VPUNPCKLDQ X12, X11, X11") // bytes: sc0..7, m0..7
	p("VPMOVZXBD X11, Z16")
	p("VCVTDQ2PS Z16, Z16")
	p("VPBROADCASTW (%s), X12", src)
	p("VCVTPH2PS X12, Y12")
	p("VPBROADCASTW 2(%s), X13", src)
	p("VCVTPH2PS X13, Y13")
	p("VINSERTF64X4 $1, Y13, Z12, Z12")
	p("VMULPS Z12, Z16, Z16") // d·sc_j, dmin·m_j
	p("VMOVUPS Z16, tmp-64(SP)")
	for g := 0; g < 4; g++ {
		for h := 0; h < 2; h++ {
			p("VPMOVZXBD %d(%s), Z4", 16+32*g+16*h, src)
			p("VPSRLD $4, Z4, Z5")
			p("VPANDD Z7, Z4, Z4")
			for k, z := range []int{4, 5} {
				j := 2*g + k
				p("VCVTDQ2PS Z%d, Z%d", z, z)
				p("VBROADCASTSS tmp-%d(SP), Z22", 64-4*j)
				p("VBROADCASTSS tmp-%d(SP), Z23", 64-4*(8+j))
				p("VMULPS Z22, Z%d, Z%d", z, z)
				p("VSUBPS Z23, Z%d, Z%d", z, z)
				sink(z, 64*g+32*k+16*h)
			}
		}
	}
}

func q6kSetup() {
	p("VPBROADCASTB nib8<>+8(SB), Z6")
	p("VPBROADCASTD kmask<>+12(SB), Z7") // 0x30
	p("VPBROADCASTD thirtytwo<>(SB), Z8")
}

// q6kBody widens the Q6_K super-block at src, handing each 16 values to sink.
// It uses Z12, Z14..Z21 and the 64-byte frame.
func q6kBody(src string, sink func(z, off int)) {
	p("VPMOVSXBD 192(%s), Z16", src)
	p("VCVTDQ2PS Z16, Z16")
	p("VPBROADCASTW 208(%s), Y12", src)
	p("VCVTPH2PS Y12, Z12")
	p("VMULPS Z12, Z16, Z16")
	p("VMOVUPS Z16, tmp-64(SP)")
	for h := 0; h < 2; h++ {
		p("VMOVDQU64 %d(%s), Z14", 64*h, src)
		p("VMOVDQU %d(%s), Y15", 128+32*h, src)
		p("VPSLLW $4, Y15, Y16")
		p("VPSLLW $2, Y15, Y17")
		p("VINSERTI64X4 $1, Y17, Z16, Z16")
		p("VPSRLW $2, Y15, Y17")
		p("VINSERTI64X4 $1, Y17, Z15, Z17")
		p("VPANDD Z7, Z16, Z16")
		p("VPANDD Z7, Z17, Z17")
		p("VPANDD Z6, Z14, Z18")
		p("VPSRLW $4, Z14, Z19")
		p("VPANDD Z6, Z19, Z19")
		p("VPORD Z16, Z18, Z18") // elements 0..63 of the half
		p("VPORD Z17, Z19, Z19") // 64..127
		for m := 0; m < 8; m++ {
			reg := 18 + m/4
			j := 8*h + m
			p("VEXTRACTI32X4 $%d, Z%d, X20", m%4, reg)
			p("VPMOVZXBD X20, Z20")
			p("VPSUBD Z8, Z20, Z20")
			p("VCVTDQ2PS Z20, Z20")
			p("VBROADCASTSS tmp-%d(SP), Z21", 64-4*j)
			p("VMULPS Z21, Z20, Z20")
			sink(20, 128*h+16*m)
		}
	}
}

// exactRowsSuper emits the fused Exact GEMV (the exactRows contract) for
// 256-element super-blocks of bb bytes: sgemm's dot runs only 64-element
// steps on such rows, so each 16 widened values go to accumulator
// (offset/16) mod 4, super-block after super-block.
func exactRowsSuper(name string, bb int, setup func(), body func(src string, sink func(z, off int))) {
	fmt.Fprintf(&w, "// func %s(w *byte, stride, nrows int, x *float32, n int, out *float32)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $64-48\n", name)
	p("MOVQ w+0(FP), BX")
	p("MOVQ stride+8(FP), R14")
	p("MOVQ nrows+16(FP), R13")
	p("MOVQ out+40(FP), DI")
	p("TESTQ R13, R13")
	p("JZ %s_done", name)
	setup()
	label(name + "_row")
	p("MOVQ BX, R8")
	p("MOVQ x+24(FP), SI")
	p("MOVQ n+32(FP), CX")
	p("SHRQ $8, CX")
	for i := 0; i < 4; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	label(name + "_sb")
	body("R8", fmaSink)
	p("ADDQ $%d, R8", bb)
	p("ADDQ $1024, SI")
	p("DECQ CX")
	p("JNZ %s_sb", name)
	p("VADDPS Z1, Z0, Z0")
	p("VADDPS Z3, Z2, Z2")
	p("VADDPS Z2, Z0, Z0")
	p("VEXTRACTF64X4 $1, Z0, Y1")
	p("VADDPS Y1, Y0, Y0")
	p("VEXTRACTF128 $1, Y0, X1")
	p("VADDPS X1, X0, X0")
	p("VMOVHLPS X0, X0, X1")
	p("VADDPS X1, X0, X0")
	p("VMOVSHDUP X0, X1")
	p("VADDSS X1, X0, X0")
	p("VMOVSS X0, (DI)")
	p("ADDQ $4, DI")
	p("ADDQ R14, BX")
	p("DECQ R13")
	p("JNZ %s_row", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// dequantK emits the Q4_K and Q6_K widening (per 256-element super-block,
// the same float operations as package quant: for Q4_K
// float32(d·sc·q) − dmin·m with d·sc and dmin·m rounded first; for Q6_K
// float32(d·sc)·(q − 32)). Per-sub-block scales go through a 64-byte frame.
func dequantK() {
	dequant("dequantQ4_K", 144, 1024, q4kSetup, func() { q4kBody("SI", storeSink) })
	dequant("dequantQ6_K", 210, 1024, q6kSetup, func() { q6kBody("SI", storeSink) })
}

// gemvF16: F16 rows widened with VCVTPH2PS against fp32 activations.
func gemvF16() {
	gemvFrame(gemvSpec{name: "gemvF16", unroll: 2, split: true, advance: advanceBy(64, 128, 0), body: func(rows, u int) {
		r := rowRegs[0]
		for k := 0; k < 2; k++ {
			p("VCVTPH2PS %d(%s), Z%d", 64*u+32*k, r, 10+k)
			p("VFMADD231PS %d(SI), Z%d, Z%d", 128*u+64*k, 10+k, 4*u)
		}
	}})
}

// packBF16Tile emits
//
//	func packBF16Tile(dst *uint32, src *byte, stride, kb int)
//
// packing 32 rows of bf16 pairs (row j at src + j·stride, kb·16 dwords
// each) into the B panel layout of gemmBF16Kernel: dst[p·32 + j] = dword p
// of row j. Each 16×16 block of dwords is transposed in registers.
func packBF16Tile() {
	name := "packBF16Tile"
	fmt.Fprintf(&w, "// func %s(dst *uint32, src *byte, stride, kb int)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ stride+16(FP), R9")
	for h := 0; h < 2; h++ {
		lbl := fmt.Sprintf("%s_h%d", name, h)
		p("MOVQ kb+24(FP), CX")
		p("MOVQ SI, R10")
		p("MOVQ DI, R11")
		if h == 1 {
			p("MOVQ R9, AX")
			p("SHLQ $4, AX")
			p("ADDQ AX, R10") // rows 16..31
			p("ADDQ $64, R11")
		}
		label(lbl)
		p("MOVQ R10, DX")
		for j := 0; j < 16; j++ {
			p("VMOVDQU32 (DX), Z%d", j)
			if j < 15 {
				p("ADDQ R9, DX")
			}
		}
		for i := 0; i < 8; i++ {
			p("VPUNPCKLDQ Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i)
			p("VPUNPCKHDQ Z%d, Z%d, Z%d", 2*i+1, 2*i, 17+2*i)
		}
		for i := 0; i < 4; i++ {
			t := func(k int) int { return 16 + 4*i + k }
			p("VPUNPCKLQDQ Z%d, Z%d, Z%d", t(2), t(0), 4*i)
			p("VPUNPCKHQDQ Z%d, Z%d, Z%d", t(2), t(0), 4*i+1)
			p("VPUNPCKLQDQ Z%d, Z%d, Z%d", t(3), t(1), 4*i+2)
			p("VPUNPCKHQDQ Z%d, Z%d, Z%d", t(3), t(1), 4*i+3)
		}
		for k := 0; k < 4; k++ {
			a, b, c, d := k, 4+k, 8+k, 12+k
			p("VSHUFI32X4 $0x44, Z%d, Z%d, Z16", b, a)
			p("VSHUFI32X4 $0xee, Z%d, Z%d, Z17", b, a)
			p("VSHUFI32X4 $0x44, Z%d, Z%d, Z18", d, c)
			p("VSHUFI32X4 $0xee, Z%d, Z%d, Z19", d, c)
			p("VSHUFI32X4 $0x88, Z18, Z16, Z20")
			p("VSHUFI32X4 $0xdd, Z18, Z16, Z21")
			p("VSHUFI32X4 $0x88, Z19, Z17, Z22")
			p("VSHUFI32X4 $0xdd, Z19, Z17, Z23")
			// Column 4L+k of the block, L = 0..3.
			for L := 0; L < 4; L++ {
				p("VMOVDQU32 Z%d, %d(R11)", 20+L, (4*L+k)*128)
			}
		}
		p("ADDQ $64, R10")
		p("ADDQ $2048, R11")
		p("DECQ CX")
		p("JNZ %s", lbl)
	}
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// actsAVX512 emits the activation converters of Fast mode, bit for bit
// those of acts.go:
//
//	func toBF16Row(dst *uint16, src *float32, n int)          // n % 16 == 0
//	func quantizeQ8_0Row(q *int8, d *float32, x *float32, nb int)
func actsAVX512() {
	fmt.Fprintf(&w, "// func toBF16Row(dst *uint16, src *float32, n int)\n")
	fmt.Fprintf(&w, "TEXT ·toBF16Row(SB), NOSPLIT, $0-24\n")
	p("MOVQ dst+0(FP), DI")
	p("MOVQ src+8(FP), SI")
	p("MOVQ n+16(FP), CX")
	p("SHRQ $4, CX")
	p("JZ bf16row_done")
	p("VPBROADCASTD bf16c<>+0(SB), Z8")   // 0x7fff
	p("VPBROADCASTD bf16c<>+4(SB), Z9")   // 1
	p("VPBROADCASTD bf16c<>+8(SB), Z10")  // 0x7fffffff
	p("VPBROADCASTD bf16c<>+12(SB), Z11") // 0x7f800000
	p("VPBROADCASTD bf16c<>+16(SB), Z12") // 64
	label("bf16row_loop")
	p("VMOVDQU32 (SI), Z0")
	p("VPSRLD $16, Z0, Z1")
	p("VPANDD Z9, Z1, Z2")
	p("VPADDD Z8, Z0, Z3")
	p("VPADDD Z2, Z3, Z3")
	p("VPSRLD $16, Z3, Z3") // rounded
	p("VPANDD Z10, Z0, Z4")
	p("VPCMPUD $6, Z11, Z4, K1") // |u| > inf: NaN
	p("VPORD Z12, Z1, Z1")
	p("VMOVDQA32 Z1, K1, Z3")
	p("VPMOVDW Z3, (DI)")
	p("ADDQ $64, SI")
	p("ADDQ $32, DI")
	p("DECQ CX")
	p("JNZ bf16row_loop")
	label("bf16row_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")

	fmt.Fprintf(&w, "// func quantizeQ8_0Row(q *int8, d *float32, x *float32, nb int)\n")
	fmt.Fprintf(&w, "TEXT ·quantizeQ8_0Row(SB), NOSPLIT, $0-32\n")
	p("MOVQ q+0(FP), DI")
	p("MOVQ d+8(FP), DX")
	p("MOVQ x+16(FP), SI")
	p("MOVQ nb+24(FP), CX")
	p("TESTQ CX, CX")
	p("JZ q80row_done")
	p("VPBROADCASTD bf16c<>+8(SB), Z10") // 0x7fffffff
	p("VBROADCASTSS c127<>(SB), X11")
	label("q80row_loop")
	p("VMOVUPS (SI), Z0")
	p("VMOVUPS 64(SI), Z1")
	p("VANDPS Z10, Z0, Z2")
	p("VANDPS Z10, Z1, Z3")
	p("VMAXPS Z3, Z2, Z2")
	p("VEXTRACTF64X4 $1, Z2, Y3")
	p("VMAXPS Y3, Y2, Y2")
	p("VEXTRACTF128 $1, Y2, X3")
	p("VMAXPS X3, X2, X2")
	p("VMOVHLPS X2, X2, X3")
	p("VMAXPS X3, X2, X2")
	p("VMOVSHDUP X2, X3")
	p("VMAXSS X3, X2, X2")  // amax
	p("VDIVSS X11, X2, X4") // amax/127
	p("VCVTPS2PH $0, X4, X4")
	p("VCVTPH2PS X4, X4")
	p("VMOVSS X4, (DX)")
	p("VXORPS X5, X5, X5")
	p("VUCOMISS X5, X2")
	p("JEQ q80row_zero")
	p("VDIVSS X2, X11, X5") // 127/amax
	label("q80row_zero")
	p("VBROADCASTSS X5, Z5")
	p("VMULPS Z5, Z0, Z0")
	p("VMULPS Z5, Z1, Z1")
	p("VCVTPS2DQ Z0, Z0") // round to nearest even (MXCSR default)
	p("VCVTPS2DQ Z1, Z1")
	p("VPMOVSDB Z0, (DI)")
	p("VPMOVSDB Z1, 16(DI)")
	p("ADDQ $128, SI")
	p("ADDQ $32, DI")
	p("ADDQ $4, DX")
	p("DECQ CX")
	p("JNZ q80row_loop")
	label("q80row_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// q8kAVX512 emits
//
//	func quantizeQ8_KRow(q *int8, d *float32, bs *int16, x *float32, nb int)
//
// bit for bit quantizeQ8_KBlock for finite inputs: iscale = −127/mx where mx
// is the first element of largest magnitude, q = min(127, rne(iscale·x)),
// d = 1/iscale, bs = sums of 16 quants.
func q8kAVX512() {
	name := "quantizeQ8_KRow"
	fmt.Fprintf(&w, "// func %s(q *int8, d *float32, bs *int16, x *float32, nb int)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-40\n", name)
	p("MOVQ q+0(FP), DI")
	p("MOVQ d+8(FP), DX")
	p("MOVQ bs+16(FP), BX")
	p("MOVQ x+24(FP), SI")
	p("MOVQ nb+32(FP), CX")
	p("TESTQ CX, CX")
	p("JZ %s_done", name)
	p("VPBROADCASTD bf16c<>+8(SB), Z31") // 0x7fffffff
	p("VPBROADCASTD c127i<>(SB), Z30")   // int 127
	label(name + "_blk")
	// amax over 256 values (Z0..Z15 hold x).
	for k := 0; k < 16; k++ {
		p("VMOVUPS %d(SI), Z%d", 64*k, k)
		if k < 8 {
			p("VANDPS Z31, Z%d, Z%d", k, 16+k)
		} else {
			p("VANDPS Z31, Z%d, Z24", k)
			p("VMAXPS Z24, Z%d, Z%d", 16+k-8, 16+k-8)
		}
	}
	p("VMAXPS Z17, Z16, Z16")
	p("VMAXPS Z19, Z18, Z18")
	p("VMAXPS Z21, Z20, Z20")
	p("VMAXPS Z23, Z22, Z22")
	p("VMAXPS Z18, Z16, Z16")
	p("VMAXPS Z22, Z20, Z20")
	p("VMAXPS Z20, Z16, Z16")
	p("VEXTRACTF64X4 $1, Z16, Y17")
	p("VMAXPS Y17, Y16, Y16")
	p("VEXTRACTF32X4 $1, Y16, X17")
	p("VMAXPS X17, X16, X16")
	p("VMOVHLPS X16, X16, X17")
	p("VMAXPS X17, X16, X16")
	p("VMOVSHDUP X16, X17")
	p("VMAXSS X17, X16, X16") // amax
	p("VXORPS X17, X17, X17")
	p("VUCOMISS X17, X16")
	p("JNE %s_nz", name)
	// All zero: q = 0, bs = 0, d = 0.
	p("VPXORD Z17, Z17, Z17")
	for k := 0; k < 4; k++ {
		p("VMOVDQU64 Z17, %d(DI)", 64*k)
	}
	p("VMOVDQU32 Y17, (BX)")
	p("MOVL $0, (DX)")
	p("JMP %s_next", name)
	label(name + "_nz")
	// The first element whose magnitude is amax gives the sign.
	p("VBROADCASTSS X16, Z17")
	p("MOVQ $0, R8")
	label(name + "_find")
	p("MOVQ R8, R9")
	p("SHLQ $6, R9")
	p("VMOVUPS (SI)(R9*1), Z18")
	p("VANDPS Z31, Z18, Z19")
	p("VCMPPS $0, Z17, Z19, K1") // |x| == amax
	p("KMOVW K1, AX")
	p("TESTL AX, AX")
	p("JNZ %s_found", name)
	p("INCQ R8")
	p("JMP %s_find", name)
	label(name + "_found")
	p("TZCNTL AX, AX")
	p("LEAQ (R9)(AX*4), R9")
	p("VMOVSS (SI)(R9*1), X18")  // mx
	p("VMOVSS c127n<>(SB), X19") // −127
	p("VDIVSS X18, X19, X19")    // iscale = −127/mx
	p("VMOVSS c1<>(SB), X20")
	p("VDIVSS X19, X20, X20") // d = 1/iscale
	p("VMOVSS X20, (DX)")
	p("VBROADCASTSS X19, Z19")
	for k := 0; k < 16; k++ {
		p("VMULPS Z19, Z%d, Z%d", k, k)
		p("VCVTPS2DQ Z%d, Z%d", k, k)
		p("VPMINSD Z30, Z%d, Z%d", k, k)
		p("VPMOVSDB Z%d, %d(DI)", k, 16*k)
		// bs[k] = Σ of the 16 quants.
		p("VEXTRACTI64X4 $1, Z%d, Y20", k)
		p("VPADDD Y20, Y%d, Y20", k)
		p("VEXTRACTI32X4 $1, Y20, X21")
		p("VPADDD X21, X20, X20")
		p("VPSHUFD $0x4e, X20, X21")
		p("VPADDD X21, X20, X20")
		p("VPSHUFD $0xb1, X20, X21")
		p("VPADDD X21, X20, X20")
		p("VMOVD X20, AX")
		p("MOVW AX, %d(BX)", 2*k)
	}
	label(name + "_next")
	p("ADDQ $1024, SI")
	p("ADDQ $256, DI")
	p("ADDQ $32, BX")
	p("ADDQ $4, DX")
	p("DECQ CX")
	p("JNZ %s_blk", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// exactRows emits
//
//	func name(w *byte, stride, nrows int, x *float32, n int, out *float32)
//
// out[r] = Σ widen(w_r)·x over n elements (n % 16 == 0), in exactly the
// order of sgemm's AVX-512 dot (four accumulators over 64-element steps,
// 16-element steps into the first, then its reduction), so the result is
// bit for bit sgemm.Dot(x, widened row). load(z, off) widens 16 weights at
// byte offset off (element offset off/esize) of the row at R8 into Zz.
func exactRows(name string, esize int, load func(z, off int)) {
	exactRowsBlocks(name, 64*esize, 16*esize, func(z, i int) { load(z, 16*esize*i) })
}

// exactRowsBlocks is exactRows for rows of step64 bytes per 64 elements,
// where load(z, i) widens 16-element chunk i (0..3) of the current 64 and
// the row pointer moves step16 bytes per 16-element tail chunk (0 for block
// types, whose 32-element tail block is widened by load(z, 0) and load(z, 1)).
func exactRowsBlocks(name string, step64, step16 int, load func(z, i int)) {
	fmt.Fprintf(&w, "// func %s(w *byte, stride, nrows int, x *float32, n int, out *float32)\n", name)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVQ w+0(FP), BX")
	p("MOVQ stride+8(FP), R14")
	p("MOVQ nrows+16(FP), R13")
	p("MOVQ out+40(FP), DI")
	p("TESTQ R13, R13")
	p("JZ %s_done", name)
	label(name + "_row")
	p("MOVQ BX, R8")
	p("MOVQ x+24(FP), SI")
	p("MOVQ n+32(FP), CX")
	for i := 0; i < 4; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("CMPQ CX, $64")
	p("JLT %s_16", name)
	label(name + "_64")
	for i := 0; i < 4; i++ {
		load(4+i, i)
		p("VFMADD231PS %d(SI), Z%d, Z%d", 64*i, 4+i, i)
	}
	p("ADDQ $%d, R8", step64)
	p("ADDQ $256, SI")
	p("SUBQ $64, CX")
	p("CMPQ CX, $64")
	p("JGE %s_64", name)
	label(name + "_16")
	p("CMPQ CX, $16")
	p("JLT %s_reduce", name)
	if step16 > 0 {
		load(4, 0)
		p("VFMADD231PS (SI), Z4, Z0")
		p("ADDQ $%d, R8", step16)
		p("ADDQ $64, SI")
		p("SUBQ $16, CX")
		p("JMP %s_16", name)
	} else { // one 32-element block: its two chunks in sgemm's order
		load(4, 0)
		p("VFMADD231PS (SI), Z4, Z0")
		load(5, 1)
		p("VFMADD231PS 64(SI), Z5, Z0")
	}
	label(name + "_reduce")
	p("VADDPS Z1, Z0, Z0")
	p("VADDPS Z3, Z2, Z2")
	p("VADDPS Z2, Z0, Z0")
	p("VEXTRACTF64X4 $1, Z0, Y1")
	p("VADDPS Y1, Y0, Y0")
	p("VEXTRACTF128 $1, Y0, X1")
	p("VADDPS X1, X0, X0")
	p("VMOVHLPS X0, X0, X1")
	p("VADDPS X1, X0, X0")
	p("VMOVSHDUP X0, X1")
	p("VADDSS X1, X0, X0")
	p("VMOVSS X0, (DI)")
	p("ADDQ $4, DI")
	p("ADDQ R14, BX")
	p("DECQ R13")
	p("JNZ %s_row", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

// gemvKAVX2 emits Q4_K and Q6_K GEMV kernels for CPUs without AVX-512,
// with the integer arithmetic of the AVX-512 ones: VPMADDUBSW of the
// unsigned quants with Q8_K activations, VPMADDWD with per-sub-block scale
// words (broadcast by VPSHUFB from a table of word masks), bsums for the
// Q4_K mins and the Q6_K −32 offset.
func gemvKAVX2() {
	gemvFrame(gemvSpec{name: "gemvQ4_KAVX2", unroll: 1, avx2: true, advance: advanceBy4(144, 256, 4, 32), setup: func() {
		p("VPBROADCASTB nib8<>+8(SB), Y6")
		p("VMOVDQU q4kshift<>(SB), X5")
		p("VPBROADCASTD kmask<>+0(SB), X7") // X1 is hsum's
		p("VPBROADCASTD kmask<>+4(SB), X2")
		p("VPBROADCASTD kmask<>+8(SB), X3")
	}, body: func(rows, u int) {
		r := rowRegs[0]
		p("VBROADCASTSS (DX), Y9")
		p("VMOVDQU (AX), Y8") // bsums
		p("VMOVDQU 4(%s), X10", r)
		p("VPAND X7, X10, X11")
		p("VPSHUFD $0xaa, X10, X12")
		p("VPSRLVD X5, X12, X12")
		p("VPAND X2, X12, X12")
		p("VPSRLD $6, X10, X13")
		p("VPAND X3, X13, X13")
		p("VPSLLD $4, X13, X13")
		p("VPOR X13, X12, X12")
		p("VPUNPCKLDQ X12, X11, X11")  // bytes: sc0..7, m0..7
		p("VPMOVZXBW X11, Y11")        // words
		p("VEXTRACTI128 $1, Y11, X12") // m0..7
		p("VPUNPCKLWD X12, X12, X13")
		p("VPUNPCKHWD X12, X12, X14")
		p("VINSERTI128 $1, X14, Y13, Y13") // m0,m0,...,m7,m7
		p("VPMADDWD Y8, Y13, Y13")         // msum lanes
		p("VINSERTI128 $1, X11, Y11, Y15") // scale words in both lanes
		p("VPXOR Y4, Y4, Y4")
		for g := 0; g < 4; g++ {
			p("VMOVDQU %d(%s), Y10", 16+32*g, r)
			p("VPSRLW $4, Y10, Y12")
			p("VPAND Y6, Y10, Y10")
			p("VPAND Y6, Y12, Y12")
			p("VPMADDUBSW %d(SI), Y10, Y10", 64*g)
			p("VPMADDUBSW %d(SI), Y12, Y12", 64*g+32)
			p("VPSHUFB wordb%d<>(SB), Y15, Y14", 2*g)
			p("VPMADDWD Y14, Y10, Y10")
			p("VPSHUFB wordb%d<>(SB), Y15, Y14", 2*g+1)
			p("VPMADDWD Y14, Y12, Y12")
			p("VPADDD Y10, Y4, Y4")
			p("VPADDD Y12, Y4, Y4")
		}
		p("VCVTDQ2PS Y4, Y4")
		p("VCVTDQ2PS Y13, Y13")
		p("VPBROADCASTW 0(%s), X14", r)
		p("VCVTPH2PS X14, Y14")
		p("VMULPS Y9, Y14, Y14")
		p("VFMADD231PS Y14, Y4, Y0")
		p("VPBROADCASTW 2(%s), X14", r)
		p("VCVTPH2PS X14, Y14")
		p("VMULPS Y9, Y14, Y14")
		p("VFNMADD231PS Y14, Y13, Y0")
	}})
	gemvFrame(gemvSpec{name: "gemvQ6_KAVX2", unroll: 1, avx2: true, advance: advanceBy4(210, 256, 4, 32), setup: func() {
		p("VPBROADCASTB nib8<>+8(SB), Y6")
		p("VPBROADCASTD kmask<>+12(SB), Y7") // 0x30
	}, body: func(rows, u int) {
		r := rowRegs[0]
		p("VBROADCASTSS (DX), Y9")
		p("VMOVDQU (AX), Y8")          // bsums
		p("VPMOVSXBW 192(%s), Y11", r) // 16 scales as words
		p("VPMADDWD Y8, Y11, Y3")
		p("VPSLLD $5, Y3, Y3") // 32·Σ sc·bs
		p("VPXOR Y4, Y4, Y4")
		for h := 0; h < 2; h++ {
			if h == 0 {
				p("VINSERTI128 $1, X11, Y11, Y15")
			} else {
				p("VPERM2I128 $0x11, Y11, Y11, Y15")
			}
			p("VMOVDQU %d(%s), Y10", 64*h, r)     // A
			p("VMOVDQU %d(%s), Y12", 64*h+32, r)  // B
			p("VMOVDQU %d(%s), Y13", 128+32*h, r) // H
			for k := 0; k < 4; k++ {
				src := []int{10, 12, 10, 12}[k]
				if k < 2 {
					p("VPAND Y6, Y%d, Y1", src)
				} else {
					p("VPSRLW $4, Y%d, Y1", src)
					p("VPAND Y6, Y1, Y1")
				}
				switch k {
				case 0:
					p("VPSLLW $4, Y13, Y2")
				case 1:
					p("VPSLLW $2, Y13, Y2")
				case 2:
					p("VMOVDQA Y13, Y2")
				case 3:
					p("VPSRLW $2, Y13, Y2")
				}
				p("VPAND Y7, Y2, Y2")
				p("VPOR Y2, Y1, Y1") // q6 of quarter k
				p("VPMADDUBSW %d(SI), Y1, Y1", 128*h+32*k)
				p("VPSHUFB wordp%d<>(SB), Y15, Y14", k)
				p("VPMADDWD Y14, Y1, Y1")
				p("VPADDD Y1, Y4, Y4")
			}
		}
		p("VPSUBD Y3, Y4, Y4")
		p("VCVTDQ2PS Y4, Y4")
		p("VPBROADCASTW 208(%s), X14", r)
		p("VCVTPH2PS X14, Y14")
		p("VMULPS Y9, Y14, Y14")
		p("VFMADD231PS Y14, Y4, Y0")
	}})
}

// wordMasks emits VPSHUFB masks: wordb<j> broadcasts word j of each 128-bit
// lane to the whole lane; wordp<k> broadcasts word 2k in the low lane and
// word 2k+1 in the high lane.
func wordMasks() {
	bytesOf := func(lo, hi int) []int {
		var words []int
		for i := 0; i < 16; i++ {
			wd := lo
			if i >= 8 {
				wd = hi
			}
			words = append(words, (2*wd)|(2*wd+1)<<8)
		}
		return words
	}
	for j := 0; j < 8; j++ {
		data(fmt.Sprintf("wordb%d", j), bytesOf(j, j))
	}
	for k := 0; k < 4; k++ {
		data(fmt.Sprintf("wordp%d", k), bytesOf(2*k, 2*k+1))
	}
}

// AVX2 variants (no AVX-512): VPMADDUBSW then VPMADDWD with ones stands in
// for VPDPBUSD (no saturation: |w| ≤ 128, |x| ≤ 127, pairs ≤ 32512).
func gemvAVX2() {
	gemvFrame(gemvSpec{name: "gemvQ8_0AVX2", unroll: 2, split: true, avx2: true, advance: advanceBy(34, 32, 4), setup: func() {
		p("VPBROADCASTW ones16<>(SB), Y15")
	}, body: func(rows, u int) {
		p("VMOVDQU %d(SI), Y8", 32*u)
		p("VBROADCASTSS %d(DX), Y9", 4*u)
		r := rowRegs[0]
		p("VMOVDQU %d(%s), Y10", 34*u+2, r)
		p("VPSIGNB Y10, Y10, Y11")
		p("VPSIGNB Y10, Y8, Y12")
		p("VPMADDUBSW Y12, Y11, Y13")
		p("VPMADDWD Y15, Y13, Y13")
		p("VCVTDQ2PS Y13, Y13")
		blockScale(r, 34*u)
		p("VFMADD231PS Y14, Y13, Y%d", 4*u)
	}})
	gemvFrame(gemvSpec{name: "gemvQ4_0AVX2", unroll: 2, split: true, avx2: true, advance: advanceBy(18, 32, 4), setup: func() {
		p("VPBROADCASTW ones16<>(SB), Y5")
		p("VPBROADCASTB nib8<>+0(SB), Y7")
		p("VPBROADCASTB nib8<>+8(SB), Y6")
	}, body: func(rows, u int) {
		p("VMOVDQU %d(SI), Y8", 32*u)
		p("VBROADCASTSS %d(DX), Y9", 4*u)
		p("VPMADDUBSW Y8, Y7, Y15")
		p("VPMADDWD Y5, Y15, Y15") // 8·Σx
		r := rowRegs[0]
		p("VMOVDQU %d(%s), X10", 18*u+2, r)
		p("VPSRLW $4, X10, X11")
		p("VINSERTI128 $1, X11, Y10, Y10")
		p("VPAND Y6, Y10, Y10")
		p("VPMADDUBSW Y8, Y10, Y13")
		p("VPMADDWD Y5, Y13, Y13")
		p("VPSUBD Y15, Y13, Y13")
		p("VCVTDQ2PS Y13, Y13")
		blockScale(r, 18*u)
		p("VFMADD231PS Y14, Y13, Y%d", 4*u)
	}})
	// BF16 against bf16 activations, both widened: the products are exact
	// and the sums fp32, as with VDPBF16PS.
	gemvFrame(gemvSpec{name: "gemvBF16AVX2", unroll: 2, split: true, avx2: true, advance: advanceBy(64, 64, 0), body: func(rows, u int) {
		r := rowRegs[0]
		for k := 0; k < 4; k++ {
			off := 64*u + 16*k
			p("VPMOVZXWD %d(SI), Y8", off)
			p("VPMOVZXWD %d(%s), Y10", off, r)
			p("VPSLLD $16, Y8, Y8")
			p("VPSLLD $16, Y10, Y10")
			p("VFMADD231PS Y8, Y10, Y%d", 4*u)
		}
	}})
	dequant("dequantBF16AVX2", 64, 128, nil, func() {
		for k := 0; k < 4; k++ {
			p("VPMOVZXWD %d(SI), Y0", 16*k)
			p("VPSLLD $16, Y0, Y0")
			p("VMOVUPS Y0, %d(DI)", 32*k)
		}
	})
	dequant("dequantF16AVX2", 64, 128, nil, func() {
		for k := 0; k < 4; k++ {
			p("VCVTPH2PS %d(SI), Y0", 16*k)
			p("VMOVUPS Y0, %d(DI)", 32*k)
		}
	})
	dequant("dequantQ8_0AVX2", 34, 128, nil, func() {
		p("VPBROADCASTW (SI), X2")
		p("VCVTPH2PS X2, Y2")
		for k := 0; k < 4; k++ {
			p("VPMOVSXBD %d(SI), Y0", 2+8*k)
			p("VCVTDQ2PS Y0, Y0")
			p("VMULPS Y2, Y0, Y0")
			p("VMOVUPS Y0, %d(DI)", 32*k)
		}
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
	w.WriteString("DATA ones16<>+0(SB)/2, $1\nGLOBL ones16<>(SB), RODATA|NOPTR, $2\n\n")
	gemvAVX2()
	wordMasks()
	gemvKAVX2()
	gemvF16()
	packBF16Tile()
	w.WriteString("DATA bf16c<>+0(SB)/4, $0x7fff\nDATA bf16c<>+4(SB)/4, $1\nDATA bf16c<>+8(SB)/4, $0x7fffffff\nDATA bf16c<>+12(SB)/4, $0x7f800000\nDATA bf16c<>+16(SB)/4, $64\nGLOBL bf16c<>(SB), RODATA|NOPTR, $20\n\n")
	w.WriteString("DATA c127<>+0(SB)/4, $127.0\nGLOBL c127<>(SB), RODATA|NOPTR, $4\n\n")
	actsAVX512()
	w.WriteString("DATA c127i<>+0(SB)/4, $127\nGLOBL c127i<>(SB), RODATA|NOPTR, $4\n\n")
	w.WriteString("DATA c127n<>+0(SB)/4, $-127.0\nGLOBL c127n<>(SB), RODATA|NOPTR, $4\n\n")
	w.WriteString("DATA c1<>+0(SB)/4, $1.0\nGLOBL c1<>(SB), RODATA|NOPTR, $4\n\n")
	q8kAVX512()
	exactRows("exactRowsBF16", 2, func(z, off int) {
		p("VPMOVZXWD %d(R8), Z%d", off, z)
		p("VPSLLD $16, Z%d, Z%d", z, z)
	})
	exactRows("exactRowsF16", 2, func(z, off int) {
		p("VCVTPH2PS %d(R8), Z%d", off, z)
	})
	exactRowsSuper("exactRowsQ4_K", 144, q4kSetup, q4kBody)
	exactRowsSuper("exactRowsQ6_K", 210, q6kSetup, q6kBody)
	// Q8_0: chunk i is half i%2 of block i/2; w = float32(q)·d as quant does.
	exactRowsBlocks("exactRowsQ8_0", 68, 0, func(z, i int) {
		blk := 34 * (i / 2)
		p("VPMOVSXBD %d(R8), Z%d", blk+2+16*(i%2), z)
		p("VCVTDQ2PS Z%d, Z%d", z, z)
		p("VPBROADCASTW %d(R8), Y%d", blk, 8+z)
		p("VCVTPH2PS Y%d, Z%d", 8+z, 8+z)
		p("VMULPS Z%d, Z%d, Z%d", 8+z, z, z)
	})
	w.WriteString("DATA eight<>+0(SB)/4, $8\nGLOBL eight<>(SB), RODATA|NOPTR, $4\n\n")
	dequants()
	w.WriteString("DATA thirtytwo<>+0(SB)/4, $32\nGLOBL thirtytwo<>(SB), RODATA|NOPTR, $4\n\n")
	dequantK()
	gemmQ8("gemmQ8Kernel", false)
	gemmQ8("gemmQ8MinKernel", true)
	if err := os.WriteFile("kernels_amd64.s", []byte(w.String()), 0o644); err != nil {
		panic(err)
	}
}

//go:build ignore

// gen_neon writes kernel_arm64.s: go run gen_neon.go
//
// Go's arm64 assembler has VFMLA only in its vector-by-vector form; the
// by-element forms (FMLA/FMUL Vd.4S, Vn.4S, Vm.S[i]) and FADD/FADDP are
// emitted as WORDs with the mnemonic in a comment. The encodings follow the
// Arm ARM (A64 "FMLA (by element)", "FMUL (by element)", "FADD (vector)",
// "FADDP") and were checked against llvm-mc -triple=aarch64 -show-encoding.
package main

import (
	"fmt"
	"os"
	"strings"
)

var w strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&w, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&w, "%s:\n", l) }

// byElem encodes FMLA (op 0x1000) or FMUL (op 0x9000) Vd.4S, Vn.4S, Vm.S[idx].
func byElem(name string, op uint32, d, n, m, idx int) {
	enc := 0x4F800000 | uint32(idx&1)<<21 | uint32(m&16)<<16 | uint32(m&15)<<16 | op | uint32(idx>>1)<<11 | uint32(n)<<5 | uint32(d)
	p("WORD $0x%08x // %s V%d.4S, V%d.4S, V%d.S[%d]", enc, name, d, n, m, idx)
}

func fmlaElem(d, n, m, idx int) { byElem("FMLA", 0x1000, d, n, m, idx) }
func fmulElem(d, n, m, idx int) { byElem("FMUL", 0x9000, d, n, m, idx) }

// fadd4 encodes FADD Vd.4S, Vn.4S, Vm.4S.
func fadd4(d, n, m int) {
	p("WORD $0x%08x // FADD V%d.4S, V%d.4S, V%d.4S", 0x4E20D400|uint32(m)<<16|uint32(n)<<5|uint32(d), d, n, m)
}

// faddp4 encodes FADDP Vd.4S, Vn.4S, Vm.4S.
func faddp4(d, n, m int) {
	p("WORD $0x%08x // FADDP V%d.4S, V%d.4S, V%d.4S", 0x6E20D400|uint32(m)<<16|uint32(n)<<5|uint32(d), d, n, m)
}

// faddpScalar encodes FADDP Sd, Vn.2S.
func faddpScalar(d, n int) {
	p("WORD $0x%08x // FADDP S%d, V%d.2S", 0x7E30D800|uint32(n)<<5|uint32(d), d, n)
}

func vlist(first, n int) string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf("V%d.S4", first+i)
	}
	return "[" + strings.Join(r, ", ") + "]"
}

// gemmKernel emits the mr×nr micro-kernel (mr = 4·av, nr = 4·bv): per k step
// it loads av vectors of packed A and bv of packed B and does mr·bv FMLAs by
// element into mr·bv accumulators V8... A sits in V0.., B in V(av)...
func gemmKernel(name string, av, bv, unroll int) {
	mr, nr := 4*av, 4*bv
	const accBase = 8
	acc := func(i, v int) int { return accBase + i*bv + v }
	if accBase+mr*bv > 32 || av+bv > accBase {
		panic("register tile does not fit")
	}
	fmt.Fprintf(&w, "// func %s(kc int, a, b, c *float32, ldc int, alpha, beta float32)\n", name)
	fmt.Fprintf(&w, "// Register tile %d×%d.\n", mr, nr)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVD kc+0(FP), R0")
	p("MOVD a+8(FP), R1")
	p("MOVD b+16(FP), R2")
	p("MOVD c+24(FP), R3")
	p("MOVD ldc+32(FP), R4")
	p("LSL $2, R4")
	for i := accBase; i < accBase+mr*bv; i++ {
		p("VEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	step := func() {
		p("VLD1.P %d(R1), %s", mr*4, vlist(0, av))
		p("VLD1.P %d(R2), %s", nr*4, vlist(av, bv))
		for i := 0; i < mr; i++ {
			for v := 0; v < bv; v++ {
				fmlaElem(acc(i, v), av+v, i/4, i%4)
			}
		}
	}
	p("LSR $%d, R0, R5", log2(unroll))
	p("CBZ R5, %s_tail", name)
	label(name + "_loop")
	for u := 0; u < unroll; u++ {
		step()
	}
	p("SUBS $1, R5, R5")
	p("BNE %s_loop", name)
	label(name + "_tail")
	p("AND $%d, R0, R0", unroll-1)
	p("CBZ R0, %s_done", name)
	label(name + "_loop1")
	step()
	p("SUBS $1, R0, R0")
	p("BNE %s_loop1", name)
	label(name + "_done")
	// V0.S[0] = alpha, V0.S[1] = beta.
	p("FMOVD alpha+40(FP), F0")
	for i := 0; i < mr; i++ {
		for v := 0; v < bv; v++ {
			fmulElem(acc(i, v), acc(i, v), 0, 0)
		}
	}
	p("MOVWU beta+44(FP), R6")
	p("LSLW $1, R6, R6") // ignore the sign: -0 counts as 0
	p("CBZW R6, %s_nobeta", name)
	for i := 0; i < mr; i++ {
		p("VLD1 (R3), %s", vlist(av, bv))
		for v := 0; v < bv; v++ {
			fmlaElem(acc(i, v), av+v, 0, 1)
		}
		p("VST1 %s, (R3)", vlist(acc(i, 0), bv))
		p("ADD R4, R3, R3")
	}
	p("RET")
	label(name + "_nobeta")
	for i := 0; i < mr; i++ {
		p("VST1 %s, (R3)", vlist(acc(i, 0), bv))
		p("ADD R4, R3, R3")
	}
	p("RET")
	w.WriteString("\n")
}

func log2(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return l
}

// vecOps emits dot, axpy and scale: 16 elements per iteration, then 4, then
// one at a time with scalar fused operations.
func vecOps() {
	w.WriteString(`// func dotNEON(a, b []float32) float32
TEXT ·dotNEON(SB), NOSPLIT, $0-52
	MOVD a_base+0(FP), R0
	MOVD a_len+8(FP), R2
	MOVD b_base+24(FP), R1
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	CMP $16, R2
	BLT dot_4
dot_16:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA V4.S4, V0.S4, V16.S4
	VFMLA V5.S4, V1.S4, V17.S4
	VFMLA V6.S4, V2.S4, V18.S4
	VFMLA V7.S4, V3.S4, V19.S4
	SUB $16, R2, R2
	CMP $16, R2
	BGE dot_16
dot_4:
	CMP $4, R2
	BLT dot_reduce
	VLD1.P 16(R0), [V0.S4]
	VLD1.P 16(R1), [V4.S4]
	VFMLA V4.S4, V0.S4, V16.S4
	SUB $4, R2, R2
	B dot_4
dot_reduce:
`)
	fadd4(16, 16, 17)
	fadd4(18, 18, 19)
	fadd4(16, 16, 18)
	faddp4(16, 16, 16)
	faddpScalar(16, 16)
	w.WriteString(`	CBZ R2, dot_done
dot_1:
	FMOVS.P 4(R0), F0
	FMOVS.P 4(R1), F1
	FMADDS F0, F16, F1, F16
	SUBS $1, R2, R2
	BNE dot_1
dot_done:
	FMOVS F16, ret+48(FP)
	RET

// func axpyNEON(alpha float32, x, y []float32)
TEXT ·axpyNEON(SB), NOSPLIT, $0-56
	FMOVS alpha+0(FP), F16
	VDUP V16.S[0], V16.S4
	MOVD x_base+8(FP), R0
	MOVD x_len+16(FP), R2
	MOVD y_base+32(FP), R1
	CMP $16, R2
	BLT axpy_4
axpy_16:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1 (R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA V0.S4, V16.S4, V4.S4
	VFMLA V1.S4, V16.S4, V5.S4
	VFMLA V2.S4, V16.S4, V6.S4
	VFMLA V3.S4, V16.S4, V7.S4
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R1)
	SUB $16, R2, R2
	CMP $16, R2
	BGE axpy_16
axpy_4:
	CMP $4, R2
	BLT axpy_tail
	VLD1.P 16(R0), [V0.S4]
	VLD1 (R1), [V4.S4]
	VFMLA V0.S4, V16.S4, V4.S4
	VST1.P [V4.S4], 16(R1)
	SUB $4, R2, R2
	B axpy_4
axpy_tail:
	CBZ R2, axpy_done
axpy_1:
	FMOVS.P 4(R0), F0
	FMOVS (R1), F1
	FMADDS F0, F1, F16, F1
	FMOVS.P F1, 4(R1)
	SUBS $1, R2, R2
	BNE axpy_1
axpy_done:
	RET

// func scaleNEON(alpha float32, x []float32)
TEXT ·scaleNEON(SB), NOSPLIT, $0-32
	FMOVS alpha+0(FP), F16
	MOVD x_base+8(FP), R0
	MOVD x_len+16(FP), R2
	CMP $16, R2
	BLT scale_4
scale_16:
	VLD1 (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
`)
	for i := 0; i < 4; i++ {
		fmulElem(i, i, 16, 0)
	}
	w.WriteString(`	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB $16, R2, R2
	CMP $16, R2
	BGE scale_16
scale_4:
	CMP $4, R2
	BLT scale_tail
	VLD1 (R0), [V0.S4]
`)
	fmulElem(0, 0, 16, 0)
	w.WriteString(`	VST1.P [V0.S4], 16(R0)
	SUB $4, R2, R2
	B scale_4
scale_tail:
	CBZ R2, scale_done
scale_1:
	FMOVS (R0), F0
	FMULS F16, F0, F0
	FMOVS.P F0, 4(R0)
	SUBS $1, R2, R2
	BNE scale_1
scale_done:
	RET
`)
}

func main() {
	w.WriteString("// Code generated by gen_neon.go; DO NOT EDIT.\n\n//go:build arm64 && !purego\n\n#include \"textflag.h\"\n\n")
	gemmKernel("kernelNEON", 2, 3, 4)
	vecOps()
	if err := os.WriteFile("kernel_arm64.s", []byte(w.String()), 0o644); err != nil {
		panic(err)
	}
}

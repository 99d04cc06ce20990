//go:build ignore

// gen_asm writes kernel_amd64.s: go run gen_asm.go
package main

import (
	"fmt"
	"os"
	"strings"
)

var w strings.Builder

func p(format string, args ...any) { fmt.Fprintf(&w, "\t"+format+"\n", args...) }
func label(l string)               { fmt.Fprintf(&w, "%s:\n", l) }

// gemmKernel emits an mr×(nv·lanes) micro-kernel with A broadcast, B loaded
// as nv vectors and mr·nv accumulators.
//
//	reg: "Z" or "Y"; lanes: 16 or 8.
func gemmKernel(name, reg string, lanes, mr, nv, unroll int, prefetchB int) {
	nr := nv * lanes
	vbytes := lanes * 4
	nacc := mr * nv
	breg := func(v int) string { return fmt.Sprintf("%s%d", reg, nacc+v) }
	bc := func(i int) string { return fmt.Sprintf("%s%d", reg, nacc+nv+i%2) }
	acc := func(i, v int) string { return fmt.Sprintf("%s%d", reg, i*nv+v) }
	fmt.Fprintf(&w, "// func %s(kc int, a, b, c *float32, ldc int, alpha, beta float32)\n", name)
	fmt.Fprintf(&w, "// Register tile %d×%d.\n", mr, nr)
	fmt.Fprintf(&w, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	p("MOVQ kc+0(FP), CX")
	p("MOVQ a+8(FP), AX")
	p("MOVQ b+16(FP), BX")
	p("MOVQ c+24(FP), DI")
	p("MOVQ ldc+32(FP), R8")
	p("SHLQ $2, R8")
	for i := 0; i < nacc; i++ {
		r := fmt.Sprintf("%s%d", reg, i)
		if reg == "Z" {
			p("VPXORD %s, %s, %s", r, r, r)
		} else {
			p("VXORPS %s, %s, %s", r, r, r)
		}
	}
	// Prefetch the C tile.
	p("MOVQ DI, R9")
	for i := 0; i < mr; i++ {
		p("PREFETCHT0 (R9)")
		p("PREFETCHT0 %d(R9)", nr*4-4)
		p("ADDQ R8, R9")
	}
	step := func(u int) {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %d(BX), %s", u*nr*4+v*vbytes, breg(v))
		}
		if prefetchB > 0 {
			p("PREFETCHT0 %d(BX)", u*nr*4+prefetchB)
		}
		for i := 0; i < mr; i++ {
			p("VBROADCASTSS %d(AX), %s", u*mr*4+i*4, bc(i))
			for v := 0; v < nv; v++ {
				p("VFMADD231PS %s, %s, %s", bc(i), breg(v), acc(i, v))
			}
		}
	}
	p("MOVQ CX, DX")
	p("SHRQ $%d, DX", log2(unroll))
	p("JZ %s_tail", name)
	label(name + "_loop")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	p("ADDQ $%d, AX", unroll*mr*4)
	p("ADDQ $%d, BX", unroll*nr*4)
	p("DECQ DX")
	p("JNZ %s_loop", name)
	label(name + "_tail")
	p("ANDQ $%d, CX", unroll-1)
	p("JZ %s_done", name)
	label(name + "_loop1")
	step(0)
	p("ADDQ $%d, AX", mr*4)
	p("ADDQ $%d, BX", nr*4)
	p("DECQ CX")
	p("JNZ %s_loop1", name)
	label(name + "_done")
	alpha, beta := breg(0), breg(1)
	p("VBROADCASTSS alpha+40(FP), %s", alpha)
	for i := 0; i < nacc; i++ {
		r := fmt.Sprintf("%s%d", reg, i)
		p("VMULPS %s, %s, %s", alpha, r, r)
	}
	p("MOVL beta+44(FP), DX")
	p("SHLL $1, DX") // ignore the sign: -0 counts as 0
	p("JZ %s_nobeta", name)
	p("VBROADCASTSS beta+44(FP), %s", beta)
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VFMADD231PS %d(DI), %s, %s", v*vbytes, beta, acc(i, v))
			p("VMOVUPS %s, %d(DI)", acc(i, v), v*vbytes)
		}
		if i < mr-1 {
			p("ADDQ R8, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_nobeta")
	for i := 0; i < mr; i++ {
		for v := 0; v < nv; v++ {
			p("VMOVUPS %s, %d(DI)", acc(i, v), v*vbytes)
		}
		if i < mr-1 {
			p("ADDQ R8, DI")
		}
	}
	p("VZEROUPPER")
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

// vecOps512 emits dot/axpy/scale with AVX-512 and masked tails, so every
// element is handled by the same fused operation wherever it sits.
func vecOps512() {
	w.WriteString(`// func dotAVX512(a, b []float32) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ b_base+24(FP), DI
	MOVQ a_len+8(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ CX, $64
	JLT dot512_16
dot512_64:
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	CMPQ CX, $64
	JGE dot512_64
dot512_16:
	CMPQ CX, $16
	JLT dot512_tail
	VMOVUPS (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP dot512_16
dot512_tail:
	TESTQ CX, CX
	JZ dot512_reduce
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z1
dot512_reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX512(alpha float32, x, y []float32)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ y_base+32(FP), DI
	CMPQ CX, $64
	JLT axpy512_16
axpy512_64:
	VMOVUPS (SI), Z1
	VMOVUPS 64(SI), Z2
	VMOVUPS 128(SI), Z3
	VMOVUPS 192(SI), Z4
	VFMADD213PS (DI), Z0, Z1
	VFMADD213PS 64(DI), Z0, Z2
	VFMADD213PS 128(DI), Z0, Z3
	VFMADD213PS 192(DI), Z0, Z4
	VMOVUPS Z1, (DI)
	VMOVUPS Z2, 64(DI)
	VMOVUPS Z3, 128(DI)
	VMOVUPS Z4, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	CMPQ CX, $64
	JGE axpy512_64
axpy512_16:
	CMPQ CX, $16
	JLT axpy512_tail
	VMOVUPS (SI), Z1
	VFMADD213PS (DI), Z0, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP axpy512_16
axpy512_tail:
	TESTQ CX, CX
	JZ axpy512_done
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS.Z (DI), K1, Z2
	VFMADD213PS Z2, Z0, Z1
	VMOVUPS Z1, K1, (DI)
axpy512_done:
	VZEROUPPER
	RET

// func scaleAVX512(alpha float32, x []float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ x_base+8(FP), DI
	MOVQ x_len+16(FP), CX
scale512_16:
	CMPQ CX, $16
	JLT scale512_tail
	VMULPS (DI), Z0, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JMP scale512_16
scale512_tail:
	TESTQ CX, CX
	JZ scale512_done
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (DI), K1, Z1
	VMULPS Z1, Z0, Z1
	VMOVUPS Z1, K1, (DI)
scale512_done:
	VZEROUPPER
	RET

`)
}

// vecOps256 emits AVX2/FMA dot/axpy/scale; scalar tails use the same fused
// scalar operations (VFMADD*SS) as the vector body.
func vecOps256() {
	w.WriteString(`// func dotAVX2(a, b []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ b_base+24(FP), DI
	MOVQ a_len+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JLT dot256_8
dot256_32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE dot256_32
dot256_8:
	CMPQ CX, $8
	JLT dot256_reduce
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP dot256_8
dot256_reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
dot256_tail:
	TESTQ CX, CX
	JZ dot256_done
	VMOVSS (SI), X4
	VFMADD231SS (DI), X4, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP dot256_tail
dot256_done:
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ y_base+32(FP), DI
	CMPQ CX, $32
	JLT axpy256_8
axpy256_32:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VFMADD213PS (DI), Y0, Y1
	VFMADD213PS 32(DI), Y0, Y2
	VFMADD213PS 64(DI), Y0, Y3
	VFMADD213PS 96(DI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE axpy256_32
axpy256_8:
	CMPQ CX, $8
	JLT axpy256_tail
	VMOVUPS (SI), Y1
	VFMADD213PS (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP axpy256_8
axpy256_tail:
	TESTQ CX, CX
	JZ axpy256_done
	VMOVSS (SI), X1
	VFMADD213SS (DI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP axpy256_tail
axpy256_done:
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x_base+8(FP), DI
	MOVQ x_len+16(FP), CX
scale256_8:
	CMPQ CX, $8
	JLT scale256_tail
	VMULPS (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JMP scale256_8
scale256_tail:
	TESTQ CX, CX
	JZ scale256_done
	VMULSS (DI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, DI
	DECQ CX
	JMP scale256_tail
scale256_done:
	VZEROUPPER
	RET

`)
}

// dot4 emits dot4AVX512: out[r] = Dot(a_r, b) for four rows a_r sharing b,
// with exactly the accumulation order of dotAVX512 so that every output is
// bit-identical to a single Dot call.
func dot4() {
	w.WriteString("// func dot4AVX512(a0, a1, a2, a3, b *float32, n int, out *[4]float32)\n")
	w.WriteString("TEXT ·dot4AVX512(SB), NOSPLIT, $0-56\n")
	rows := []string{"R10", "R11", "R12", "R13"}
	for r, reg := range rows {
		p("MOVQ a%d+%d(FP), %s", r, r*8, reg)
	}
	p("MOVQ b+32(FP), SI")
	p("MOVQ n+40(FP), CX")
	p("MOVQ out+48(FP), DI")
	acc := func(r, j int) string { return fmt.Sprintf("Z%d", r*4+j) }
	for i := 0; i < 16; i++ {
		p("VPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("CMPQ CX, $64")
	p("JLT dot4_16")
	label("dot4_64")
	for j := 0; j < 4; j++ {
		p("VMOVUPS %d(SI), Z%d", j*64, 16+j)
	}
	for r, reg := range rows {
		for j := 0; j < 4; j++ {
			p("VFMADD231PS %d(%s), Z%d, %s", j*64, reg, 16+j, acc(r, j))
		}
	}
	p("ADDQ $256, SI")
	for _, reg := range rows {
		p("ADDQ $256, %s", reg)
	}
	p("SUBQ $64, CX")
	p("CMPQ CX, $64")
	p("JGE dot4_64")
	label("dot4_16")
	p("CMPQ CX, $16")
	p("JLT dot4_tail")
	p("VMOVUPS (SI), Z16")
	for r, reg := range rows {
		p("VFMADD231PS (%s), Z16, %s", reg, acc(r, 0))
	}
	p("ADDQ $64, SI")
	for _, reg := range rows {
		p("ADDQ $64, %s", reg)
	}
	p("SUBQ $16, CX")
	p("JMP dot4_16")
	label("dot4_tail")
	p("TESTQ CX, CX")
	p("JZ dot4_reduce")
	p("MOVL $1, DX")
	p("SHLL CX, DX")
	p("DECL DX")
	p("KMOVW DX, K1")
	p("VMOVUPS.Z (SI), K1, Z16")
	for r, reg := range rows {
		p("VMOVUPS.Z (%s), K1, Z17", reg)
		p("VFMADD231PS Z16, Z17, %s", acc(r, 1))
	}
	label("dot4_reduce")
	for r := range rows {
		a0, a1, a2, a3 := r*4, r*4+1, r*4+2, r*4+3
		p("VADDPS Z%d, Z%d, Z%d", a1, a0, a0)
		p("VADDPS Z%d, Z%d, Z%d", a3, a2, a2)
		p("VADDPS Z%d, Z%d, Z%d", a2, a0, a0)
		p("VEXTRACTF64X4 $1, Z%d, Y%d", a0, a1)
		p("VADDPS Y%d, Y%d, Y%d", a1, a0, a0)
		p("VEXTRACTF128 $1, Y%d, X%d", a0, a1)
		p("VADDPS X%d, X%d, X%d", a1, a0, a0)
		p("VMOVHLPS X%d, X%d, X%d", a0, a0, a1)
		p("VADDPS X%d, X%d, X%d", a1, a0, a0)
		p("VMOVSHDUP X%d, X%d", a0, a1)
		p("VADDSS X%d, X%d, X%d", a1, a0, a0)
		p("VMOVSS X%d, %d(DI)", a0, r*4)
	}
	p("VZEROUPPER")
	p("RET")
	w.WriteString("\n")
}

func main() {
	w.WriteString("// Code generated by gen_asm.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n\n")
	gemmKernel("kernelAVX512", "Z", 16, 12, 2, 4, 0)
	gemmKernel("kernelAVX2", "Y", 8, 6, 2, 4, 0)
	vecOps512()
	dot4()
	vecOps256()
	if err := os.WriteFile("kernel_amd64.s", []byte(w.String()), 0o644); err != nil {
		panic(err)
	}
}

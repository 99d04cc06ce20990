// AVX-512 kernels of decode attention over fp32 rows (an F32 cache, or
// rows of a Q8_0 cache widened into a small buffer): dot products of query
// heads with key rows, and weighted sums of value rows. As the fp16 kernels
// (f16_amd64.s), with the row stride of s and p (ls) separate from the row
// count n, so a caller can run them on a block of rows at a time.

//go:build amd64 && !purego

#include "textflag.h"

// func dotsF32x1(s, q *float32, k *float32, stride, n, d, ls int)
// s[r·ls+t] = q[r·d : r·d+d] · k[t·stride : t·stride+d] for r < 1, t < n; d % 16 == 0.
TEXT ·dotsF32x1(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R9
	MOVQ ls+48(FP), R10
	SHLQ $2, R10
	MOVQ R9, R11
	SHLQ $2, R11
	XORQ BX, BX
f32dloop_t1:
	CMPQ BX, CX
	JGE f32ddone1
	VXORPS Z0, Z0, Z0
	XORQ AX, AX
f32dloop_j1:
	CMPQ AX, R9
	JGE f32dred1
	VMOVUPS (DX)(AX*4), Z8
	VFMADD231PS (SI)(AX*4), Z8, Z0
	ADDQ $16, AX
	JMP f32dloop_j1
f32dred1:
	VEXTRACTF64X4 $1, Z0, Y14
	VADDPS Y14, Y0, Y0
	VEXTRACTF128 $1, Y0, X14
	VADDPS X14, X0, X0
	VMOVHLPS X0, X0, X14
	VADDPS X14, X0, X0
	VMOVSHDUP X0, X14
	VADDSS X14, X0, X0
	VMOVSS X0, (DI)
	ADDQ $4, DI
	ADDQ R8, DX
	INCQ BX
	JMP f32dloop_t1
f32ddone1:
	VZEROUPPER
	RET

// func dotsF32x2(s, q *float32, k *float32, stride, n, d, ls int)
// s[r·ls+t] = q[r·d : r·d+d] · k[t·stride : t·stride+d] for r < 2, t < n; d % 16 == 0.
TEXT ·dotsF32x2(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R9
	MOVQ ls+48(FP), R10
	SHLQ $2, R10
	MOVQ R9, R11
	SHLQ $2, R11
	LEAQ (SI)(R11*1), R12
	XORQ BX, BX
f32dloop_t2:
	CMPQ BX, CX
	JGE f32ddone2
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	XORQ AX, AX
f32dloop_j2:
	CMPQ AX, R9
	JGE f32dred2
	VMOVUPS (DX)(AX*4), Z8
	VFMADD231PS (SI)(AX*4), Z8, Z0
	VFMADD231PS (R12)(AX*4), Z8, Z1
	ADDQ $16, AX
	JMP f32dloop_j2
f32dred2:
	VEXTRACTF64X4 $1, Z0, Y14
	VADDPS Y14, Y0, Y0
	VEXTRACTF128 $1, Y0, X14
	VADDPS X14, X0, X0
	VMOVHLPS X0, X0, X14
	VADDPS X14, X0, X0
	VMOVSHDUP X0, X14
	VADDSS X14, X0, X0
	VMOVSS X0, (DI)
	VEXTRACTF64X4 $1, Z1, Y14
	VADDPS Y14, Y1, Y1
	VEXTRACTF128 $1, Y1, X14
	VADDPS X14, X1, X1
	VMOVHLPS X1, X1, X14
	VADDPS X14, X1, X1
	VMOVSHDUP X1, X14
	VADDSS X14, X1, X1
	VMOVSS X1, (DI)(R10*1)
	ADDQ $4, DI
	ADDQ R8, DX
	INCQ BX
	JMP f32dloop_t2
f32ddone2:
	VZEROUPPER
	RET

// func dotsF32x4(s, q *float32, k *float32, stride, n, d, ls int)
// s[r·ls+t] = q[r·d : r·d+d] · k[t·stride : t·stride+d] for r < 4, t < n; d % 16 == 0.
TEXT ·dotsF32x4(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R9
	MOVQ ls+48(FP), R10
	SHLQ $2, R10
	MOVQ R9, R11
	SHLQ $2, R11
	LEAQ (SI)(R11*1), R12
	LEAQ (R12)(R11*1), R14
	LEAQ (R14)(R11*1), R15
	LEAQ (R10)(R10*2), R11
	XORQ BX, BX
f32dloop_t4:
	CMPQ BX, CX
	JGE f32ddone4
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX
f32dloop_j4:
	CMPQ AX, R9
	JGE f32dred4
	VMOVUPS (DX)(AX*4), Z8
	VFMADD231PS (SI)(AX*4), Z8, Z0
	VFMADD231PS (R12)(AX*4), Z8, Z1
	VFMADD231PS (R14)(AX*4), Z8, Z2
	VFMADD231PS (R15)(AX*4), Z8, Z3
	ADDQ $16, AX
	JMP f32dloop_j4
f32dred4:
	VEXTRACTF64X4 $1, Z0, Y14
	VADDPS Y14, Y0, Y0
	VEXTRACTF128 $1, Y0, X14
	VADDPS X14, X0, X0
	VMOVHLPS X0, X0, X14
	VADDPS X14, X0, X0
	VMOVSHDUP X0, X14
	VADDSS X14, X0, X0
	VMOVSS X0, (DI)
	VEXTRACTF64X4 $1, Z1, Y14
	VADDPS Y14, Y1, Y1
	VEXTRACTF128 $1, Y1, X14
	VADDPS X14, X1, X1
	VMOVHLPS X1, X1, X14
	VADDPS X14, X1, X1
	VMOVSHDUP X1, X14
	VADDSS X14, X1, X1
	VMOVSS X1, (DI)(R10*1)
	VEXTRACTF64X4 $1, Z2, Y14
	VADDPS Y14, Y2, Y2
	VEXTRACTF128 $1, Y2, X14
	VADDPS X14, X2, X2
	VMOVHLPS X2, X2, X14
	VADDPS X14, X2, X2
	VMOVSHDUP X2, X14
	VADDSS X14, X2, X2
	VMOVSS X2, (DI)(R10*2)
	VEXTRACTF64X4 $1, Z3, Y14
	VADDPS Y14, Y3, Y3
	VEXTRACTF128 $1, Y3, X14
	VADDPS X14, X3, X3
	VMOVHLPS X3, X3, X14
	VADDPS X14, X3, X3
	VMOVSHDUP X3, X14
	VADDSS X14, X3, X3
	VMOVSS X3, (DI)(R11*1)
	ADDQ $4, DI
	ADDQ R8, DX
	INCQ BX
	JMP f32dloop_t4
f32ddone4:
	VZEROUPPER
	RET

// func axpysF32x1(out, p *float32, v *float32, stride, n, d, ls int)
// out[r·d : r·d+d] += Σ_{t<n} p[r·ls+t] · v[t·stride : t·stride+d] for r < 1; d % 32 == 0.
TEXT ·axpysF32x1(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R9
	MOVQ ls+48(FP), R10
	SHLQ $2, R10
	MOVQ R9, R11
	SHLQ $2, R11
	XORQ AX, AX
f32aloop_j1:
	CMPQ AX, R9
	JGE f32adone1
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	LEAQ (DX)(AX*4), R13
	XORQ BX, BX
f32aloop_t1:
	CMPQ BX, CX
	JGE f32astore1
	VMOVUPS (R13), Z8
	VMOVUPS 64(R13), Z9
	VBROADCASTSS (SI)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z0
	VFMADD231PS Z9, Z10, Z1
	ADDQ R8, R13
	INCQ BX
	JMP f32aloop_t1
f32astore1:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $128, DI
	ADDQ $32, AX
	JMP f32aloop_j1
f32adone1:
	VZEROUPPER
	RET

// func axpysF32x2(out, p *float32, v *float32, stride, n, d, ls int)
// out[r·d : r·d+d] += Σ_{t<n} p[r·ls+t] · v[t·stride : t·stride+d] for r < 2; d % 32 == 0.
TEXT ·axpysF32x2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R9
	MOVQ ls+48(FP), R10
	SHLQ $2, R10
	MOVQ R9, R11
	SHLQ $2, R11
	LEAQ (SI)(R10*1), R12
	XORQ AX, AX
f32aloop_j2:
	CMPQ AX, R9
	JGE f32adone2
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS (DI)(R11*1), Z2
	VMOVUPS 64(DI)(R11*1), Z3
	LEAQ (DX)(AX*4), R13
	XORQ BX, BX
f32aloop_t2:
	CMPQ BX, CX
	JGE f32astore2
	VMOVUPS (R13), Z8
	VMOVUPS 64(R13), Z9
	VBROADCASTSS (SI)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z0
	VFMADD231PS Z9, Z10, Z1
	VBROADCASTSS (R12)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z2
	VFMADD231PS Z9, Z10, Z3
	ADDQ R8, R13
	INCQ BX
	JMP f32aloop_t2
f32astore2:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, (DI)(R11*1)
	VMOVUPS Z3, 64(DI)(R11*1)
	ADDQ $128, DI
	ADDQ $32, AX
	JMP f32aloop_j2
f32adone2:
	VZEROUPPER
	RET

// func axpysF32x4(out, p *float32, v *float32, stride, n, d, ls int)
// out[r·d : r·d+d] += Σ_{t<n} p[r·ls+t] · v[t·stride : t·stride+d] for r < 4; d % 32 == 0.
TEXT ·axpysF32x4(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ d+40(FP), R9
	MOVQ ls+48(FP), R10
	SHLQ $2, R10
	MOVQ R9, R11
	SHLQ $2, R11
	LEAQ (SI)(R10*1), R12
	LEAQ (R12)(R10*1), R14
	LEAQ (R14)(R10*1), R15
	LEAQ (R11)(R11*2), R10
	XORQ AX, AX
f32aloop_j4:
	CMPQ AX, R9
	JGE f32adone4
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS (DI)(R11*1), Z2
	VMOVUPS 64(DI)(R11*1), Z3
	VMOVUPS (DI)(R11*2), Z4
	VMOVUPS 64(DI)(R11*2), Z5
	VMOVUPS (DI)(R10*1), Z6
	VMOVUPS 64(DI)(R10*1), Z7
	LEAQ (DX)(AX*4), R13
	XORQ BX, BX
f32aloop_t4:
	CMPQ BX, CX
	JGE f32astore4
	VMOVUPS (R13), Z8
	VMOVUPS 64(R13), Z9
	VBROADCASTSS (SI)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z0
	VFMADD231PS Z9, Z10, Z1
	VBROADCASTSS (R12)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z2
	VFMADD231PS Z9, Z10, Z3
	VBROADCASTSS (R14)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z4
	VFMADD231PS Z9, Z10, Z5
	VBROADCASTSS (R15)(BX*4), Z10
	VFMADD231PS Z8, Z10, Z6
	VFMADD231PS Z9, Z10, Z7
	ADDQ R8, R13
	INCQ BX
	JMP f32aloop_t4
f32astore4:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, (DI)(R11*1)
	VMOVUPS Z3, 64(DI)(R11*1)
	VMOVUPS Z4, (DI)(R11*2)
	VMOVUPS Z5, 64(DI)(R11*2)
	VMOVUPS Z6, (DI)(R10*1)
	VMOVUPS Z7, 64(DI)(R10*1)
	ADDQ $128, DI
	ADDQ $32, AX
	JMP f32aloop_j4
f32adone4:
	VZEROUPPER
	RET

// func widenQ8(dst *float32, src *byte, stride, rows, blocks int)
// dst[r·32·blocks + i] = the Q8_0 value i of the blocks at src + r·stride
// (an f16 scale and 32 int8 each, 34 bytes), for r < rows; exactly as
// quant.DequantizeQ8_0 (the int8 times the widened scale, exact in fp32).
TEXT ·widenQ8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ stride+16(FP), R8
	MOVQ rows+24(FP), CX
	MOVQ blocks+32(FP), R9
wrow:
	TESTQ CX, CX
	JZ wdone
	MOVQ SI, DX
	MOVQ R9, BX
wblk:
	VPBROADCASTW (DX), Y0
	VCVTPH2PS Y0, Z0
	VPMOVSXBD 2(DX), Z1
	VPMOVSXBD 18(DX), Z2
	VCVTDQ2PS Z1, Z1
	VCVTDQ2PS Z2, Z2
	VMULPS Z0, Z1, Z1
	VMULPS Z0, Z2, Z2
	VMOVUPS Z1, (DI)
	VMOVUPS Z2, 64(DI)
	ADDQ $34, DX
	ADDQ $128, DI
	DECQ BX
	JNZ wblk
	ADDQ R8, SI
	DECQ CX
	JMP wrow
wdone:
	VZEROUPPER
	RET

// AVX-512 kernels of decode attention over fp32 rows (an F32 cache, or
// rows of a Q8_0 cache widened into a small buffer): weighted sums of value
// rows (the dot products are in dots_amd64.s), and the Q8_0 widening. As
// the fp16 kernels (f16_amd64.s), with the row stride of p (ls) separate
// from the row count n, so a caller can run them on a block of rows at a
// time.

//go:build amd64 && !purego

#include "textflag.h"

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
	PREFETCHT0 (R13)(R8*8)
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
	PREFETCHT0 (R13)(R8*8)
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
	PREFETCHT0 (R13)(R8*8)
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

// func axpysF32d128x2(out, p *float32, v *float32, stride, n, ls int)
// axpysF32x2 for d = 128 in one pass over the value rows: each row's 128
// values are loaded once and added into both output rows, held in Z0–Z15.
TEXT ·axpysF32d128x2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), CX
	MOVQ ls+40(FP), R10
	SHLQ $2, R10
	LEAQ (SI)(R10*1), R12
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS 256(DI), Z4
	VMOVUPS 320(DI), Z5
	VMOVUPS 384(DI), Z6
	VMOVUPS 448(DI), Z7
	VMOVUPS 512(DI), Z8
	VMOVUPS 576(DI), Z9
	VMOVUPS 640(DI), Z10
	VMOVUPS 704(DI), Z11
	VMOVUPS 768(DI), Z12
	VMOVUPS 832(DI), Z13
	VMOVUPS 896(DI), Z14
	VMOVUPS 960(DI), Z15
	XORQ BX, BX
f32a128loop:
	CMPQ BX, CX
	JGE f32a128done
	PREFETCHT0 (DX)(R8*8)
	PREFETCHT0 64(DX)(R8*8)
	PREFETCHT0 128(DX)(R8*8)
	PREFETCHT0 192(DX)(R8*8)
	PREFETCHT0 256(DX)(R8*8)
	PREFETCHT0 320(DX)(R8*8)
	PREFETCHT0 384(DX)(R8*8)
	PREFETCHT0 448(DX)(R8*8)
	VMOVUPS (DX), Z16
	VMOVUPS 64(DX), Z17
	VMOVUPS 128(DX), Z18
	VMOVUPS 192(DX), Z19
	VMOVUPS 256(DX), Z20
	VMOVUPS 320(DX), Z21
	VMOVUPS 384(DX), Z22
	VMOVUPS 448(DX), Z23
	VBROADCASTSS (SI)(BX*4), Z24
	VBROADCASTSS (R12)(BX*4), Z25
	VFMADD231PS Z16, Z24, Z0
	VFMADD231PS Z17, Z24, Z1
	VFMADD231PS Z18, Z24, Z2
	VFMADD231PS Z19, Z24, Z3
	VFMADD231PS Z20, Z24, Z4
	VFMADD231PS Z21, Z24, Z5
	VFMADD231PS Z22, Z24, Z6
	VFMADD231PS Z23, Z24, Z7
	VFMADD231PS Z16, Z25, Z8
	VFMADD231PS Z17, Z25, Z9
	VFMADD231PS Z18, Z25, Z10
	VFMADD231PS Z19, Z25, Z11
	VFMADD231PS Z20, Z25, Z12
	VFMADD231PS Z21, Z25, Z13
	VFMADD231PS Z22, Z25, Z14
	VFMADD231PS Z23, Z25, Z15
	ADDQ R8, DX
	INCQ BX
	JMP f32a128loop
f32a128done:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	VMOVUPS Z8, 512(DI)
	VMOVUPS Z9, 576(DI)
	VMOVUPS Z10, 640(DI)
	VMOVUPS Z11, 704(DI)
	VMOVUPS Z12, 768(DI)
	VMOVUPS Z13, 832(DI)
	VMOVUPS Z14, 896(DI)
	VMOVUPS Z15, 960(DI)
	VZEROUPPER
	RET

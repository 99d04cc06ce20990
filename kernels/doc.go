// Package kernels owns matrix products against weights in their stored type:
// y[n×rows] = x[n×cols]·Wᵀ where W is F32, F16, BF16 (safetensors or GGUF,
// row-major) or a GGUF block-quantized type (Q8_0, Q4_0, Q4_K, Q6_K, blocks
// laid out exactly as ggml stores them), read in place from memory-mapped
// bytes without an fp32 copy.
//
// Two modes:
//
//   - Exact: fp32 arithmetic with every weight widened to fp32 inside the
//     kernel, exactly as package quant decodes it, then package sgemm's
//     kernels in their order: the result is bit for bit sgemm's product with
//     the widened F32 matrix, whatever the stored type.
//   - Fast: what llama.cpp computes. BF16 weights meet activations rounded to
//     bf16 (products exact, sums in fp32); Q8_0 and Q4_0 weights meet
//     activations quantized per 32-block to Q8_0, Q4_K and Q6_K weights meet
//     activations quantized per 256-block to Q8_K, with integer dot products
//     inside each block; F32 and F16 weights are widened to fp32 as in Exact
//     mode (F16 decode through its own fused GEMV kernel).
//
// On amd64 the inner loops are Go assembly (AVX-512 VNNI / AVX512_BF16 /
// AVX2, chosen at run time); on arm64 NEON, with SDOT for the quantized GEMV
// where the CPU has dotprod (ARMv8.2), the GEMVs summing in the portable
// kernels' order and so matching them bit for bit; elsewhere, or with the
// purego build tag, portable Go with the same semantics runs: integer block
// sums are bit-identical between all of them, and so is every result whose
// block scales make the fp32 arithmetic exact.
//
// Decode (few activation rows) runs GEMV kernels that stream W one row at a
// time; prefill runs packed GEMM micro-kernels (VDPBF16PS for BF16, VPDPBUSD
// for the quantized types), whose fp32 summation order differs from the
// GEMV's. Work is split across at most the caller's thread count of
// goroutines over the rows of W only, never over the reduction dimension, so
// results do not depend on the thread count.
package kernels

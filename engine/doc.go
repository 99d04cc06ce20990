// Package engine runs Qwen2/Qwen3 decoders on the CPU in fp32: batched
// prefill through the sgemm GEMMs, token-by-token decode through a KV cache
// laid out per the model's attention layout (cross-layer K/V sharing,
// looped blocks and Depth-Attention value mixing), and sampling helpers for
// generation.
package engine

// Package finetune uptrains a retrofitted model on the CPU: a training
// forward that keeps the activations backward needs (a tape), hand-written
// backward passes for every op (embedding, RMSNorm, linear with bias, q/k
// norm, RoPE, GQA causal attention with cross-layer K/V, Depth-Attention
// value mixing, looped blocks, SwiGLU, tied head, cross-entropy and
// distillation), AdamW with warmup + cosine decay, gradient clipping and
// accumulation, data packing, exact-resume checkpoints, metrics and a plot.
//
// All matmuls go through sgemm and the per-vector math (norms, RoPE,
// softmax, SiLU, the Depth-Attention mix and their backward pieces) through
// internal/numerics, the engine's own; parallel loops partition work
// statically, so the same seed and data give the same loss curve bit for bit.
//
// Loss (documented formula): with student logits z, teacher logits u,
// temperature T and weight w, per predicted token
//
//	loss = (1−w)·CE(z, y) + w·T²·KL(softmax(u/T) ‖ softmax(z/T))
//
// averaged over the predicted tokens of the optimizer step. With w = 0 (or no
// teacher) it is plain next-token cross-entropy.
package finetune

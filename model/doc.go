// Package model is retrofit's common intermediate representation of a decoder LLM:
// the hyper-parameters (Config), the per-layer attention layout that transforms
// rewrite (Layout), the named tensors read lazily from their file (Tensor), the
// tokenizer as a runtime sees it (Vocab), side files carried from the checkpoint,
// and the provenance of every transform applied.
//
// Loaders produce a *Model, transforms rewrite it, the engine runs it and the
// exporters write it. Tensor names and shapes always follow the Hugging Face
// convention (e.g. "model.layers.3.self_attn.q_proj.weight" with shape [out, in]),
// whatever the file format they came from.
package model

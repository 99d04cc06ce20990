// Package tokenizer is a pure-Go byte-level BPE tokenizer that reproduces
// Hugging Face tokenizers for Qwen-style tokenizer.json files (NFC normalizer,
// the Qwen Split regex, ByteLevel, BPE by merge rank, ByteLevel decoder) and
// for the same tokenizer stored as GGUF tokenizer.ggml.* metadata.
package tokenizer

package model

import (
	"strconv"
	"strings"
)

// ggufBlockNames maps the per-block HF suffixes to llama.cpp's GGUF suffixes.
var ggufBlockNames = [][2]string{
	{"input_layernorm.weight", "attn_norm.weight"},
	{"post_attention_layernorm.weight", "ffn_norm.weight"},
	{"self_attn.q_proj.weight", "attn_q.weight"},
	{"self_attn.q_proj.bias", "attn_q.bias"},
	{"self_attn.k_proj.weight", "attn_k.weight"},
	{"self_attn.k_proj.bias", "attn_k.bias"},
	{"self_attn.v_proj.weight", "attn_v.weight"},
	{"self_attn.v_proj.bias", "attn_v.bias"},
	{"self_attn.o_proj.weight", "attn_output.weight"},
	{"self_attn.o_proj.bias", "attn_output.bias"},
	{"self_attn.q_norm.weight", "attn_q_norm.weight"},
	{"self_attn.k_norm.weight", "attn_k_norm.weight"},
	{"mlp.gate_proj.weight", "ffn_gate.weight"},
	{"mlp.up_proj.weight", "ffn_up.weight"},
	{"mlp.down_proj.weight", "ffn_down.weight"},
}

var ggufGlobalNames = [][2]string{
	{EmbedName, "token_embd.weight"},
	{FinalNormName, "output_norm.weight"},
	{HeadName, "output.weight"},
}

// GGUFName returns llama.cpp's GGUF name of an HF tensor name
// ("model.layers.3.self_attn.q_proj.weight" → "blk.3.attn_q.weight").
func GGUFName(hf string) (string, bool) {
	return translate(hf, "model.layers.", "blk.", 0)
}

// HFName returns the HF name of a GGUF tensor name (the inverse of GGUFName).
func HFName(gguf string) (string, bool) {
	return translate(gguf, "blk.", "model.layers.", 1)
}

func translate(name, fromPrefix, toPrefix string, from int) (string, bool) {
	to := 1 - from
	for _, p := range ggufGlobalNames {
		if name == p[from] {
			return p[to], true
		}
	}
	rest, ok := strings.CutPrefix(name, fromPrefix)
	if !ok {
		return "", false
	}
	num, suffix, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return "", false
	}
	for _, p := range ggufBlockNames {
		if suffix == p[from] {
			return toPrefix + num + "." + p[to], true
		}
	}
	return "", false
}

// GGUFArchSuffix marks the GGUF architecture of a transformed model
// ("qwen3-retrofit"): stock llama.cpp does not know it and refuses the file
// instead of running it as the original model; llama.cpp patched with
// runtimes/llama.cpp registers it.
const GGUFArchSuffix = "-retrofit"

// GGUFArch is the general.architecture of a model of family with layout:
// the family for a stock layout, family+GGUFArchSuffix otherwise.
func GGUFArch(family string, layout Layout) string {
	if layout.IsDefault() {
		return family
	}
	return family + GGUFArchSuffix
}

// GGUFFamily returns the family of a GGUF architecture ("qwen3" for "qwen3"
// and "qwen3-retrofit"), false for architectures retrofit does not read.
func GGUFFamily(arch string) (string, bool) {
	f := strings.TrimSuffix(arch, GGUFArchSuffix)
	return f, f == "qwen2" || f == "qwen3"
}

package export

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/model"
)

// GGUF layout keys of transformed models (read back by loaders/gguf).
const (
	ggufKeyKVSource    = "retrofit.kv_source"
	ggufKeyDepthMix    = "retrofit.depth_mix"
	ggufKeyDepthStride = "retrofit.depth_stride"
	ggufKeyDepthWindow = "retrofit.depth_window"
	ggufKeyLayerMap    = "retrofit.layer_map"
	ggufKeyTransforms  = "retrofit.transforms"
	// Only while a Depth-Attention warm start still anneals its bias.
	ggufKeyDepthSelfBias = "retrofit.depth_self_bias"
)

// ggufMetadata builds the key/value pairs in llama.cpp's order: general.*,
// the <arch>.* hyper-parameters, file type, tokenizer, then retrofit.*.
func ggufMetadata(m *model.Model, layout model.Layout, dt model.DType, params int64) ([]gguf.KV, error) {
	c := m.Config
	arch := model.GGUFArch(c.Family, layout)
	var kv []gguf.KV
	add := func(k string, v gguf.Value) { kv = append(kv, gguf.KV{Key: k, Value: v}) }
	u32 := func(k string, n int) { add(arch+"."+k, gguf.Uint32(uint32(n))) }
	add("general.architecture", gguf.String(arch))
	add("general.type", gguf.String("model"))
	if name := ggufModelName(m.Path); name != "" {
		add("general.name", gguf.String(name))
	}
	add("general.size_label", gguf.String(sizeLabel(params)))
	if arch != c.Family {
		add("general.description", gguf.String(ggufDescription))
	}
	u32("block_count", c.Layers)
	if c.MaxPositions > 0 {
		u32("context_length", c.MaxPositions)
	}
	u32("embedding_length", c.Hidden)
	u32("feed_forward_length", c.Intermediate)
	u32("attention.head_count", c.Heads)
	u32("attention.head_count_kv", c.KVHeads)
	add(arch+".rope.freq_base", gguf.Float32(float32(c.RopeTheta)))
	add(arch+".attention.layer_norm_rms_epsilon", gguf.Float32(float32(c.RMSEps)))
	if writesHeadDim(c) {
		u32("attention.key_length", c.HeadDim)
		u32("attention.value_length", c.HeadDim)
	}
	add("general.file_type", gguf.Uint32(ggufFileType[dt]))
	add("general.quantization_version", gguf.Uint32(2))
	tok, err := ggufTokenizer(m)
	if err != nil {
		return nil, err
	}
	kv = append(kv, tok...)
	if !layout.IsDefault() || len(m.Provenance) > 0 {
		ints := func(a []int) gguf.Value {
			out := make([]int32, len(a))
			for i, x := range a {
				out[i] = int32(x)
			}
			return gguf.Int32s(out)
		}
		add(ggufKeyKVSource, ints(layout.KVSource))
		add(ggufKeyDepthMix, gguf.Bools(append([]bool(nil), layout.DepthMix...)))
		add(ggufKeyDepthStride, gguf.Uint32(uint32(layout.DepthStride)))
		add(ggufKeyDepthWindow, gguf.Uint32(uint32(layout.DepthWindow)))
		if layout.DepthSelfBias != 0 {
			add(ggufKeyDepthSelfBias, gguf.Float32(float32(layout.DepthSelfBias)))
		}
		if !identity(layout.LayerMap) {
			add(ggufKeyLayerMap, ints(layout.LayerMap))
		}
		add(ggufKeyTransforms, gguf.String(model.ProvenanceJSON(m.Provenance)))
	}
	return kv, nil
}

// ggufDescription is the general.description of a transformed model: stock
// llama.cpp prints its first 37 characters before it refuses the file's
// architecture.
const ggufDescription = "Needs llama.cpp with retrofit's patch (runtimes/llama.cpp in retrofit): " +
	"this model's attention layout (retrofit.* keys) is not that of the stock architecture"

// writesHeadDim follows the converter: key/value_length are written when
// config.json has head_dim (Qwen3 always does); for a model without its
// config.json, when Qwen3 or when head_dim is not hidden/heads.
func writesHeadDim(c model.Config) bool {
	if c.Raw != nil {
		v, ok := c.Raw["head_dim"]
		return ok && v != nil
	}
	return c.Family == "qwen3" || c.HeadDim*c.Heads != c.Hidden
}

// ggufTokenizer writes tokenizer.ggml.* from the GGUF vocab the model came
// with, else from its tokenizer.json; a model with neither gets none.
func ggufTokenizer(m *model.Model) ([]gguf.KV, error) {
	var h *hfVocab
	switch {
	case m.Vocab != nil:
		h = &hfVocab{vocab: m.Vocab, idOrder: []string{"eos", "pad", "bos"}}
		if m.Vocab.AddBOS {
			t := true
			h.addBOS = &t
		}
	case m.Files["tokenizer.json"] != nil:
		var err error
		h, err = vocabFromHF(m.Files["tokenizer.json"], m.Files["tokenizer_config.json"], string(m.Files["chat_template.jinja"]), m.Config.VocabSize, configIDs(m.Config))
		if err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	v := h.vocab
	if v.Types != nil && len(v.Types) != len(v.Tokens) {
		return nil, fmt.Errorf("vocab: %d token types for %d tokens", len(v.Types), len(v.Tokens))
	}
	var kv []gguf.KV
	add := func(k string, val gguf.Value) { kv = append(kv, gguf.KV{Key: "tokenizer." + k, Value: val}) }
	add("ggml.model", gguf.String(v.Model))
	add("ggml.pre", gguf.String(v.Pre))
	add("ggml.tokens", gguf.Strings(v.Tokens))
	if v.Types != nil {
		add("ggml.token_type", gguf.Int32s(v.Types))
	}
	if len(v.Merges) > 0 {
		add("ggml.merges", gguf.Strings(v.Merges))
	}
	for _, typ := range h.idOrder {
		id, key := v.BOS, "ggml.bos_token_id"
		switch typ {
		case "eos":
			id, key = v.EOS, "ggml.eos_token_id"
		case "pad":
			id, key = v.PAD, "ggml.padding_token_id"
		}
		if id >= 0 {
			add(key, gguf.Uint32(uint32(id)))
		}
	}
	if h.addBOS != nil {
		add("ggml.add_bos_token", gguf.Bool(*h.addBOS))
	}
	if h.addEOS != nil {
		add("ggml.add_eos_token", gguf.Bool(*h.addEOS))
	}
	if v.ChatTemplate != "" {
		add("chat_template", gguf.String(v.ChatTemplate))
	}
	return kv, nil
}

// ggufModelName turns a checkpoint path into a display name the way the
// converter does for a directory name: "qwen3-micro" → "Qwen3 Micro". A
// weights file inside an HF directory is named after the directory.
func ggufModelName(path string) string {
	path = filepath.Clean(path)
	switch filepath.Ext(path) {
	case ".safetensors", ".json", ".bin", ".pt", ".pth":
		path = filepath.Dir(path)
	}
	base := strings.TrimSuffix(filepath.Base(path), ".gguf")
	if base == "" || base == "." || base == "/" {
		return ""
	}
	parts := strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '_' || r == ' ' })
	for i, p := range parts {
		r := []rune(p)
		r[0] = unicode.ToUpper(r[0])
		parts[i] = string(r)
	}
	return strings.Join(parts, " ")
}

// sizeLabel is the converter's rounded parameter count: "6.6M", "596M", "1.5B".
func sizeLabel(n int64) string {
	x, suffix := float64(n)*1e-3, "K"
	switch {
	case n > 1e12:
		x, suffix = float64(n)*1e-12, "T"
	case n > 1e9:
		x, suffix = float64(n)*1e-9, "B"
	case n > 1e6:
		x, suffix = float64(n)*1e-6, "M"
	}
	digits := len(strings.TrimLeft(fmt.Sprintf("%.0f", x), "0"))
	return fmt.Sprintf("%.*f%s", max(2-digits, 0), x, suffix)
}

package gguf

import (
	"fmt"
	"strconv"

	"github.com/retrofit-llm/retrofit/model"
)

// shortest returns the float64 of the shortest decimal that reads back as x.
func shortest(x float32) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
	return f
}

// config builds the model config from the <arch>.* keys and the tensors;
// family is the model family of arch ("qwen3" for "qwen3-retrofit").
func (md *meta) config(arch, family string, m *model.Model) (model.Config, error) {
	if md.err != nil {
		return model.Config{}, md.err
	}
	k := func(s string) string { return arch + "." + s }
	c := model.Config{
		Family:       family,
		Architecture: map[string]string{"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[family],
		Layers:       int(md.int(k("block_count"), -1)),
		MaxPositions: int(md.int(k("context_length"), 0)),
		Hidden:       int(md.int(k("embedding_length"), -1)),
		Intermediate: int(md.int(k("feed_forward_length"), -1)),
		Heads:        int(md.int(k("attention.head_count"), -1)),
		RMSEps:       md.float(k("attention.layer_norm_rms_epsilon"), 1e-6),
		RopeTheta:    md.float(k("rope.freq_base"), 10000),
		QKNorm:       family == "qwen3",
	}
	c.KVHeads = int(md.int(k("attention.head_count_kv"), int64(c.Heads)))
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.HeadDim = int(md.int(k("attention.key_length"), int64(c.HeadDim)))
	if vl := int(md.int(k("attention.value_length"), int64(c.HeadDim))); md.err == nil && vl != c.HeadDim {
		md.fail(k("attention.value_length"), "= %d differs from key_length %d; retrofit needs equal K and V head dims", vl, c.HeadDim)
	}
	if v, ok := md.get(k("rope.scaling.type")); ok {
		if s, _ := v.Str(); s != "" && s != "none" {
			c.RopeScaling = map[string]any{"rope_type": s}
		}
	}
	c.BOS, c.EOS, c.PAD = md.id("bos_token_id"), md.id("eos_token_id"), md.id("padding_token_id")
	if md.err != nil {
		return c, md.err
	}
	// Every layer is a block of tensors unless a layer map (an array stored
	// in the file) says otherwise: bound the count before layouts are sized.
	mapLen := 0
	if v, ok := md.get(KeyLayerMap); ok {
		mapLen = v.Len()
	}
	if c.Layers > len(m.Tensors) && c.Layers > mapLen {
		return c, fmt.Errorf("gguf %s: metadata %q: %d layers, but the file holds only %d tensors", md.path, k("block_count"), c.Layers, len(m.Tensors))
	}
	emb := m.Tensor(model.EmbedName)
	if emb == nil || len(emb.Shape) != 2 {
		return c, fmt.Errorf("gguf %s: tensor \"token_embd.weight\" is missing or not 2-D", md.path)
	}
	c.VocabSize = emb.Shape[0]
	c.TiedEmbeddings = m.Tensor(model.HeadName) == nil
	c.AttnBias = m.Tensor(model.BlockName(0, "self_attn.q_proj.bias")) != nil
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("gguf %s: %w", md.path, err)
	}
	return c, nil
}

// id reads tokenizer.ggml.<key>, -1 when absent.
func (md *meta) id(key string) int {
	key = "tokenizer.ggml." + key
	v, ok := md.get(key)
	if !ok {
		return -1
	}
	n, ok := v.Int()
	if !ok || n < 0 || n >= model.MaxVocab {
		md.fail(key, "%s %s is not a token id", v.TypeName(), brief(v.V))
		return -1
	}
	return int(n)
}

// Layout keys written by retrofit's exporter for transformed models.
const (
	KeyKVSource    = "retrofit.kv_source"
	KeyDepthMix    = "retrofit.depth_mix"
	KeyDepthStride = "retrofit.depth_stride"
	KeyDepthWindow = "retrofit.depth_window"
	KeyLayerMap    = "retrofit.layer_map"
	KeyTransforms  = "retrofit.transforms"
	// KeyDepthSelfBias (FLOAT32) is present only on a Depth-Attention warm
	// start still annealing its self-score bias (model.Layout.DepthSelfBias).
	KeyDepthSelfBias = "retrofit.depth_self_bias"
)

// layout reads the retrofit.* keys; a stock file has none and gets the identity.
func (md *meta) layout(n int) (model.Layout, []model.Step, error) {
	l := model.DefaultLayout(n)
	if s := md.ints(KeyKVSource); s != nil {
		l.KVSource = s
	}
	if v, ok := md.get(KeyDepthMix); ok {
		b, ok := v.BoolsValue()
		if !ok {
			md.fail(KeyDepthMix, "is %s, want an array of bools", v.TypeName())
		}
		l.DepthMix = b
	}
	l.DepthStride = int(md.int(KeyDepthStride, 0))
	l.DepthWindow = int(md.int(KeyDepthWindow, 0))
	l.DepthSelfBias = md.float(KeyDepthSelfBias, 0)
	if s := md.ints(KeyLayerMap); s != nil {
		l.LayerMap = s
	}
	var steps []model.Step
	if v, ok := md.get(KeyTransforms); ok {
		s, ok := v.Str()
		if !ok {
			md.fail(KeyTransforms, "is %s, want a JSON string", v.TypeName())
		} else if st, err := model.ParseProvenance([]byte(s)); err != nil {
			md.fail(KeyTransforms, "%v", err)
		} else {
			steps = st
		}
	}
	if md.err != nil {
		return l, nil, md.err
	}
	if err := l.Validate(n); err != nil {
		return l, nil, fmt.Errorf("gguf %s: retrofit.*: %w", md.path, err)
	}
	return l, steps, nil
}

// vocab reads tokenizer.ggml.*; a file without tokens has no vocab.
func (md *meta) vocab() (*model.Vocab, error) {
	v, ok := md.get("tokenizer.ggml.tokens")
	if !ok {
		return nil, nil
	}
	toks, ok := v.StringsValue()
	if !ok {
		md.fail("tokenizer.ggml.tokens", "is %s, want an array of strings", v.TypeName())
		return nil, md.err
	}
	voc := &model.Vocab{
		Model:  md.str("tokenizer.ggml.model", "gpt2"),
		Pre:    md.str("tokenizer.ggml.pre", "default"),
		Tokens: toks,
		BOS:    -1, EOS: -1, PAD: -1,
	}
	if tv, ok := md.get("tokenizer.ggml.token_type"); ok {
		types, ok := tv.Ints()
		if !ok || len(types) != len(toks) {
			md.fail("tokenizer.ggml.token_type", "%s of %d entries for %d tokens", tv.TypeName(), tv.Len(), len(toks))
		} else {
			voc.Types = make([]int32, len(types))
			for i, t := range types {
				voc.Types[i] = int32(t)
			}
		}
	}
	if mv, ok := md.get("tokenizer.ggml.merges"); ok {
		if voc.Merges, ok = mv.StringsValue(); !ok {
			md.fail("tokenizer.ggml.merges", "is %s, want an array of strings", mv.TypeName())
		}
	}
	voc.BOS, voc.EOS, voc.PAD = md.id("bos_token_id"), md.id("eos_token_id"), md.id("padding_token_id")
	for key, id := range map[string]int{"bos_token_id": voc.BOS, "eos_token_id": voc.EOS, "padding_token_id": voc.PAD} {
		if id >= len(toks) {
			md.fail("tokenizer.ggml."+key, "= %d, but there are %d tokens", id, len(toks))
		}
	}
	if bv, ok := md.get("tokenizer.ggml.add_bos_token"); ok {
		if voc.AddBOS, ok = bv.BoolValue(); !ok {
			md.fail("tokenizer.ggml.add_bos_token", "is %s, want a bool", bv.TypeName())
		}
	}
	voc.ChatTemplate = md.str("tokenizer.chat_template", "\x00")
	if voc.ChatTemplate == "\x00" {
		voc.ChatTemplate = ""
	}
	return voc, md.err
}

// brief formats a metadata value for an error message, cut to 40 bytes so a
// hostile string cannot fill the message.
func brief(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 40 {
		return fmt.Sprintf("%q… (%d bytes)", s[:40], len(s))
	}
	return s
}

package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
)

// ParseHFConfig reads a Hugging Face config.json (Qwen2/Qwen2.5/Qwen3), including
// retrofit's "retrofit" layout object when present. It reads rope_theta either
// at the top level or under rope_parameters (transformers ≥ 5).
func ParseHFConfig(data []byte) (Config, Layout, []Step, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, Layout{}, nil, fmt.Errorf("config.json: %w", err)
	}
	var c Config
	c.Raw = raw
	c.Family, _ = raw["model_type"].(string)
	if archs, ok := raw["architectures"].([]any); ok && len(archs) > 0 {
		c.Architecture, _ = archs[0].(string)
	}
	switch c.Family {
	case "qwen2", "qwen3":
	default:
		return Config{}, Layout{}, nil, fmt.Errorf("config.json: model_type %.40q is not supported (want qwen2 or qwen3)", c.Family)
	}
	var err error
	num := func(key string, dst *int, required bool) {
		if err != nil {
			return
		}
		v, ok := raw[key]
		if !ok || v == nil {
			if required {
				err = fmt.Errorf("config.json: field %q is missing", key)
			}
			return
		}
		n, ok := v.(json.Number)
		if !ok {
			err = fmt.Errorf("config.json: field %q is %T, want an integer", key, v)
			return
		}
		i, e := n.Int64()
		if e != nil {
			err = fmt.Errorf("config.json: field %q = %s is not an integer", key, n)
			return
		}
		*dst = int(i)
	}
	num("vocab_size", &c.VocabSize, true)
	num("hidden_size", &c.Hidden, true)
	num("intermediate_size", &c.Intermediate, true)
	num("num_hidden_layers", &c.Layers, true)
	num("num_attention_heads", &c.Heads, true)
	c.KVHeads = c.Heads
	num("num_key_value_heads", &c.KVHeads, false)
	num("max_position_embeddings", &c.MaxPositions, false)
	c.BOS, c.EOS, c.PAD = -1, -1, -1
	num("bos_token_id", &c.BOS, false)
	if l, ok := raw["eos_token_id"].([]any); ok && len(l) > 0 {
		raw2 := map[string]any{"eos_token_id": l[0]}
		raw, raw2 = raw2, raw
		num("eos_token_id", &c.EOS, false)
		raw = raw2
	} else {
		num("eos_token_id", &c.EOS, false)
	}
	num("pad_token_id", &c.PAD, false)
	if err != nil {
		return Config{}, Layout{}, nil, err
	}
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	num("head_dim", &c.HeadDim, false)
	float := func(v any) (float64, bool) {
		n, ok := v.(json.Number)
		if !ok {
			return 0, false
		}
		f, e := n.Float64()
		return f, e == nil
	}
	c.RMSEps = 1e-6
	if v, ok := raw["rms_norm_eps"]; ok {
		f, ok := float(v)
		if !ok {
			return Config{}, Layout{}, nil, fmt.Errorf("config.json: field \"rms_norm_eps\" is not a number")
		}
		c.RMSEps = f
	}
	c.RopeTheta = 10000
	if v, ok := raw["rope_theta"]; ok {
		f, ok := float(v)
		if !ok {
			return Config{}, Layout{}, nil, fmt.Errorf("config.json: field \"rope_theta\" is not a number")
		}
		c.RopeTheta = f
	}
	if rp, ok := raw["rope_parameters"].(map[string]any); ok {
		if v, ok := rp["rope_theta"]; ok {
			f, ok := float(v)
			if !ok {
				return Config{}, Layout{}, nil, fmt.Errorf("config.json: field \"rope_parameters.rope_theta\" is not a number")
			}
			c.RopeTheta = f
		}
		c.RopeScaling = rp
	}
	if rs, ok := raw["rope_scaling"].(map[string]any); ok {
		c.RopeScaling = rs
	}
	if v, ok := raw["tie_word_embeddings"].(bool); ok {
		c.TiedEmbeddings = v
	}
	switch c.Family {
	case "qwen2":
		c.AttnBias = true
	case "qwen3":
		c.QKNorm = true
		if v, ok := raw["attention_bias"].(bool); ok {
			c.AttnBias = v
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, Layout{}, nil, fmt.Errorf("config.json: %w", err)
	}
	layout := DefaultLayout(c.Layers)
	var steps []Step
	if r, ok := raw["retrofit"].(map[string]any); ok {
		blob, _ := json.Marshal(r)
		layout, steps, err = parseLayoutJSON(blob, c.Layers)
		if err != nil {
			return Config{}, Layout{}, nil, fmt.Errorf("config.json: field \"retrofit\": %w", err)
		}
	}
	return c, layout, steps, nil
}

// layoutJSON is the "retrofit" object of config.json.
type layoutJSON struct {
	KVSource      []int           `json:"kv_source"`
	DepthMix      []bool          `json:"depth_mix"`
	DepthStride   int             `json:"depth_stride"`
	DepthWindow   int             `json:"depth_window"`
	LayerMap      []int           `json:"layer_map"`
	DepthSelfBias float64         `json:"depth_self_bias,omitempty"`
	Transforms    json.RawMessage `json:"transforms,omitempty"`
}

func parseLayoutJSON(blob []byte, n int) (Layout, []Step, error) {
	var j layoutJSON
	if err := json.Unmarshal(blob, &j); err != nil {
		return Layout{}, nil, err
	}
	l := DefaultLayout(n)
	if j.KVSource != nil {
		l.KVSource = j.KVSource
	}
	if j.DepthMix != nil {
		l.DepthMix = j.DepthMix
	}
	if j.LayerMap != nil {
		l.LayerMap = j.LayerMap
	}
	l.DepthStride, l.DepthWindow, l.DepthSelfBias = j.DepthStride, j.DepthWindow, j.DepthSelfBias
	if err := l.Validate(n); err != nil {
		return Layout{}, nil, err
	}
	steps, err := ParseProvenance(j.Transforms)
	if err != nil {
		return Layout{}, nil, fmt.Errorf("transforms: %w", err)
	}
	return l, steps, nil
}

// ParseProvenance reads the "transforms" value: a JSON string holding a JSON
// array of steps (as written), or the array itself.
func ParseProvenance(v []byte) ([]Step, error) {
	if len(bytes.TrimSpace(v)) == 0 || string(v) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		v = []byte(s)
	}
	var steps []Step
	if err := json.Unmarshal(v, &steps); err != nil {
		return nil, err
	}
	return steps, nil
}

// ProvenanceJSON encodes steps as the compact JSON array stored in
// "transforms" (config.json) and retrofit.transforms (GGUF).
func ProvenanceJSON(steps []Step) string {
	if steps == nil {
		steps = []Step{}
	}
	b, _ := json.Marshal(steps)
	return string(b)
}

// HFConfigJSON writes config.json for the model: the original fields carried
// in Config.Raw, updated from Config, plus the "retrofit" object when the
// layout is not the identity or transforms were applied. dtype names the
// stored weight dtype ("bfloat16", "float16", "float32").
func HFConfigJSON(c Config, l Layout, steps []Step, dtype string) ([]byte, error) {
	out := map[string]any{}
	maps.Copy(out, c.Raw)
	arch := c.Architecture
	if arch == "" {
		arch = map[string]string{"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[c.Family]
	}
	out["architectures"] = []string{arch}
	out["model_type"] = c.Family
	out["vocab_size"] = c.VocabSize
	out["hidden_size"] = c.Hidden
	out["intermediate_size"] = c.Intermediate
	out["num_hidden_layers"] = c.Layers
	out["num_attention_heads"] = c.Heads
	out["num_key_value_heads"] = c.KVHeads
	if c.Family == "qwen3" || c.HeadDim != c.Hidden/c.Heads {
		out["head_dim"] = c.HeadDim
	}
	out["rms_norm_eps"] = c.RMSEps
	out["tie_word_embeddings"] = c.TiedEmbeddings
	if c.MaxPositions > 0 {
		out["max_position_embeddings"] = c.MaxPositions
	}
	setID := func(k string, v int) {
		if v >= 0 {
			out[k] = v
		}
	}
	setID("bos_token_id", c.BOS)
	setID("eos_token_id", c.EOS)
	setID("pad_token_id", c.PAD)
	if c.Family == "qwen3" {
		out["attention_bias"] = c.AttnBias
	}
	if _, ok := out["rope_parameters"]; ok {
		rp := map[string]any{}
		if m, ok := out["rope_parameters"].(map[string]any); ok {
			maps.Copy(rp, m)
		}
		rp["rope_theta"] = c.RopeTheta
		out["rope_parameters"] = rp
	} else {
		out["rope_theta"] = c.RopeTheta
	}
	if _, ok := out["layer_types"]; ok || c.Raw == nil {
		lt := make([]string, c.Layers)
		for i := range lt {
			lt[i] = "full_attention"
		}
		out["layer_types"] = lt
	}
	if dtype != "" {
		out["dtype"] = dtype
		delete(out, "torch_dtype")
	}
	delete(out, "retrofit")
	if !l.IsDefault() || len(steps) > 0 {
		out["retrofit"] = layoutJSON{
			KVSource: l.KVSource, DepthMix: l.DepthMix, DepthStride: l.DepthStride,
			DepthWindow: l.DepthWindow, LayerMap: l.LayerMap, DepthSelfBias: l.DepthSelfBias,
			Transforms: mustJSON(ProvenanceJSON(steps)),
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

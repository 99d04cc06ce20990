package model

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestParseHFConfigHostile: sizes and ids outside the limits are refused by
// name before anything is allocated from them.
func TestParseHFConfigHostile(t *testing.T) {
	base := map[string]any{
		"model_type": "qwen3", "vocab_size": 8192, "hidden_size": 256, "intermediate_size": 768,
		"num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 32,
		"max_position_embeddings": 4096, "bos_token_id": 8187, "eos_token_id": 8189,
	}
	cases := []struct {
		key  string
		val  any
		want string
	}{
		{"num_hidden_layers", 1000000000, "num_hidden_layers 1000000000 is outside"},
		{"num_hidden_layers", int64(1) << 62, "num_hidden_layers"},
		{"max_position_embeddings", -5, "max_position_embeddings -5 is outside"},
		{"vocab_size", 1 << 40, "vocab_size"},
		{"hidden_size", 1 << 30, "hidden_size"},
		{"intermediate_size", -1, "intermediate_size"},
		{"num_attention_heads", 1 << 20, "num_attention_heads"},
		{"num_key_value_heads", -2, "num_key_value_heads"},
		{"head_dim", 1 << 20, "head_dim"},
		{"eos_token_id", 8192, "eos_token_id 8192 is not a token id in [0, 8192)"},
		{"bos_token_id", -7, "bos_token_id -7"},
		{"pad_token_id", 1 << 40, "pad_token_id"},
	}
	for _, c := range cases {
		cfg := map[string]any{}
		for k, v := range base {
			cfg[k] = v
		}
		cfg[c.key] = c.val
		b, _ := json.Marshal(cfg)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _, err := ParseHFConfig(b)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s = %v: error %v, want %q", c.key, c.val, err, c.want)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("%s = %v: allocated %d bytes before refusing", c.key, c.val, d)
		}
	}
	b, _ := json.Marshal(base)
	if _, _, _, err := ParseHFConfig(b); err != nil {
		t.Fatalf("the base config: %v", err)
	}
}

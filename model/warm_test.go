package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDepthSelfBias: config.json's retrofit.depth_self_bias is read back
// and refused, naming the field, when negative, too large or set on a model
// whose layers do not mix.
func TestDepthSelfBias(t *testing.T) {
	base := map[string]any{
		"model_type": "qwen3", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
		"num_hidden_layers": 3, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8,
	}
	parse := func(r map[string]any) (Layout, error) {
		cfg := map[string]any{"retrofit": r}
		for k, v := range base {
			cfg[k] = v
		}
		b, _ := json.Marshal(cfg)
		_, l, _, err := ParseHFConfig(b)
		return l, err
	}
	mix := []bool{false, true, true}
	l, err := parse(map[string]any{"depth_mix": mix, "depth_stride": 1, "depth_self_bias": 7.5})
	if err != nil || l.DepthSelfBias != 7.5 {
		t.Fatalf("warm start: bias %v, error %v; want 7.5", l.DepthSelfBias, err)
	}
	for _, tc := range []struct {
		r    map[string]any
		want string
	}{
		{map[string]any{"depth_mix": mix, "depth_stride": 1, "depth_self_bias": -1}, "depth_self_bias -1"},
		{map[string]any{"depth_mix": mix, "depth_stride": 1, "depth_self_bias": 1e9}, "depth_self_bias 1e+09"},
		{map[string]any{"depth_self_bias": 3}, "no layer mixes"},
	} {
		if _, err := parse(tc.r); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%v: error %v, want %q", tc.r, err, tc.want)
		}
	}
}

package model

import "testing"

func TestGGUFNames(t *testing.T) {
	cases := [][2]string{
		{"model.embed_tokens.weight", "token_embd.weight"},
		{"lm_head.weight", "output.weight"},
		{"model.norm.weight", "output_norm.weight"},
		{"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
		{"model.layers.12.post_attention_layernorm.weight", "blk.12.ffn_norm.weight"},
		{"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
		{"model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"},
		{"model.layers.5.self_attn.q_norm.weight", "blk.5.attn_q_norm.weight"},
		{"model.layers.27.mlp.down_proj.weight", "blk.27.ffn_down.weight"},
	}
	for _, c := range cases {
		if g, ok := GGUFName(c[0]); !ok || g != c[1] {
			t.Errorf("GGUFName(%q) = %q, %v; want %q", c[0], g, ok, c[1])
		}
		if h, ok := HFName(c[1]); !ok || h != c[0] {
			t.Errorf("HFName(%q) = %q, %v; want %q", c[1], h, ok, c[0])
		}
	}
	for _, bad := range []string{"blk.01.attn_q.weight", "blk.-1.attn_q.weight", "blk.x.attn_q.weight", "blk.1.attn_qq.weight", "rope_freqs.weight", "blk.1"} {
		if h, ok := HFName(bad); ok {
			t.Errorf("HFName(%q) = %q, want no mapping", bad, h)
		}
	}
}

package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseHFConfigFixtures(t *testing.T) {
	tests := []struct {
		dir                        string
		family                     string
		layers, heads, kv, hd, hid int
		tied, bias, qknorm         bool
	}{
		{"qwen3-micro", "qwen3", 6, 8, 2, 32, 256, true, false, true},
		{"qwen2-micro", "qwen2", 4, 6, 2, 32, 192, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", tt.dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			c, l, steps, err := ParseHFConfig(data)
			if err != nil {
				t.Fatal(err)
			}
			if c.Family != tt.family || c.Layers != tt.layers || c.Heads != tt.heads || c.KVHeads != tt.kv ||
				c.HeadDim != tt.hd || c.Hidden != tt.hid || c.TiedEmbeddings != tt.tied || c.AttnBias != tt.bias || c.QKNorm != tt.qknorm {
				t.Errorf("got %+v", c)
			}
			if c.RopeTheta != 1e6 || c.RMSEps != 1e-6 || c.EOS != 8189 || c.BOS != 8187 {
				t.Errorf("theta %g eps %g eos %d bos %d", c.RopeTheta, c.RMSEps, c.EOS, c.BOS)
			}
			if !l.IsDefault() || steps != nil {
				t.Errorf("layout %+v steps %v, want identity", l, steps)
			}
			// Round trip with a non-trivial layout.
			l.KVSource[1] = 0
			l.DepthMix[2] = true
			l.DepthStride = 2
			out, err := HFConfigJSON(c, l, []Step{{Transform: "cla", Options: map[string]string{"factor": "2"}}}, "bfloat16")
			if err != nil {
				t.Fatal(err)
			}
			c2, l2, steps2, err := ParseHFConfig(out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if c2.RopeTheta != c.RopeTheta || c2.Layers != c.Layers || l2.KVSource[1] != 0 || !l2.DepthMix[2] || l2.DepthStride != 2 ||
				len(steps2) != 1 || steps2[0].Options["factor"] != "2" {
				t.Errorf("round trip lost data: %+v %+v %v", c2, l2, steps2)
			}
		})
	}
}

func TestParseHFConfigErrors(t *testing.T) {
	base := `{"model_type":"qwen3","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":4`
	tests := []struct{ name, json, want string }{
		{"family", `{"model_type":"llama"}`, "model_type"},
		{"missing", `{"model_type":"qwen3"}`, "vocab_size"},
		{"kvheads", strings.Replace(base, `"num_key_value_heads":1`, `"num_key_value_heads":3`, 1) + "}", "num_key_value_heads"},
		{"rope", base + `,"rope_scaling":{"rope_type":"yarn","factor":4}}`, "yarn"},
		{"layout", base + `,"retrofit":{"kv_source":[0,2],"depth_mix":[false,false],"layer_map":[0,1]}}`, "kv_source"},
		{"syntax", `{"model_type":`, "config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ParseHFConfig([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

package all_test

import (
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/transforms"
)

func TestPlanString(t *testing.T) {
	m := load(t, "qwen3-micro")
	tr, _ := transforms.Lookup("cla")
	p, err := tr.Plan(m, map[string]string{"init": "mean"}, transforms.Env{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	t.Log("\n" + s)
	for _, want := range []string{
		"cla: factor=2 init=mean strict=false\n",
		"kv_source   [0 0 2 2 4 4] (3 of 6 layers store K/V)",
		"params      6622848 → 6524448 (-1.5%)",
		"KV cache    1536 → 768 bytes/token fp16 (-50.0%)",
		"dropped     9 tensors: model.layers.1.self_attn.k_norm.weight, model.layers.1.self_attn.k_proj.weight,",
		", and 3 more",
		"replaced    9 tensors: model.layers.0.self_attn.k_norm.weight",
		"note: block 0 K/V = mean of blocks 0, 1",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
}

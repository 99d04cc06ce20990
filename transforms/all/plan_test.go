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

// TestPlanApply checks that a plan carries out on the model it was made for
// (once), and refuses a model that changed since or another model.
func TestPlanApply(t *testing.T) {
	cla, _ := transforms.Lookup("cla")
	depth, _ := transforms.Lookup("depthattn")
	m := load(t, "qwen3-micro")
	p, err := cla.Plan(m, nil, transforms.Env{})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := depth.Plan(m, nil, transforms.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(load(t, "qwen3-micro")); err == nil || !strings.Contains(err.Error(), "changed since the plan") {
		t.Errorf("applying to another model: %v", err)
	}
	if err := p.Apply(m); err != nil {
		t.Fatal(err)
	}
	if m.Layout.KVLayers() != 3 || len(m.Provenance) != 1 || m.Provenance[0].Transform != "cla" {
		t.Errorf("after Apply: %d KV layers, provenance %+v", m.Layout.KVLayers(), m.Provenance)
	}
	if err := p.Apply(m); err == nil || !strings.Contains(err.Error(), "already applied") {
		t.Errorf("applying twice: %v", err)
	}
	if err := stale.Apply(m); err == nil || !strings.Contains(err.Error(), "changed since the plan") {
		t.Errorf("applying a plan made before another transform: %v", err)
	}
}

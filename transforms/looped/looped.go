// Package looped registers the "looped" transform: tie the layers into
// block physical blocks run layers/block times in a CYCLE (logical layer l
// runs block l mod block), initialised from the pretrained layers as in
// Relaxed Recursive Transformers (Bae et al., 2024).
package looped

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

func init() {
	transforms.Register(transforms.New(transforms.Spec{
		Name:    "looped",
		Summary: "looped layers: tie the layers into block physical blocks run in a cycle (layer l runs block l mod block)",
		Options: []transforms.Option{
			{Name: "block", Default: "", Help: "physical blocks (required; must divide the layer count; = layers changes nothing)"},
			{Name: "init", Default: "average", Help: "block weights: average of the layers tied together, stepwise (layer i·L/B), or lower (the first B layers)"},
		},
		Edit: edit,
	}))
}

// blockSuffixes lists a block's non-K/V tensors.
func blockSuffixes(c model.Config) []string {
	s := []string{"input_layernorm.weight", "post_attention_layernorm.weight",
		"self_attn.q_proj.weight", "self_attn.o_proj.weight",
		"mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}
	if c.AttnBias {
		s = append(s, "self_attn.q_proj.bias")
	}
	if c.QKNorm {
		s = append(s, "self_attn.q_norm.weight")
	}
	return s
}

func kvSuffixes(c model.Config) []string {
	s := []string{"self_attn.k_proj.weight", "self_attn.v_proj.weight"}
	if c.AttnBias {
		s = append(s, "self_attn.k_proj.bias", "self_attn.v_proj.bias")
	}
	if c.QKNorm {
		s = append(s, "self_attn.k_norm.weight")
	}
	return s
}

func edit(m *model.Model, o transforms.Values, env transforms.Env) (*transforms.Edit, error) {
	c, old := m.Config, m.Layout
	n := c.Layers
	if o["block"] == "" {
		return nil, fmt.Errorf("block=B is required (a divisor of %d layers: %s)", n, transforms.JoinInts(transforms.Divisors(n)))
	}
	b, err := o.Int("block")
	if err != nil {
		return nil, err
	}
	if b < 1 || b > n || n%b != 0 {
		return nil, fmt.Errorf("block=%d does not divide %d layers; use one of %s", b, n, transforms.JoinInts(transforms.Divisors(n)))
	}
	init, err := o.Choice("init", "average", "stepwise", "lower")
	if err != nil {
		return nil, err
	}
	if old.Blocks() != n {
		return nil, fmt.Errorf("the model is already looped (%d blocks for %d layers, layer_map %v)", old.Blocks(), n, old.LayerMap)
	}
	nl := old.Clone()
	for l := range nl.LayerMap {
		nl.LayerMap[l] = l % b
	}
	e := &transforms.Edit{Config: c, Layout: nl}
	loops := n / b
	for p := 0; p < b; p++ {
		// The layers tied into block p, and the ones its weights come from.
		tied := make([]int, 0, loops)
		for l := p; l < n; l += b {
			tied = append(tied, l)
		}
		var from []int
		switch init {
		case "average":
			from = tied
		case "stepwise":
			from = []int{p * n / b}
		case "lower":
			from = []int{p}
		}
		if err := setBlock(m, e, p, from, blockSuffixes(c)); err != nil {
			return nil, err
		}
		if !nl.BlockHasKV(p) {
			continue
		}
		var kvFrom []int
		for _, l := range from {
			if old.StoresKV(l) {
				kvFrom = append(kvFrom, l)
			}
		}
		if len(kvFrom) == 0 {
			return nil, fmt.Errorf("block %d must compute K/V (a layer it runs stores K/V), but init=%s takes it from layer(s) %s, which read other layers' K/V and have no K/V projections; use init=average or apply looped before the K/V sharing",
				p, init, transforms.JoinInts(from))
		}
		if err := setBlock(m, e, p, kvFrom, kvSuffixes(c)); err != nil {
			return nil, err
		}
	}
	for p := 0; p < n; p++ {
		var drop []string
		if p >= b {
			drop = blockSuffixes(c)
		}
		if old.BlockHasKV(p) && (p >= b || !nl.BlockHasKV(p)) {
			drop = append(drop, kvSuffixes(c)...)
		}
		for _, s := range drop {
			e.Remove = append(e.Remove, model.BlockName(p, s))
		}
	}
	if b < n {
		e.Notes = append(e.Notes, fmt.Sprintf("%d layers run %d blocks %d times (init=%s)", n, b, loops, init))
	}
	return e, nil
}

// setBlock makes block p's tensors of the given suffixes the mean of layers
// from (a single layer is shared byte for byte; block p's own is left alone).
func setBlock(m *model.Model, e *transforms.Edit, p int, from []int, suffixes []string) error {
	if len(from) == 1 && from[0] == p {
		return nil
	}
	for _, s := range suffixes {
		var src []*model.Tensor
		for _, l := range from {
			name := model.BlockName(l, s)
			t := m.Tensor(name)
			if t == nil {
				return fmt.Errorf("layer %d: missing tensor %q", l, name)
			}
			src = append(src, t)
		}
		nt := transforms.NewTensor{Name: model.BlockName(p, s), Shape: src[0].Shape}
		if len(src) == 1 {
			nt.From = src[0]
		} else {
			nt.Build = transforms.Mean(src)
		}
		e.Set = append(e.Set, nt)
	}
	return nil
}

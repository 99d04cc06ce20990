// Package cla registers the "cla" transform: Cross-Layer Attention (Brandon
// et al., 2024). In each group of factor adjacent layers the first computes
// K/V and the others attend with it; the others lose their K/V projections.
package cla

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
	"github.com/retrofit-llm/retrofit/transforms/align"
)

func init() {
	transforms.Register(transforms.New(transforms.Spec{
		Name:    "cla",
		Summary: "Cross-Layer Attention: groups of factor adjacent layers share the first layer's K/V",
		Options: []transforms.Option{
			{Name: "factor", Default: "2", Help: "layers per group (CLA2 = 2; 1 changes nothing)"},
			{Name: "init", Default: "keep", Help: "producer K/V weights: keep its own, or mean of the group's; align keeps them and fits each consumer's maps onto them (needs --calib)"},
			{Name: "strict", Default: "false", Help: "refuse a factor that does not divide the layer count (else the last group is shorter)"},
		},
		Edit: edit,
	}))
}

// Groups returns the CLA groups of n layers: [0..f), [f..2f), … with a
// shorter last group when f does not divide n.
func Groups(n, f int) [][]int {
	var g [][]int
	for s := 0; s < n; s += f {
		var grp []int
		for l := s; l < min(s+f, n); l++ {
			grp = append(grp, l)
		}
		g = append(g, grp)
	}
	return g
}

func edit(m *model.Model, o transforms.Values, env transforms.Env) (*transforms.Edit, error) {
	n := m.Config.Layers
	f, err := o.Int("factor")
	if err != nil {
		return nil, err
	}
	strict, err := o.Bool("strict")
	if err != nil {
		return nil, err
	}
	init, err := o.Choice("init", "keep", "mean", "align")
	if err != nil {
		return nil, err
	}
	if f < 1 || f > n {
		return nil, fmt.Errorf("factor=%d: want 1 ≤ factor ≤ %d (the layer count)", f, n)
	}
	if strict && n%f != 0 {
		return nil, fmt.Errorf("factor=%d does not divide %d layers; strict=true needs one of %s", f, n, transforms.JoinInts(transforms.Divisors(n)))
	}
	kv := append([]int(nil), m.Layout.KVSource...)
	for _, g := range Groups(n, f) {
		for _, l := range g[1:] {
			kv[l] = g[0]
		}
	}
	e, err := transforms.ShareKV(m, transforms.KVShare{KVSource: kv, Init: align.ProducerInit(init)})
	if err != nil {
		return nil, err
	}
	if init == "align" {
		if _, err := align.Apply(m, e, env); err != nil {
			return nil, err
		}
	}
	if n%f != 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("factor=%d does not divide %d layers: the last group has %d", f, n, n%f))
	}
	return e, nil
}

// Package mlkv registers the "mlkv" transform: Multi-Layer Key-Value heads
// (Zuhri et al., 2024). kv_layers layers keep K/V, placed as the official
// conversion places them, and each is shared by the layers after it up to
// the next; kv_heads optionally pools K/V heads inside every KV layer.
package mlkv

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
	"github.com/retrofit-llm/retrofit/transforms/align"
)

func init() {
	transforms.Register(transforms.New(transforms.Spec{
		Name:    "mlkv",
		Summary: "Multi-Layer KV: keep kv_layers K/V layers shared by the layers after them, optionally pool K/V heads",
		Options: []transforms.Option{
			{Name: "kv_layers", Default: "", Help: "layers that keep K/V (required, 1 ≤ N ≤ layers)"},
			{Name: "kv_heads", Default: "", Help: "K/V heads per layer after pooling consecutive heads (must divide the current count; empty keeps it)"},
			{Name: "init", Default: "mean", Help: "K/V layer weights: mean of the layers it serves, running pairwise average in layer order (the official rule), or align: keep the KV layer's own and fit each reader's maps onto them (needs --calib)"},
		},
		Edit: edit,
	}))
}

// Placement returns the KV layers of the official MLKV conversion for n
// layers and k KV layers: [0] + [int((i+1)·n/k) for i in range(k−1)].
func Placement(n, k int) []int {
	p := []int{0}
	for i := 0; i < k-1; i++ {
		p = append(p, (i+1)*n/k)
	}
	return p
}

func edit(m *model.Model, o transforms.Values, env transforms.Env) (*transforms.Edit, error) {
	c := m.Config
	n := c.Layers
	if o["kv_layers"] == "" {
		return nil, fmt.Errorf("kv_layers=N is required (1 ≤ N ≤ %d; N = %d keeps every layer)", n, n)
	}
	k, err := o.Int("kv_layers")
	if err != nil {
		return nil, err
	}
	if k < 1 || k > n {
		return nil, fmt.Errorf("kv_layers=%d: want 1 ≤ kv_layers ≤ %d (the layer count)", k, n)
	}
	heads := 0
	if o["kv_heads"] != "" {
		if heads, err = o.Int("kv_heads"); err != nil {
			return nil, err
		}
		if heads < 1 || c.KVHeads%heads != 0 {
			return nil, fmt.Errorf("kv_heads=%d does not divide num_key_value_heads=%d; use one of %s",
				heads, c.KVHeads, transforms.JoinInts(transforms.Divisors(c.KVHeads)))
		}
	}
	init, err := o.Choice("init", "mean", "running", "align")
	if err != nil {
		return nil, err
	}
	if !sameKV(m.Layout) {
		return nil, fmt.Errorf("the model already shares K/V across layers (kv_source %v); mlkv places its KV layers on a model whose layers each compute their own", m.Layout.KVSource)
	}
	place := Placement(n, k)
	kv := make([]int, n)
	for i, p := range place {
		end := n
		if i+1 < len(place) {
			end = place[i+1]
		}
		for l := p; l < end; l++ {
			kv[l] = p
		}
	}
	e, err := transforms.ShareKV(m, transforms.KVShare{KVSource: kv, Init: align.ProducerInit(init), KVHeads: heads})
	if err != nil {
		return nil, err
	}
	if init == "align" {
		if _, err := align.Apply(m, e, env); err != nil {
			return nil, err
		}
	}
	e.Notes = append(e.Notes, fmt.Sprintf("KV layers %v", place))
	return e, nil
}

// sameKV reports whether every layer computes its own K/V.
func sameKV(l model.Layout) bool { return l.KVLayers() == len(l.KVSource) }

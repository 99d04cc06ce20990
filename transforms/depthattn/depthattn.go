// Package depthattn registers the "depthattn" transform: Depth-Attention
// (cross-layer value mixing, arXiv 2606.05014). It only sets the layout —
// which layers mix (DepthMix) and their candidates (DepthStride,
// DepthWindow); the engine and finetune implement the math. No tensors are
// added or dropped and the KV cache keeps its size.
package depthattn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

func init() {
	transforms.Register(transforms.New(transforms.Spec{
		Name:    "depthattn",
		Summary: "Depth-Attention: layers mix the values of earlier layers at the same position before attending",
		Options: []transforms.Option{
			{Name: "layers", Default: "all", Help: "layers that mix: all, or a comma-separated list such as 2,4,5"},
			{Name: "from", Default: "1", Help: "only layers ≥ from mix (layer 0 has nothing to mix)"},
			{Name: "stride", Default: "", Help: "candidates j < l with j mod stride = 0 (empty: layers/2, the released configs; 1: every earlier layer; 0: none)"},
			{Name: "window", Default: "0", Help: "also the window layers just before l"},
		},
		Edit: edit,
	}))
}

func edit(m *model.Model, o transforms.Values, env transforms.Env) (*transforms.Edit, error) {
	stride, window, want, explicit, err := parseArgs(m.Config.Layers, o)
	if err != nil {
		return nil, err
	}
	l := m.Layout.Clone()
	l.DepthStride, l.DepthWindow = stride, window
	e := &transforms.Edit{Config: m.Config, Layout: l}
	var skipped []int
	for i := range l.DepthMix {
		l.DepthMix[i] = false
		if !want[i] {
			continue
		}
		if !l.StoresKV(i) {
			if explicit {
				return nil, fmt.Errorf("layers=%s: layer %d reads layer %d's K/V and has no value of its own to mix", o["layers"], i, l.KVSource[i])
			}
			skipped = append(skipped, i)
			continue
		}
		l.DepthMix[i] = true
	}
	e.Layout = l
	if len(skipped) > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("layers %s read another layer's K/V and do not mix", transforms.JoinInts(skipped)))
	}
	for i := range l.DepthMix {
		if l.DepthMix[i] {
			e.Notes = append(e.Notes, fmt.Sprintf("e.g. layer %d mixes layers %s", i, transforms.JoinInts(l.DepthCandidates(i))))
			break
		}
	}
	if old := m.Layout; old.DepthStride != 0 || old.DepthWindow != 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("replaces the previous depth layout (stride %d, window %d)", old.DepthStride, old.DepthWindow))
	}
	return e, nil
}

// parseArgs checks the options for an n-layer model and returns the
// candidate stride and window, the layers asked to mix, and whether they were
// listed explicitly.
func parseArgs(n int, o transforms.Values) (stride, window int, want []bool, explicit bool, err error) {
	if n < 2 {
		return 0, 0, nil, false, fmt.Errorf("a model with %d layer has no earlier layers to mix", n)
	}
	if o["stride"] == "" {
		o["stride"] = strconv.Itoa(n / 2)
	}
	stride, err = o.Int("stride")
	if err != nil {
		return 0, 0, nil, false, err
	}
	window, err = o.Int("window")
	if err != nil {
		return 0, 0, nil, false, err
	}
	from, err := o.Int("from")
	if err != nil {
		return 0, 0, nil, false, err
	}
	switch {
	case stride < 0 || stride >= n:
		return 0, 0, nil, false, fmt.Errorf("stride=%d: want 0 ≤ stride < %d (layers); the released configs use %d, stride=1 mixes every earlier layer", stride, n, n/2)
	case window < 0 || window >= n:
		return 0, 0, nil, false, fmt.Errorf("window=%d: want 0 ≤ window < %d (layers)", window, n)
	case stride == 0 && window == 0:
		return 0, 0, nil, false, fmt.Errorf("stride=0 and window=0 leave no candidates; set stride ≥ 1 (default %d) or window ≥ 1", n/2)
	case from < 1 || from >= n:
		return 0, 0, nil, false, fmt.Errorf("from=%d: want 1 ≤ from < %d (layer 0 has no earlier layers to mix)", from, n)
	}
	want = make([]bool, n)
	explicit = o["layers"] != "all"
	if !explicit {
		for l := from; l < n; l++ {
			want[l] = true
		}
	} else {
		for _, f := range strings.Split(o["layers"], ",") {
			l, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || l < 1 || l >= n {
				return 0, 0, nil, false, fmt.Errorf("layers=%q: want all or a comma-separated list of layers in [1, %d) (layer 0 has nothing to mix)", o["layers"], n)
			}
			if l >= from {
				want[l] = true
			}
		}
	}
	return stride, window, want, explicit, nil
}

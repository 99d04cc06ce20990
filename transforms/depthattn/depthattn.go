// Package depthattn registers the "depthattn" transform: Depth-Attention
// (cross-layer value mixing, arXiv 2606.05014). It only sets the layout —
// which layers mix (DepthMix) and their candidates (DepthStride,
// DepthWindow); the engine and finetune implement the math. No tensors are
// added or dropped and the KV cache keeps its size. warm=on sets the warm
// start's self-score bias (model.Layout.DepthSelfBias), which finetune
// anneals to 0.
package depthattn

import (
	"fmt"
	"math"
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
			{Name: "warm", Default: "off", Help: "warm start: on (self-score bias " + strconv.Itoa(WarmBias) + ", the original model exactly), a bias ≥ 0, or off; finetune anneals it to 0 (--warm-steps)"},
		},
		Edit: edit,
	}))
}

// WarmBias is warm=on's self-score bias. A candidate's weight is then
// exp(s_j − s_self − WarmBias) ≤ exp(−104 + spread) and fp32's exp gives
// exactly 0 while the scores spread less than ~14: α_self = 1 and v' = v,
// the original model bit for bit (TestWarmStartIsOriginal).
const WarmBias = 118

func edit(m *model.Model, o transforms.Values, env transforms.Env) (*transforms.Edit, error) {
	stride, window, want, explicit, err := parseArgs(m.Config.Layers, o)
	if err != nil {
		return nil, err
	}
	bias, err := warmBias(o)
	if err != nil {
		return nil, err
	}
	l := m.Layout.Clone()
	l.DepthStride, l.DepthWindow, l.DepthSelfBias = stride, window, bias
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
	if bias > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("warm start: self-score bias %g (layers mix only their own value); `retrofit finetune` anneals it to 0 over --warm-steps", bias))
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

// warmBias parses warm: off (0), on (WarmBias) or a bias in
// [0, model.MaxDepthSelfBias].
func warmBias(o transforms.Values) (float64, error) {
	switch strings.ToLower(o["warm"]) {
	case "off", "false", "no", "0":
		return 0, nil
	case "on", "true", "yes":
		return WarmBias, nil
	}
	b, err := strconv.ParseFloat(o["warm"], 64)
	if err != nil || math.IsNaN(b) || b < 0 || b > model.MaxDepthSelfBias {
		return 0, fmt.Errorf("warm=%q: want on, off or a self-score bias in [0, %g] (on: %d)", o["warm"], float64(model.MaxDepthSelfBias), WarmBias)
	}
	return b, nil
}

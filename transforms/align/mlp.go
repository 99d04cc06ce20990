package align

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/sgemm"
	"github.com/retrofit-llm/retrofit/transforms"
)

// refitMLP refits layer l's down_proj, after its o_proj refit, by least
// squares so that the layer's output in the converted model matches the
// original's: the MLP's output on the converted model's MLP activations
// should be the original MLP's output plus the drift of the residual stream
// after attention (original − converted). Same closed form, ridge and
// held-out choice as the o_proj refit; no parameters added. ps are the
// samples' attention outputs and layer inputs from that refit (the
// layer's own o_proj does not change them).
func refitMLP(m *model.Model, e *transforms.Edit, l int, ps []pair, env transforms.Env) (OutFit, error) {
	c := m.Config
	cm, err := e.Result(m)
	if err != nil {
		return OutFit{}, err
	}
	mo, err := loadMLP(m, m, l)
	if err != nil {
		return OutFit{}, err
	}
	mc, err := loadMLP(m, cm, l)
	if err != nil {
		return OutFit{}, err
	}
	st, held := newOutStats(c.Intermediate, c.Hidden), newOutStats(c.Intermediate, c.Hidden)
	for i, p := range ps {
		if err := env.Ctx().Err(); err != nil {
			return OutFit{}, fmt.Errorf("align: cancelled at layer %d sample %d: %w", l, i, err)
		}
		mid, act := mo.act(c, p.x, p.y)
		mid2, act2 := mc.act(c, p.x2, p.y2)
		for i := range mid {
			mid[i] -= mid2[i]
		}
		into := st
		if i%holdEvery == holdEvery-1 {
			into = held
		}
		into.add(act2, act)
		into.addDrift(act2, mid)
	}
	out, err := refitTensor(m, cm, e, model.BlockName(l, "mlp.down_proj.weight"), l, st, held)
	if err != nil {
		return out, err
	}
	env.Logf("align: layer %d down_proj refit (ridge %g): MLP output explained %.3f → %.3f", l, out.Ridge, out.VFold, out.Refitted)
	return out, nil
}

// mlpWeights are what a layer needs from attention output to MLP
// activation: o_proj (of the model at hand), the post-attention norm and
// the gate and up projections (unchanged by K/V sharing: read from orig).
type mlpWeights struct {
	wo, norm, gate, up []float32
}

func loadMLP(orig, m *model.Model, l int) (*mlpWeights, error) {
	var w mlpWeights
	var err error
	for _, x := range []struct {
		m    *model.Model
		name string
		dst  *[]float32
	}{{m, "self_attn.o_proj.weight", &w.wo}, {orig, "post_attention_layernorm.weight", &w.norm},
		{orig, "mlp.gate_proj.weight", &w.gate}, {orig, "mlp.up_proj.weight", &w.up}} {
		if *x.dst, err = read(x.m, model.BlockName(l, x.name)); err != nil {
			return nil, err
		}
	}
	if m.Tensor(model.BlockName(l, "self_attn.o_proj.bias")) != nil {
		return nil, fmt.Errorf("align: layer %d has an o_proj bias; the MLP refit does not handle it", l)
	}
	return &w, nil
}

// act returns the residual stream after attention (x + y·W_oᵀ) and the MLP
// activation silu(gate)·up of its norm, [T × Intermediate].
func (w *mlpWeights) act(c model.Config, x, y []float32) (mid, act []float32) {
	hd, qd, in := c.Hidden, c.Heads*c.HeadDim, c.Intermediate
	t := len(x) / hd
	mid = append([]float32(nil), x...)
	sgemm.Gemm(false, true, t, hd, qd, 1, y, qd, w.wo, qd, 1, mid, hd)
	h := make([]float32, len(mid))
	for i := 0; i < t; i++ {
		numerics.RMSNorm(h[i*hd:(i+1)*hd], mid[i*hd:(i+1)*hd], w.norm, float32(c.RMSEps))
	}
	g, u := make([]float32, t*in), make([]float32, t*in)
	sgemm.Gemm(false, true, t, in, hd, 1, h, hd, w.gate, hd, 0, g, in)
	sgemm.Gemm(false, true, t, in, hd, 1, h, hd, w.up, hd, 0, u, in)
	numerics.SiLUMul(g, g, u)
	return mid, g
}

var _ = transforms.NewTensor{}

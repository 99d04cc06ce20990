package finetune

import (
	"fmt"
	"sort"

	"github.com/retrofit-llm/retrofit/model"
)

// Param is one trainable tensor in fp32 with its gradient and AdamW moments.
type Param struct {
	Name  string
	Shape []int
	W, G  []float32 // master weights and gradient
	M, V  []float32 // AdamW first and second moments (allocated by the optimizer)
	Decay bool      // weight decay applies (matrices; not norms or biases)
	Train bool      // updated by the optimizer
}

// blockParams are one physical block's tensors (nil when absent).
type blockParams struct {
	attnNorm, mlpNorm *Param
	q, k, v, o        *Param
	qb, kb, vb        *Param
	qNorm, kNorm      *Param
	gate, up, down    *Param
}

// Net is a model's weights in training form.
type Net struct {
	Cfg    model.Config
	Layout model.Layout
	Params []*Param // sorted by name

	embed, head, finalNorm *Param // head aliases embed when tied
	blocks                 []*blockParams
	cands                  [][]int
}

// NewNet copies the model's tensors to fp32 parameters.
func NewNet(m *model.Model) (*Net, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	c := m.Config
	n := &Net{Cfg: c, Layout: m.Layout.Clone()}
	for l := 0; l < c.Layers; l++ {
		if n.Layout.DepthMix[l] && !n.Layout.StoresKV(l) {
			return nil, fmt.Errorf("finetune: %s: depth_mix[%d] set on a layer that reads layer %d's K/V", m.Path, l, n.Layout.KVSource[l])
		}
	}
	get := func(name string) (*Param, error) {
		t := m.Tensor(name)
		if t == nil {
			return nil, nil
		}
		w, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("finetune: %w", err)
		}
		p := &Param{Name: name, Shape: append([]int(nil), t.Shape...), W: w, G: make([]float32, len(w)),
			Decay: len(t.Shape) == 2, Train: true}
		n.Params = append(n.Params, p)
		return p, nil
	}
	var err error
	must := func(name string) *Param {
		if err != nil {
			return nil
		}
		var p *Param
		p, err = get(name)
		return p
	}
	n.embed = must(model.EmbedName)
	n.finalNorm = must(model.FinalNormName)
	if c.TiedEmbeddings {
		n.head = n.embed
	} else {
		n.head = must(model.HeadName)
	}
	for b := 0; b < n.Layout.Blocks(); b++ {
		bn := func(s string) *Param { return must(model.BlockName(b, s)) }
		bp := &blockParams{
			attnNorm: bn("input_layernorm.weight"), mlpNorm: bn("post_attention_layernorm.weight"),
			q: bn("self_attn.q_proj.weight"), k: bn("self_attn.k_proj.weight"), v: bn("self_attn.v_proj.weight"),
			o: bn("self_attn.o_proj.weight"), qb: bn("self_attn.q_proj.bias"), kb: bn("self_attn.k_proj.bias"),
			vb: bn("self_attn.v_proj.bias"), qNorm: bn("self_attn.q_norm.weight"), kNorm: bn("self_attn.k_norm.weight"),
			gate: bn("mlp.gate_proj.weight"), up: bn("mlp.up_proj.weight"), down: bn("mlp.down_proj.weight"),
		}
		n.blocks = append(n.blocks, bp)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(n.Params, func(i, j int) bool { return n.Params[i].Name < n.Params[j].Name })
	n.cands = make([][]int, c.Layers)
	for l := range n.cands {
		n.cands[l] = n.Layout.DepthCandidates(l)
	}
	return n, nil
}

// ParamCount returns the number of parameters (a tied head counts once).
func (n *Net) ParamCount() int64 {
	var s int64
	for _, p := range n.Params {
		s += int64(len(p.W))
	}
	return s
}

// ZeroGrad clears every gradient.
func (n *Net) ZeroGrad() {
	for _, p := range n.Params {
		clear(p.G)
	}
}

// ToModel returns a copy of src (config, layout, side files, provenance)
// holding the net's current weights as F32 tensors, in src's tensor order.
func (n *Net) ToModel(src *model.Model) *model.Model {
	out := &model.Model{Path: src.Path, Format: src.Format, Config: src.Config, Layout: n.Layout.Clone(),
		Files: src.Files, Vocab: src.Vocab, Provenance: append([]model.Step(nil), src.Provenance...)}
	byName := map[string]*Param{}
	for _, p := range n.Params {
		byName[p.Name] = p
	}
	for _, t := range src.Tensors {
		if p := byName[t.Name]; p != nil {
			out.Tensors = append(out.Tensors, model.FromFloat32(p.Name, p.Shape, append([]float32(nil), p.W...)))
		}
	}
	return out
}

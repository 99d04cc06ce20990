package engine

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
)

// block holds one physical block's weights, decoded to fp32. The q, k and v
// projections are fused into one [qd+2·kvd × hidden] matrix (q rows first)
// and gate/up into one [2·intermediate × hidden] matrix (gate rows first), so
// a layer runs two GEMMs where it would run five.
type block struct {
	attnNorm, mlpNorm []float32
	wqkv              []float32 // q rows, then k and v rows when hasKV
	bqkv              []float32 // biases in the same order (nil without AttnBias)
	qNorm, kNorm      []float32 // per-head RMS norm weights (nil without QKNorm)
	hasKV             bool
	wo                []float32 // [hidden × qd]
	wgu               []float32 // [2·intermediate × hidden]
	wdown             []float32 // [hidden × intermediate]
}

// weights is the fp32 copy of a model, shared by engines made with WithLayout.
type weights struct {
	cfg       model.Config
	embed     []float32 // [vocab × hidden]
	head      []float32 // [vocab × hidden]; aliases embed when tied
	finalNorm []float32
	blocks    []*block
}

// loadWeights decodes every tensor the model's layout needs.
func loadWeights(m *model.Model) (*weights, error) {
	c := m.Config
	get := func(name string, shape ...int) ([]float32, error) {
		t := m.Tensor(name)
		if t == nil {
			return nil, fmt.Errorf("engine: %s: missing tensor %q", m.Path, name)
		}
		if len(t.Shape) != len(shape) || t.Elements() != model.Elements(shape) {
			return nil, fmt.Errorf("engine: %s: tensor %q has shape %v, want %v", m.Path, name, t.Shape, shape)
		}
		for i := range shape {
			if t.Shape[i] != shape[i] {
				return nil, fmt.Errorf("engine: %s: tensor %q has shape %v, want %v", m.Path, name, t.Shape, shape)
			}
		}
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		return v, nil
	}
	w := &weights{cfg: c}
	var err error
	if w.embed, err = get(model.EmbedName, c.VocabSize, c.Hidden); err != nil {
		return nil, err
	}
	if w.finalNorm, err = get(model.FinalNormName, c.Hidden); err != nil {
		return nil, err
	}
	if c.TiedEmbeddings {
		w.head = w.embed
	} else if w.head, err = get(model.HeadName, c.VocabSize, c.Hidden); err != nil {
		return nil, err
	}
	qd, kvd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	for p := 0; p < m.Layout.Blocks(); p++ {
		b := &block{hasKV: m.Layout.BlockHasKV(p)}
		g := func(suffix string, shape ...int) []float32 {
			if err != nil {
				return nil
			}
			var v []float32
			v, err = get(model.BlockName(p, suffix), shape...)
			return v
		}
		b.attnNorm = g("input_layernorm.weight", c.Hidden)
		b.mlpNorm = g("post_attention_layernorm.weight", c.Hidden)
		wq := g("self_attn.q_proj.weight", qd, c.Hidden)
		b.wo = g("self_attn.o_proj.weight", c.Hidden, qd)
		gate := g("mlp.gate_proj.weight", c.Intermediate, c.Hidden)
		up := g("mlp.up_proj.weight", c.Intermediate, c.Hidden)
		b.wdown = g("mlp.down_proj.weight", c.Hidden, c.Intermediate)
		var bq, wk, wv, bk, bv []float32
		if c.AttnBias {
			bq = g("self_attn.q_proj.bias", qd)
		}
		if c.QKNorm {
			b.qNorm = g("self_attn.q_norm.weight", c.HeadDim)
		}
		if b.hasKV {
			wk = g("self_attn.k_proj.weight", kvd, c.Hidden)
			wv = g("self_attn.v_proj.weight", kvd, c.Hidden)
			if c.AttnBias {
				bk = g("self_attn.k_proj.bias", kvd)
				bv = g("self_attn.v_proj.bias", kvd)
			}
			if c.QKNorm {
				b.kNorm = g("self_attn.k_norm.weight", c.HeadDim)
			}
		}
		if err != nil {
			return nil, err
		}
		b.wqkv = concat(wq, wk, wv)
		if c.AttnBias {
			b.bqkv = concat(bq, bk, bv)
		}
		b.wgu = concat(gate, up)
		w.blocks = append(w.blocks, b)
	}
	return w, nil
}

func concat(parts ...[]float32) []float32 {
	if len(parts) == 1 || len(parts[1]) == 0 && (len(parts) < 3 || len(parts[2]) == 0) {
		return parts[0]
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]float32, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

package engine

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
)

// block holds one physical block's weights. Matrices stay in their stored
// encoding (linear); only the norm weights and biases, a few KB per layer,
// are decoded to fp32.
type block struct {
	attnNorm, mlpNorm []float32
	wq, wk, wv        *linear // wk, wv nil without hasKV
	bq, bk, bv        []float32
	qNorm, kNorm      []float32 // per-head RMS norm weights (nil without QKNorm)
	hasKV             bool
	wo                *linear // [hidden × qd]
	wgate, wup        *linear // [intermediate × hidden]
	wdown             *linear // [hidden × intermediate]
}

// weights is a model's tensors as the engine reads them, shared by engines
// made with WithLayout.
type weights struct {
	cfg       model.Config
	embed     *linear // [vocab × hidden]
	head      *linear // [vocab × hidden]; the same matrix as embed when tied
	finalNorm []float32
	blocks    []*block
}

// bytes returns the stored bytes of every matrix the engine reads.
func (w *weights) bytes() int64 {
	n := w.embed.bytes()
	if w.head != w.embed {
		n += w.head.bytes()
	}
	for _, b := range w.blocks {
		for _, l := range []*linear{b.wq, b.wk, b.wv, b.wo, b.wgate, b.wup, b.wdown} {
			if l != nil {
				n += l.bytes()
			}
		}
	}
	return n
}

// loader fetches a model's tensors, checking names and shapes; the first
// error sticks.
type loader struct {
	m   *model.Model
	err error
}

func (ld *loader) tensor(name string, shape ...int) *model.Tensor {
	if ld.err != nil {
		return nil
	}
	m := ld.m
	t := m.Tensor(name)
	if t == nil {
		ld.err = fmt.Errorf("engine: %s: missing tensor %q", m.Path, name)
		return nil
	}
	ok := len(t.Shape) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = t.Shape[i] == shape[i]
	}
	if !ok {
		ld.err = fmt.Errorf("engine: %s: tensor %q has shape %v, want %v", m.Path, name, t.Shape, shape)
		return nil
	}
	return t
}

// vec decodes a small tensor (norm weight, bias) to fp32.
func (ld *loader) vec(name string, n int) []float32 {
	t := ld.tensor(name, n)
	if t == nil {
		return nil
	}
	v, err := t.Float32()
	if err != nil {
		ld.err = fmt.Errorf("engine: %w", err)
	}
	return v
}

// mat wraps a [rows × cols] matrix in its stored encoding.
func (ld *loader) mat(name string, rows, cols int) *linear {
	t := ld.tensor(name, rows, cols)
	if t == nil {
		return nil
	}
	l, err := newLinear(t, rows, cols)
	if err != nil {
		ld.err = fmt.Errorf("engine: %s: %w", ld.m.Path, err)
	}
	return l
}

// loadWeights wraps every tensor the model's layout needs. Matrices alias
// the model's stored bytes, so the model must stay open while the engine runs.
func loadWeights(m *model.Model) (*weights, error) {
	c := m.Config
	ld := &loader{m: m}
	w := &weights{cfg: c}
	w.embed = ld.mat(model.EmbedName, c.VocabSize, c.Hidden)
	w.finalNorm = ld.vec(model.FinalNormName, c.Hidden)
	if c.TiedEmbeddings {
		w.head = w.embed
	} else {
		w.head = ld.mat(model.HeadName, c.VocabSize, c.Hidden)
	}
	qd, kvd := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	for p := 0; p < m.Layout.Blocks(); p++ {
		b := &block{hasKV: m.Layout.BlockHasKV(p)}
		n := func(suffix string) string { return model.BlockName(p, suffix) }
		b.attnNorm = ld.vec(n("input_layernorm.weight"), c.Hidden)
		b.mlpNorm = ld.vec(n("post_attention_layernorm.weight"), c.Hidden)
		b.wq = ld.mat(n("self_attn.q_proj.weight"), qd, c.Hidden)
		b.wo = ld.mat(n("self_attn.o_proj.weight"), c.Hidden, qd)
		b.wgate = ld.mat(n("mlp.gate_proj.weight"), c.Intermediate, c.Hidden)
		b.wup = ld.mat(n("mlp.up_proj.weight"), c.Intermediate, c.Hidden)
		b.wdown = ld.mat(n("mlp.down_proj.weight"), c.Hidden, c.Intermediate)
		if c.AttnBias {
			b.bq = ld.vec(n("self_attn.q_proj.bias"), qd)
		}
		if c.QKNorm {
			b.qNorm = ld.vec(n("self_attn.q_norm.weight"), c.HeadDim)
		}
		if b.hasKV {
			b.wk = ld.mat(n("self_attn.k_proj.weight"), kvd, c.Hidden)
			b.wv = ld.mat(n("self_attn.v_proj.weight"), kvd, c.Hidden)
			if c.AttnBias {
				b.bk = ld.vec(n("self_attn.k_proj.bias"), kvd)
				b.bv = ld.vec(n("self_attn.v_proj.bias"), kvd)
			}
			if c.QKNorm {
				b.kNorm = ld.vec(n("self_attn.k_norm.weight"), c.HeadDim)
			}
		}
		if ld.err != nil {
			return nil, ld.err
		}
		w.blocks = append(w.blocks, b)
	}
	if ld.err != nil {
		return nil, ld.err
	}
	return w, nil
}

package model

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// Model is a checkpoint in retrofit's IR.
type Model struct {
	Path   string // where it was loaded from
	Format string // "safetensors", "gguf" or "pytorch"

	Config Config
	Layout Layout

	// Tensors in file order; look them up by name with Tensor.
	Tensors []*Tensor

	// Files holds side files carried from the checkpoint directory, by base
	// name: tokenizer.json, tokenizer_config.json, chat_template.jinja,
	// generation_config.json.
	Files map[string][]byte

	// Vocab is the tokenizer as GGUF metadata stores it, when the model came
	// from a GGUF file (nil otherwise).
	Vocab *Vocab

	// Provenance lists the transforms applied, oldest first.
	Provenance []Step

	index   map[string]int
	closers []io.Closer
}

// SideFiles are the files carried from an HF directory when present.
var SideFiles = []string{"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"}

// Tensor returns the named tensor or nil.
func (m *Model) Tensor(name string) *Tensor {
	if m.index == nil || len(m.index) != len(m.Tensors) {
		m.reindex()
	}
	i, ok := m.index[name]
	if !ok || i >= len(m.Tensors) || m.Tensors[i].Name != name {
		m.reindex()
		i, ok = m.index[name]
		if !ok {
			return nil
		}
	}
	return m.Tensors[i]
}

func (m *Model) reindex() {
	m.index = make(map[string]int, len(m.Tensors))
	for i, t := range m.Tensors {
		m.index[t.Name] = i
	}
}

// SetTensor adds t, or replaces the tensor of the same name in place.
func (m *Model) SetTensor(t *Tensor) {
	if old := m.Tensor(t.Name); old != nil {
		m.Tensors[m.index[t.Name]] = t
		return
	}
	m.Tensors = append(m.Tensors, t)
	if m.index != nil {
		m.index[t.Name] = len(m.Tensors) - 1
	}
}

// RemoveTensor drops the named tensor; it reports whether it was there.
func (m *Model) RemoveTensor(name string) bool {
	if m.Tensor(name) == nil {
		return false
	}
	i := m.index[name]
	m.Tensors = append(m.Tensors[:i], m.Tensors[i+1:]...)
	m.reindex()
	return true
}

// AddCloser registers a resource (a mapped file) released by Close.
func (m *Model) AddCloser(c io.Closer) { m.closers = append(m.closers, c) }

// Close releases the files the tensors are read from. Tensors must not be
// read afterwards.
func (m *Model) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// ParamCount returns the number of parameters stored (a tied head counts once).
func (m *Model) ParamCount() int64 {
	var n int64
	for _, t := range m.Tensors {
		n += t.Elements()
	}
	return n
}

// BytesByDType returns the stored bytes per dtype.
func (m *Model) BytesByDType() map[DType]int64 {
	out := map[DType]int64{}
	for _, t := range m.Tensors {
		out[t.DType] += t.Size()
	}
	return out
}

// KVBytesPerToken returns the fp16 KV-cache bytes per token of the layout.
func (m *Model) KVBytesPerToken() int64 { return KVBytesPerToken(m.Config, m.Layout) }

// BlockName returns the tensor name of a per-block weight, e.g.
// BlockName(3, "self_attn.q_proj.weight") = "model.layers.3.self_attn.q_proj.weight".
func BlockName(block int, suffix string) string {
	return fmt.Sprintf("model.layers.%d.%s", block, suffix)
}

// Tensor names outside the blocks.
const (
	EmbedName     = "model.embed_tokens.weight"
	FinalNormName = "model.norm.weight"
	HeadName      = "lm_head.weight"
)

// ExpectedShapes returns every tensor the config and layout call for, with its
// shape: the contract between loaders, transforms, the engine and exporters.
func ExpectedShapes(c Config, l Layout) map[string][]int {
	q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	out := map[string][]int{
		EmbedName:     {c.VocabSize, c.Hidden},
		FinalNormName: {c.Hidden},
	}
	if !c.TiedEmbeddings {
		out[HeadName] = []int{c.VocabSize, c.Hidden}
	}
	for p := 0; p < l.Blocks(); p++ {
		add := func(s string, shape ...int) { out[BlockName(p, s)] = shape }
		add("input_layernorm.weight", c.Hidden)
		add("post_attention_layernorm.weight", c.Hidden)
		add("self_attn.q_proj.weight", q, c.Hidden)
		add("self_attn.o_proj.weight", c.Hidden, q)
		add("mlp.gate_proj.weight", c.Intermediate, c.Hidden)
		add("mlp.up_proj.weight", c.Intermediate, c.Hidden)
		add("mlp.down_proj.weight", c.Hidden, c.Intermediate)
		if c.AttnBias {
			add("self_attn.q_proj.bias", q)
		}
		if c.QKNorm {
			add("self_attn.q_norm.weight", c.HeadDim)
		}
		if l.BlockHasKV(p) {
			add("self_attn.k_proj.weight", kv, c.Hidden)
			add("self_attn.v_proj.weight", kv, c.Hidden)
			if c.AttnBias {
				add("self_attn.k_proj.bias", kv)
				add("self_attn.v_proj.bias", kv)
			}
			if c.QKNorm {
				add("self_attn.k_norm.weight", c.HeadDim)
			}
		}
	}
	return out
}

// Validate checks the config, the layout, and that the tensors are exactly
// those the config and layout call for, with matching shapes. where names the
// file for error messages.
func (m *Model) Validate() error {
	where := m.Path
	if err := m.Config.Validate(); err != nil {
		return fmt.Errorf("%s: config: %w", where, err)
	}
	if err := m.Layout.Validate(m.Config.Layers); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	want := ExpectedShapes(m.Config, m.Layout)
	for _, t := range m.Tensors {
		shape, ok := want[t.Name]
		if !ok {
			return fmt.Errorf("%s: tensor %q is not part of a %s model with this config and layout", where, t.Name, m.Config.Family)
		}
		if !equalShape(shape, t.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", where, t.Name, t.Shape, shape)
		}
	}
	var missing []string
	for name := range want {
		if m.Tensor(name) == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if len(missing) > 3 {
			missing = append(missing[:3], fmt.Sprintf("and %d more", len(missing)-3))
		}
		return fmt.Errorf("%s: missing tensors %v", where, missing)
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Vocab is a byte-level BPE tokenizer as GGUF stores it (tokenizer.ggml.*).
type Vocab struct {
	Model        string   // tokenizer.ggml.model, "gpt2" for Qwen
	Pre          string   // tokenizer.ggml.pre, "qwen2" for Qwen
	Tokens       []string // by id
	Types        []int32  // llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
	Merges       []string // "a b", by rank
	BOS          int      // -1 when unset
	EOS          int
	PAD          int
	AddBOS       bool
	ChatTemplate string
}

// Package gguf loads GGUF checkpoints (llama.cpp's format, versions 2 and 3)
// of Qwen2/Qwen3 models into retrofit's IR: tensors stay memory-mapped and
// lazy in the dtype stored, names and shapes are translated to the Hugging
// Face convention, the config comes from the <arch>.* keys, the tokenizer from
// tokenizer.ggml.*, and a transformed layout from the retrofit.* keys.
package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ggufc "github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	_ "github.com/retrofit-llm/retrofit/quant" // decoders of the quantized dtypes
)

func init() {
	loaders.Register(loaders.Format{Name: "gguf", Detect: Detect, Load: Load})
}

// Detect reports whether path is a regular file named *.gguf or starting with
// the GGUF magic (a .gguf file with a bad magic is claimed, so that loading it
// says what is wrong).
func Detect(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".gguf") {
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		return false
	}
	return string(magic[:]) == ggufc.Magic
}

// dtypes maps the GGUF tensor types retrofit reads.
var dtypes = map[ggufc.TensorType]model.DType{
	ggufc.TensorF32:  model.F32,
	ggufc.TensorF16:  model.F16,
	ggufc.TensorBF16: model.BF16,
	ggufc.TensorQ8_0: model.Q8_0,
	ggufc.TensorQ4_0: model.Q4_0,
	ggufc.TensorQ4_K: model.Q4_K,
	ggufc.TensorQ6_K: model.Q6_K,
}

// Load maps the file and reads its header; tensors are read on demand until
// the model is closed.
func Load(path string) (*model.Model, error) {
	mf, err := model.MapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf %s: %w", path, err)
	}
	m, err := load(path, mf)
	if err != nil {
		mf.Close()
		return nil, err
	}
	m.AddCloser(mf)
	return m, nil
}

func load(path string, mf *model.MappedFile) (*model.Model, error) {
	f, err := ggufc.Read(mf, mf.Len())
	if err != nil {
		return nil, fmt.Errorf("gguf %s: %w", path, err)
	}
	md := meta{path: path, f: f}
	arch := md.str("general.architecture", "")
	family, ok := model.GGUFFamily(arch)
	if md.err == nil && !ok {
		return nil, fmt.Errorf("gguf %s: general.architecture %.40q is not supported (want qwen2 or qwen3, or qwen2%s or qwen3%s)", path, arch, model.GGUFArchSuffix, model.GGUFArchSuffix)
	}
	m := &model.Model{Path: path, Format: "gguf", Files: map[string][]byte{}}
	for _, ti := range f.Tensors {
		t, err := tensor(path, mf, f, ti)
		if err != nil {
			return nil, err
		}
		if m.Tensor(t.Name) != nil {
			return nil, fmt.Errorf("gguf %s: tensor %q: two GGUF tensors map to %s", path, ti.Name, t.Name)
		}
		m.Tensors = append(m.Tensors, t)
	}
	if m.Config, err = md.config(arch, family, m); err != nil {
		return nil, err
	}
	if m.Layout, m.Provenance, err = md.layout(m.Config.Layers); err != nil {
		return nil, err
	}
	if m.Vocab, err = md.vocab(); err != nil {
		return nil, err
	}
	if m.Vocab != nil && len(m.Vocab.Tokens) != m.Config.VocabSize {
		// llama.cpp refuses this file too: its vocabulary sizes the embedding.
		return nil, fmt.Errorf("gguf %s: metadata \"tokenizer.ggml.tokens\": %d tokens, but \"token_embd.weight\" has %d rows", path, len(m.Vocab.Tokens), m.Config.VocabSize)
	}
	return m, nil
}

// tensor describes one GGUF tensor as a lazy HF tensor.
func tensor(path string, mf *model.MappedFile, f *ggufc.File, ti ggufc.TensorInfo) (*model.Tensor, error) {
	name, ok := model.HFName(ti.Name)
	if !ok {
		return nil, fmt.Errorf("gguf %s: tensor %q: not a Qwen2/Qwen3 tensor name retrofit knows", path, ti.Name)
	}
	dt, ok := dtypes[ti.Type]
	if !ok {
		return nil, fmt.Errorf("gguf %s: tensor %q: type %v is not supported (retrofit reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", path, ti.Name, ti.Type)
	}
	shape := make([]int, len(ti.Dims))
	for i, d := range ti.Dims {
		shape[len(shape)-1-i] = int(d)
	}
	t, err := model.NewLazyTensor(name, dt, shape, path, mf, f.DataOffset+int64(ti.Offset), int64(ti.Size))
	if err != nil {
		return nil, fmt.Errorf("gguf %s: tensor %q: %w", path, ti.Name, err)
	}
	return t, nil
}

// meta reads typed metadata, remembering the first error.
type meta struct {
	path string
	f    *ggufc.File
	err  error
}

func (md *meta) fail(key, format string, args ...any) {
	if md.err == nil {
		md.err = fmt.Errorf("gguf %s: metadata %q: %s", md.path, key, fmt.Sprintf(format, args...))
	}
}

func (md *meta) get(key string) (ggufc.Value, bool) { return md.f.Get(key) }

// int reads a non-negative integer key; def is returned when the key is
// absent, and a required key (def < 0) fails when absent.
func (md *meta) int(key string, def int64) int64 {
	n, ok := md.optInt(key)
	if !ok {
		if def < 0 {
			md.fail(key, "missing")
		}
		return def
	}
	return n
}

// optInt reads a non-negative integer key that may be absent.
func (md *meta) optInt(key string) (int64, bool) {
	v, ok := md.get(key)
	if !ok {
		return 0, false
	}
	n, ok := v.Int()
	if !ok || n < 0 || n > 1<<31 {
		md.fail(key, "%s %s is not a valid count", v.TypeName(), brief(v.V))
		return 0, false
	}
	return n, true
}

// float reads a float key, written back as the shortest decimal of its float32
// so that 1e-6 stored as float32 reads 1e-6 again.
func (md *meta) float(key string, def float64) float64 {
	v, ok := md.get(key)
	if !ok {
		return def
	}
	switch x := v.V.(type) {
	case float32:
		return shortest(x)
	case float64:
		return x
	}
	md.fail(key, "is %s, want a float", v.TypeName())
	return 0
}

func (md *meta) str(key, def string) string {
	v, ok := md.get(key)
	if !ok {
		if def == "" {
			md.fail(key, "missing")
		}
		return def
	}
	s, ok := v.Str()
	if !ok {
		md.fail(key, "is %s, want a string", v.TypeName())
	}
	return s
}

func (md *meta) ints(key string) []int {
	v, ok := md.get(key)
	if !ok {
		return nil
	}
	a, ok := v.Ints()
	if !ok {
		md.fail(key, "is %s, want an array of integers", v.TypeName())
		return nil
	}
	out := make([]int, len(a))
	for i, x := range a {
		if x < -1<<31 || x > 1<<31 {
			md.fail(key, "element %d = %d out of range", i, x)
			return nil
		}
		out[i] = int(x)
	}
	return out
}

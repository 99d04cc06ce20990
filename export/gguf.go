package export

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/model"
)

// GGUFOptions controls the GGUF exporter.
type GGUFOptions struct {
	// DType of the 2-D weights: F32, F16, BF16 or Q8_0. Norms and biases stay
	// F32, and under Q8_0 a weight whose rows are not a multiple of 32 falls
	// back to F16, as llama.cpp's converter does.
	DType model.DType
	// Unroll writes a looped model (LayerMap not the identity) in a stock
	// layout: every logical layer gets its own copy of its physical block.
	Unroll bool
	// Progress, when set, is called after each tensor with (done, total).
	Progress func(done, total int)
	// Context, when set, stops the write between chunks once cancelled;
	// nothing is left behind.
	Context context.Context
}

// ggufFileType is general.file_type (llama.cpp's LlamaFileType) per DType.
var ggufFileType = map[model.DType]uint32{model.F32: 0, model.F16: 1, model.Q8_0: 7, model.BF16: 32}

var ggufTensorType = map[model.DType]gguf.TensorType{
	model.F32: gguf.TensorF32, model.F16: gguf.TensorF16, model.BF16: gguf.TensorBF16,
	model.Q8_0: gguf.TensorQ8_0, model.Q4_0: gguf.TensorQ4_0, model.Q4_K: gguf.TensorQ4_K, model.Q6_K: gguf.TensorQ6_K,
}

// outTensor is one tensor of the output file.
type outTensor struct {
	src   *model.Tensor
	dtype model.DType
}

// GGUF writes m as a GGUF v3 file at path, laid out as llama.cpp's
// convert_hf_to_gguf.py writes Qwen2/Qwen3 models: the same metadata keys and
// values (tokenizer included), tensor names, shapes, types and bytes; only
// general.* keys may differ (general.name comes from the model's file name,
// and the converter's model-card keys such as general.basename or
// general.license are not written). Tensors are ordered as the converter
// orders them: the source files in turn (safetensors shards), each
// safetensors file's tensors sorted by HF name — so blk.10 comes before blk.2,
// as in llama.cpp's files — and other sources' tensors in their order; an
// unrolled model is written embedding, blocks in numeric order,
// final norm, head. A transformed model (non-identity layout or
// provenance) also gets the retrofit.* layout keys; a stock model none.
//
// The header is written first from shapes and dtypes, then the tensors one at
// a time, converted in chunks, into a temporary file renamed into place when
// complete.
func GGUF(m *model.Model, path string, opts GGUFOptions) error {
	if _, ok := ggufFileType[opts.DType]; !ok {
		return fmt.Errorf("export %s: GGUF dtype %v is not supported (F32, F16, BF16 or Q8_0)", path, opts.DType)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("export %s: is a directory; a GGUF output is one file", path)
	}
	if err := checkOutputs(m, path); err != nil {
		return err
	}
	layout, tensors, err := ggufPlan(m, opts)
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	f := &gguf.File{Version: 3, Alignment: gguf.DefaultAlignment}
	var params int64
	for _, t := range tensors {
		f.Tensors = append(f.Tensors, gguf.TensorInfo{Name: t.src.Name, Dims: ggufDims(t.src.Shape), Type: ggufTensorType[t.dtype]})
		params += t.src.Elements()
	}
	for i := range f.Tensors {
		name, _ := model.GGUFName(f.Tensors[i].Name)
		f.Tensors[i].Name = name
	}
	if f.KV, err = ggufMetadata(m, layout, opts.DType, params); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	if _, err := f.Layout(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	out, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	w := bufio.NewWriterSize(out, 1<<20)
	pos, err := gguf.WriteHeader(w, f)
	if err != nil {
		return fmt.Errorf("export %s: header: %w", path, err)
	}
	conv := newConverter(opts.Context)
	for i, t := range tensors {
		n, err := conv.write(w, t.src, t.dtype)
		if err != nil {
			return fmt.Errorf("export %s: tensor %q: %w", path, f.Tensors[i].Name, err)
		}
		if uint64(n) != f.Tensors[i].Size {
			return fmt.Errorf("export %s: tensor %q: wrote %d bytes, header says %d", path, f.Tensors[i].Name, n, f.Tensors[i].Size)
		}
		pos += n
		pad := gguf.Padding(pos, f.Alignment)
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("export %s: %w", path, err)
		}
		pos += pad
		if opts.Progress != nil {
			opts.Progress(i+1, len(tensors))
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return out.Commit()
}

// ggufDims reverses an HF shape into GGUF's ne order.
func ggufDims(shape []int) []uint64 {
	d := make([]uint64, len(shape))
	for i, s := range shape {
		d[len(shape)-1-i] = uint64(s)
	}
	return d
}

// ggufPlan lists the output tensors (renamed to their output HF names, in
// file order) with their stored dtype, and the layout the file records.
func ggufPlan(m *model.Model, opts GGUFOptions) (model.Layout, []outTensor, error) {
	layout := m.Layout.Clone()
	blocks := map[int][]*model.Tensor{}
	var embed, norm, head *model.Tensor
	for _, t := range m.Tensors {
		if _, ok := model.GGUFName(t.Name); !ok {
			return layout, nil, fmt.Errorf("tensor %q has no GGUF name", t.Name)
		}
		switch t.Name {
		case model.EmbedName:
			embed = t
		case model.FinalNormName:
			norm = t
		case model.HeadName:
			head = t
		default:
			var p int
			rest := strings.TrimPrefix(t.Name, "model.layers.")
			if _, err := fmt.Sscanf(rest, "%d.", &p); err != nil {
				return layout, nil, fmt.Errorf("tensor %q: no block number", t.Name)
			}
			blocks[p] = append(blocks[p], t)
		}
	}
	for _, ts := range blocks {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	}
	if embed == nil || norm == nil {
		return layout, nil, fmt.Errorf("model has no %s or %s", model.EmbedName, model.FinalNormName)
	}
	var out []outTensor
	add := func(t *model.Tensor) {
		dt := opts.DType
		switch {
		case len(t.Shape) <= 1:
			dt = model.F32
		case dt == model.Q8_0 && t.Shape[len(t.Shape)-1]%32 != 0:
			dt = model.F16
		}
		out = append(out, outTensor{src: t, dtype: dt})
	}
	if opts.Unroll && !identity(layout.LayerMap) {
		add(embed)
		for l, p := range layout.LayerMap {
			prefix := fmt.Sprintf("model.layers.%d.", p)
			for _, t := range blocks[p] {
				suffix := strings.TrimPrefix(t.Name, prefix)
				if !layout.StoresKV(l) && isKV(suffix) {
					continue
				}
				add(t.Renamed(model.BlockName(l, suffix)))
			}
		}
		add(norm)
		if head != nil {
			add(head)
		}
		layout.LayerMap = model.DefaultLayout(len(layout.LayerMap)).LayerMap
		return layout, out, nil
	}
	// llama.cpp's order: the checkpoint's files in turn, each safetensors
	// file's tensors sorted by name (the converter's key order); other
	// sources (GGUF, PyTorch) keep their order.
	var files []string
	byFile := map[string][]*model.Tensor{}
	for _, t := range m.Tensors {
		if _, seen := byFile[t.File()]; !seen {
			files = append(files, t.File())
		}
		byFile[t.File()] = append(byFile[t.File()], t)
	}
	for _, f := range files {
		ts := byFile[f]
		if m.Format == "safetensors" {
			sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
		}
		for _, t := range ts {
			add(t)
		}
	}
	return layout, out, nil
}

func isKV(suffix string) bool {
	return strings.HasPrefix(suffix, "self_attn.k_proj.") || strings.HasPrefix(suffix, "self_attn.v_proj.") ||
		strings.HasPrefix(suffix, "self_attn.k_norm.")
}

func identity(a []int) bool {
	for i, x := range a {
		if x != i {
			return false
		}
	}
	return true
}

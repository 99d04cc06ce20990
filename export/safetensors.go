package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/retrofit-llm/retrofit/internal/safefile"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// SafeTensorsOptions controls the safetensors exporter.
type SafeTensorsOptions struct {
	// DType of the weights written: F32, F16 or BF16. The zero value (F32)
	// keeps each tensor's dtype when it is F32, F16 or BF16 (a quantized
	// tensor becomes F32) unless ForceDType is set; F16 and BF16 always
	// convert.
	DType model.DType
	// ForceDType makes DType apply even when it is F32 (the zero value):
	// set it whenever a dtype was asked for.
	ForceDType bool
	// ShardBytes, when positive, splits the weights into
	// model-0000i-of-0000n.safetensors files of at most this many tensor
	// bytes (a larger tensor gets a file of its own) plus
	// model.safetensors.index.json; 0 writes one model.safetensors.
	ShardBytes int64
	// Progress, when set, is called after each tensor with (done, total).
	Progress func(done, total int)
	// Context, when set, stops the write between chunks once cancelled;
	// nothing is left behind.
	Context context.Context
}

// stTensor is one tensor of the output with its place in its shard.
type stTensor struct {
	src   *model.Tensor
	dtype model.DType
	size  int64
}

// stShard is one output weights file.
type stShard struct {
	name    string
	tensors []stTensor
}

// stDTypeNames are safetensors' dtype names and config.json's dtype values.
var (
	stDTypeNames  = map[model.DType]string{model.F32: "F32", model.F16: "F16", model.BF16: "BF16"}
	hfDTypeValues = map[model.DType]string{model.F32: "float32", model.F16: "float16", model.BF16: "bfloat16"}
	stDTypeRank   = map[model.DType]int{model.F32: 2, model.BF16: 1, model.F16: 0} // the library's Dtype order
)

// SafeTensors writes m as a Hugging Face checkpoint directory dir (created if
// missing): config.json (HFConfigJSON, with the retrofit layout object and,
// for a transformed model, auto_map and the remote-code files of
// WriteRemoteCode), the weights as model.safetensors or shards with
// model.safetensors.index.json, and the side files carried in m.Files.
// Tensors are sorted by name (F32 ones first in a file of mixed dtypes), as
// the safetensors library writes them for transformers; each header holds
// __metadata__ {"format": "pt"} and is space-padded to a multiple of 8 bytes.
//
// Headers are computed from shapes and dtypes first; tensors are then
// converted and written one at a time. Every file goes to a temporary name
// and all are renamed into place only once everything is written, so an
// error leaves no partial output; stale weight files of an earlier export to
// dir are removed after. Exporting into the directory m was loaded from is
// refused.
func SafeTensors(m *model.Model, dir string, opts SafeTensorsOptions) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	shards, dtype, err := stPlan(m, opts)
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if err := checkOutputDir(m, dir, shards); err != nil {
		return err
	}
	stage, created, err := stageDir(dir)
	if err != nil {
		return err
	}
	b := &batch{}
	ok := false
	defer func() {
		if !ok {
			b.abort()
			if created {
				os.RemoveAll(stage)
			}
		}
	}()
	done, total := 0, 0
	for _, s := range shards {
		total += len(s.tensors)
	}
	for _, s := range shards {
		if err := writeShard(b, filepath.Join(stage, s.name), s, opts.Context, func() {
			done++
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}); err != nil {
			return err
		}
	}
	if len(shards) > 1 {
		idx, err := stIndex(shards)
		if err != nil {
			return fmt.Errorf("export %s: index: %w", dir, err)
		}
		if err := b.add(filepath.Join(stage, "model.safetensors.index.json"), idx); err != nil {
			return err
		}
	}
	if err := writeHFSideFiles(b, m, stage, hfDTypeValues[dtype]); err != nil {
		return err
	}
	if err := interrupted(opts.Context); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if err := b.commit(); err != nil {
		return err
	}
	if created {
		if err := os.Rename(stage, dir); err != nil {
			return fmt.Errorf("export %s: %w", dir, err)
		}
	}
	ok = true
	return removeStaleWeights(dir, shards)
}

// stPlan picks each tensor's output dtype, orders the tensors and splits
// them into shards. It returns the dtype holding most bytes, for config.json.
func stPlan(m *model.Model, opts SafeTensorsOptions) ([]stShard, model.DType, error) {
	force := opts.ForceDType || opts.DType != model.F32
	if _, ok := stDTypeNames[opts.DType]; !ok {
		return nil, 0, fmt.Errorf("safetensors dtype %v is not supported (F32, F16 or BF16)", opts.DType)
	}
	planned := make([]stTensor, 0, len(m.Tensors))
	for _, t := range m.Tensors {
		dt := opts.DType
		if _, ok := stDTypeNames[t.DType]; ok && !force {
			dt = t.DType
		}
		size, err := dt.ByteSize(t.Elements())
		if err != nil {
			return nil, 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		planned = append(planned, stTensor{src: t, dtype: dt, size: size})
	}
	// The safetensors library's order: wider dtypes first (keeping every
	// tensor aligned to its element size), then by name.
	sort.Slice(planned, func(i, j int) bool {
		a, b := planned[i], planned[j]
		if stDTypeRank[a.dtype] != stDTypeRank[b.dtype] {
			return stDTypeRank[a.dtype] > stDTypeRank[b.dtype]
		}
		return a.src.Name < b.src.Name
	})
	byDType := map[model.DType]int64{}
	var shards []stShard
	var cur stShard
	var used int64
	for _, t := range planned {
		if opts.ShardBytes > 0 && len(cur.tensors) > 0 && used+t.size > opts.ShardBytes {
			shards = append(shards, cur)
			cur, used = stShard{}, 0
		}
		cur.tensors = append(cur.tensors, t)
		used += t.size
		byDType[t.dtype] += t.size
	}
	shards = append(shards, cur)
	for i := range shards {
		shards[i].name = "model.safetensors"
		if len(shards) > 1 {
			shards[i].name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
	}
	main := model.F32
	for _, dt := range []model.DType{model.F32, model.F16, model.BF16} {
		if byDType[dt] > byDType[main] {
			main = dt
		}
	}
	return shards, main, nil
}

// writeShard streams one weights file into the batch.
func writeShard(b *batch, path string, s stShard, ctx context.Context, progress func()) error {
	specs := make([]safetensors.Spec, len(s.tensors))
	for i, t := range s.tensors {
		specs[i] = safetensors.Spec{Name: t.src.Name, DType: stDTypeNames[t.dtype], Shape: t.src.Shape}
	}
	f, err := b.create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	sw, err := safetensors.NewWriter(w, map[string]string{"format": "pt"}, specs)
	if err != nil {
		return fmt.Errorf("export %s: header: %w", path, err)
	}
	conv := newConverter(ctx)
	for _, t := range s.tensors {
		n, err := conv.write(sw, t.src, t.dtype)
		if err != nil {
			return fmt.Errorf("export %s: tensor %q: %w", path, t.src.Name, err)
		}
		if n != t.size {
			return fmt.Errorf("export %s: tensor %q: wrote %d bytes, header says %d", path, t.src.Name, n, t.size)
		}
		progress()
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// stIndex is model.safetensors.index.json for the shards.
func stIndex(shards []stShard) ([]byte, error) {
	var size, params int64
	wm := map[string]string{}
	for _, s := range shards {
		for _, t := range s.tensors {
			size += t.size
			params += t.src.Elements()
			wm[t.src.Name] = s.name
		}
	}
	idx := map[string]any{
		"metadata":   map[string]int64{"total_size": size, "total_parameters": params},
		"weight_map": wm,
	}
	out, err := json.MarshalIndent(idx, "", "  ")
	return append(out, '\n'), err
}

// checkOutputDir refuses a target directory that is, or whose files to be
// written or removed are, inputs of m.
func checkOutputDir(m *model.Model, dir string, shards []stShard) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export %s: exists and is not a directory", dir)
	}
	outs := []string{dir, filepath.Join(dir, "model.safetensors.index.json"), filepath.Join(dir, "config.json")}
	for _, s := range shards {
		outs = append(outs, filepath.Join(dir, s.name))
	}
	for _, name := range model.SideFiles {
		outs = append(outs, filepath.Join(dir, name))
	}
	for _, name := range RemoteCodeFiles {
		outs = append(outs, filepath.Join(dir, name))
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if isWeightsFile(e.Name()) {
				outs = append(outs, filepath.Join(dir, e.Name()))
			}
		}
	}
	return checkOutputs(m, outs...)
}

// stageDir returns where the files are written: dir itself when it exists,
// else a temporary directory beside it (its parents created), renamed onto
// dir when everything is written so a killed export leaves no half-made
// directory, only a temporary one the next export to dir removes.
func stageDir(dir string) (stage string, created bool, err error) {
	if _, err := os.Stat(dir); err == nil {
		return dir, false, nil
	}
	if parent := filepath.Dir(filepath.Clean(dir)); parent != "." {
		if err := os.MkdirAll(parent, safefile.DirMode); err != nil {
			return "", false, fmt.Errorf("export %s: %w", dir, err)
		}
	}
	stage, err = safefile.MkdirTemp(dir)
	if err != nil {
		return "", false, fmt.Errorf("export %s: %w", dir, err)
	}
	return stage, true, nil
}

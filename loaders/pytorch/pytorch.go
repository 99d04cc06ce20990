// Package pytorch loads Hugging Face checkpoints saved with torch.save in the
// zip format (pytorch_model.bin) with their config.json and side files. The
// state dict in data.pkl is unpickled for names, dtypes, shapes and storage
// references; tensor bytes stay in the memory-mapped zip (torch stores them
// uncompressed) and are read lazily.
package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
)

// File names in an HF checkpoint directory: one state dict, or shards listed
// in an index.
const (
	WeightsFile = "pytorch_model.bin"
	IndexFile   = "pytorch_model.bin.index.json"
)

// maxPickleBytes bounds data.pkl (it holds names and shapes, not tensor bytes).
const maxPickleBytes = 256 << 20

func init() {
	loaders.Register(loaders.Format{Name: "pytorch", Detect: Detect, Load: Load})
}

// Detect reports whether path is a directory holding pytorch_model.bin or
// pytorch_model.bin.index.json (and no safetensors weights, which are
// preferred), a .bin/.pt/.pth file that starts like a zip archive, or an
// index file.
func Detect(p string) bool {
	st, err := os.Stat(p)
	if err != nil {
		return false
	}
	if st.IsDir() {
		for _, n := range []string{"model.safetensors", "model.safetensors.index.json"} {
			if _, err := os.Stat(filepath.Join(p, n)); err == nil {
				return false
			}
		}
		return isFile(filepath.Join(p, WeightsFile)) || isFile(filepath.Join(p, IndexFile))
	}
	if strings.HasSuffix(p, ".bin.index.json") {
		return st.Mode().IsRegular()
	}
	switch filepath.Ext(p) {
	case ".bin", ".pt", ".pth":
	default:
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "PK\x03\x04"
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Load opens a directory holding pytorch_model.bin (or sharded weights with
// pytorch_model.bin.index.json) and config.json, or a .bin or index file with
// config.json beside it.
func Load(p string) (*model.Model, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("pytorch: %w", err)
	}
	if st.IsDir() {
		w := filepath.Join(p, IndexFile)
		if !isFile(w) {
			w = filepath.Join(p, WeightsFile)
		}
		m, err := LoadWithConfig(w, p)
		if m != nil {
			m.Path = p
		}
		return m, err
	}
	return LoadWithConfig(p, filepath.Dir(p))
}

// LoadWithConfig loads the state dict binPath (or the shards an index file
// binPath lists, found beside it) with config.json and the side files of
// configDir. The model is not validated (loaders.Load does that).
func LoadWithConfig(binPath, configDir string) (*model.Model, error) {
	m := &model.Model{Path: binPath, Format: "pytorch", Files: map[string][]byte{}}
	cfgPath := filepath.Join(configDir, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("pytorch %s: %w", binPath, err)
	}
	if m.Config, m.Layout, m.Provenance, err = model.ParseHFConfig(data); err != nil {
		return nil, fmt.Errorf("pytorch %s: %w", cfgPath, err)
	}
	for _, name := range model.SideFiles {
		b, err := os.ReadFile(filepath.Join(configDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pytorch %s: %w", configDir, err)
		}
		m.Files[name] = b
	}
	if strings.HasSuffix(binPath, ".index.json") {
		err = loadSharded(m, binPath)
	} else {
		err = loadFile(m, binPath, nil)
	}
	if err == nil {
		err = model.DropTiedHeadCopy(m)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// loadFile maps one state dict and adds its tensors; a shard (want not nil)
// must hold exactly the tensors the index assigns it.
func loadFile(m *model.Model, file string, want map[string]bool) error {
	mf, err := model.MapFile(file)
	if err != nil {
		return fmt.Errorf("pytorch %s: %w", file, err)
	}
	m.AddCloser(mf)
	if err := readTensors(m, file, mf, want); err != nil {
		return fmt.Errorf("pytorch %s: %w", file, err)
	}
	return nil
}

// loadSharded reads pytorch_model.bin.index.json and loads its shards in
// name order.
func loadSharded(m *model.Model, indexPath string) error {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return fmt.Errorf("pytorch: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return fmt.Errorf("pytorch %s: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("pytorch %s: field \"weight_map\" is missing or empty", indexPath)
	}
	shards := map[string]map[string]bool{}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard == "." || shard == ".." || shard != filepath.Base(shard) || strings.ContainsAny(shard, `/\`) {
			return fmt.Errorf("pytorch %s: weight_map[%.100q] = %.100q is not a file name in the checkpoint directory", indexPath, name, shard)
		}
		if shards[shard] == nil {
			shards[shard] = map[string]bool{}
		}
		shards[shard][name] = true
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		p := filepath.Join(filepath.Dir(indexPath), s)
		if !isFile(p) {
			return fmt.Errorf("pytorch %s: shard %s listed in weight_map is missing", indexPath, s)
		}
		if err := loadFile(m, p, shards[s]); err != nil {
			return err
		}
	}
	return nil
}

// readTensors opens the zip, unpickles data.pkl and adds a lazy tensor per
// entry; when want is not nil the file must hold exactly those tensors.
func readTensors(m *model.Model, file string, mf *model.MappedFile, want map[string]bool) error {
	head, _ := mf.Slice(0, min(2, mf.Len()))
	if !bytes.Equal(head, []byte("PK")) {
		if len(head) > 0 && head[0] == 0x80 {
			return fmt.Errorf("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with torch >= 1.6 or convert to safetensors")
		}
		return fmt.Errorf("not a zip archive (torch.save writes one)")
	}
	zr, err := zip.NewReader(mf, mf.Len())
	if err != nil {
		return err
	}
	var pkl *zip.File
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		entries[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			if pkl != nil {
				return fmt.Errorf("two data.pkl entries (%s, %s)", pkl.Name, f.Name)
			}
			pkl = f
		}
	}
	if pkl == nil {
		return fmt.Errorf("no <archive>/data.pkl entry: not a torch.save checkpoint")
	}
	prefix := path.Dir(pkl.Name)
	if bo, ok := entries[prefix+"/byteorder"]; ok {
		b, err := readEntry(bo, 64)
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return fmt.Errorf("%s: byte order %q is not supported (want little)", bo.Name, s)
		}
	}
	raw, err := readEntry(pkl, maxPickleBytes)
	if err != nil {
		return err
	}
	refs, err := unpickle(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", pkl.Name, err)
	}
	got := map[string]bool{}
	for _, r := range refs {
		if m.Tensor(r.name) != nil {
			return fmt.Errorf("tensor %q appears twice", r.name)
		}
		if want != nil && !want[r.name] {
			return fmt.Errorf("tensor %q is in the shard but the index weight_map does not list it there", r.name)
		}
		got[r.name] = true
		t, err := lazyTensor(file, mf, entries, prefix, r)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", r.name, err)
		}
		m.Tensors = append(m.Tensors, t)
	}
	var missing []string
	for name := range want {
		if !got[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("tensor %q is listed in the index weight_map but absent from the shard (%d missing)", missing[0], len(missing))
	}
	return nil
}

func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes exceeds the %d-byte limit", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: decompresses past the %d-byte limit (its header says %d bytes)", f.Name, limit, f.UncompressedSize64)
	}
	return b, nil
}

// lazyTensor locates a tensor's bytes in its storage entry: stored
// uncompressed, contiguous, inside the storage.
func lazyTensor(file string, mf *model.MappedFile, entries map[string]*zip.File, prefix string, r namedTensor) (*model.Tensor, error) {
	st := r.ref.storage
	if !st.class.ok {
		return nil, fmt.Errorf("storage type %s is not supported (retrofit reads FloatStorage, HalfStorage, BFloat16Storage)", st.class.name)
	}
	elem := int64(st.class.dtype.BlockBytes())
	if err := contiguous(r.ref.shape, r.ref.stride); err != nil {
		return nil, err
	}
	n := model.Elements(r.ref.shape)
	if r.ref.offset > st.numel || n > st.numel-r.ref.offset {
		return nil, fmt.Errorf("storage offset %d + %d elements run past storage %s of %d elements", r.ref.offset, n, st.key, st.numel)
	}
	name := prefix + "/data/" + st.key
	f, ok := entries[name]
	if !ok {
		return nil, fmt.Errorf("storage entry %s is missing from the archive", name)
	}
	if f.Method != zip.Store {
		return nil, fmt.Errorf("storage entry %s is compressed (method %d); torch.save stores tensors uncompressed", name, f.Method)
	}
	if f.UncompressedSize64 < uint64(st.numel*elem) {
		return nil, fmt.Errorf("storage entry %s holds %d bytes, %s of %d elements needs %d", name, f.UncompressedSize64, st.class.name, st.numel, st.numel*elem)
	}
	base, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("storage entry %s: %w", name, err)
	}
	if base < 0 || base > mf.Len() || int64(f.UncompressedSize64) > mf.Len()-base {
		return nil, fmt.Errorf("storage entry %s runs past the end of the file (truncated?)", name)
	}
	return model.NewLazyTensor(r.name, st.class.dtype, r.ref.shape, file, mf, base+r.ref.offset*elem, n*elem)
}

// contiguous checks row-major strides (dimensions of size 1 may have any stride).
func contiguous(shape []int, stride []int64) error {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return fmt.Errorf("strides %v of shape %v are not contiguous; save tensors with .contiguous() first", stride, shape)
		}
		want *= int64(shape[i])
	}
	return nil
}

// Package safetensors loads Hugging Face checkpoints stored as safetensors
// (a single model.safetensors or shards listed in model.safetensors.index.json)
// with their config.json and tokenizer side files. Every file is memory-mapped
// and checked by the safetensors container package; tensors stay lazy in
// their stored dtype (F32, F16 or BF16).
package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
)

// File names of an HF checkpoint directory.
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
	ConfigFile = "config.json"
)

func init() {
	loaders.Register(loaders.Format{Name: "safetensors", Detect: Detect, Load: Load})
}

// Detect reports whether path is a directory holding model.safetensors or
// model.safetensors.index.json, or a .safetensors (or index) file.
func Detect(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if st.IsDir() {
		return isFile(filepath.Join(path, IndexFile)) || isFile(filepath.Join(path, SingleFile))
	}
	return st.Mode().IsRegular() && (strings.HasSuffix(path, ".safetensors") || strings.HasSuffix(path, ".safetensors.index.json"))
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Load opens the checkpoint at path: a directory, a .safetensors file or an
// index file; config.json and the side files are read from its directory.
// The model must be closed to release the mappings.
func Load(path string) (*model.Model, error) {
	dir, weights := path, ""
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	} else if st.IsDir() {
		weights = filepath.Join(dir, IndexFile)
		if !isFile(weights) {
			weights = filepath.Join(dir, SingleFile)
		}
	} else {
		dir, weights = filepath.Dir(path), path
	}
	m := &model.Model{Path: path, Format: "safetensors", Files: map[string][]byte{}}
	if err := loadConfig(m, dir); err != nil {
		return nil, err
	}
	var err error
	if strings.HasSuffix(weights, ".index.json") {
		err = loadSharded(m, weights)
	} else {
		err = loadFile(m, weights, nil)
	}
	if err == nil {
		err = model.DropTiedHeadCopy(m)
	}
	if err == nil {
		err = loadSideFiles(m, dir)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func loadConfig(m *model.Model, dir string) error {
	p := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", dir, err)
	}
	m.Config, m.Layout, m.Provenance, err = model.ParseHFConfig(data)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", p, err)
	}
	return nil
}

func loadSideFiles(m *model.Model, dir string) error {
	for _, name := range model.SideFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("safetensors %s: %w", dir, err)
		}
		m.Files[name] = data
	}
	return nil
}

// loadFile maps one .safetensors file and appends its tensors to m. When want
// is not nil (a shard), the file must hold exactly the tensors in want.
func loadFile(m *model.Model, file string, want map[string]bool) error {
	mf, err := model.MapFile(file)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", file, err)
	}
	m.AddCloser(mf)
	data, err := mf.Slice(0, mf.Len())
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", file, err)
	}
	h, dts, err := parseHeader(data)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", file, err)
	}
	got := map[string]bool{}
	for i, ti := range h.Tensors {
		if want != nil && !want[ti.Name] {
			return fmt.Errorf("safetensors %s: tensor %q is in the shard but the index weight_map does not list it there", file, ti.Name)
		}
		if m.Tensor(ti.Name) != nil {
			return fmt.Errorf("safetensors %s: tensor %q appears in two files", file, ti.Name)
		}
		t, err := model.NewLazyTensor(ti.Name, dts[i], ti.Shape, file, mf, ti.Offset, ti.Size)
		if err != nil {
			return fmt.Errorf("safetensors %w", err)
		}
		m.Tensors = append(m.Tensors, t)
		got[ti.Name] = true
	}
	var missing []string
	for name := range want {
		if !got[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("safetensors %s: tensor %q is listed in the index weight_map but absent from the shard (%d missing)", file, missing[0], len(missing))
	}
	return nil
}

// index is model.safetensors.index.json.
type index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

func loadSharded(m *model.Model, indexPath string) error {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return fmt.Errorf("safetensors %s: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("safetensors %s: field \"weight_map\" is missing or empty", indexPath)
	}
	shards := map[string]map[string]bool{}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return fmt.Errorf("safetensors %s: weight_map[%q] = %q is not a file name in the checkpoint directory", indexPath, name, shard)
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
	dir := filepath.Dir(indexPath)
	for _, s := range names {
		p := filepath.Join(dir, s)
		if !isFile(p) {
			return fmt.Errorf("safetensors %s: shard %s listed in weight_map is missing", indexPath, s)
		}
		if err := loadFile(m, p, shards[s]); err != nil {
			return err
		}
	}
	return nil
}

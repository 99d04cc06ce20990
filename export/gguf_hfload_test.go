package export

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

// loadHFDir opens an HF checkpoint directory with a minimal safetensors reader
// (lazy, memory-mapped tensors), independent of the loaders under test or
// being written elsewhere.
func loadHFDir(t testing.TB, dir string) *model.Model {
	t.Helper()
	cfgJSON, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, layout, steps, err := model.ParseHFConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	m := &model.Model{Path: dir, Format: "safetensors", Config: cfg, Layout: layout, Provenance: steps, Files: map[string][]byte{}}
	t.Cleanup(func() { m.Close() })
	for _, name := range model.SideFiles {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			m.Files[name] = b
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	sort.Strings(files)
	for _, file := range files {
		mf, err := model.MapFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m.AddCloser(mf)
		var lenBuf [8]byte
		if _, err := mf.ReadAt(lenBuf[:], 0); err != nil {
			t.Fatal(err)
		}
		n := int64(binary.LittleEndian.Uint64(lenBuf[:]))
		hdr := make([]byte, n)
		if _, err := mf.ReadAt(hdr, 8); err != nil {
			t.Fatal(err)
		}
		var entries map[string]json.RawMessage
		if err := json.Unmarshal(hdr, &entries); err != nil {
			t.Fatal(err)
		}
		type info struct {
			DType   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		var names []string
		infos := map[string]info{}
		for k, v := range entries {
			if k == "__metadata__" {
				continue
			}
			var e info
			if err := json.Unmarshal(v, &e); err != nil {
				t.Fatal(err)
			}
			infos[k] = e
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			e := infos[k]
			dt, err := model.ParseDType(e.DType)
			if err != nil {
				t.Fatal(err)
			}
			tt, err := model.NewLazyTensor(k, dt, e.Shape, file, mf, 8+n+e.Offsets[0], e.Offsets[1]-e.Offsets[0])
			if err != nil {
				t.Fatal(err)
			}
			m.Tensors = append(m.Tensors, tt)
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

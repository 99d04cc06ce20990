package export

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/gguf"
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// loadST loads a checkpoint (validated), closed when the test ends.
func loadST(t testing.TB, path string) *model.Model {
	t.Helper()
	m, err := loaders.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// sameTensors checks that got holds exactly want's tensors with identical
// dtype, shape and bytes.
func sameTensors(t *testing.T, got, want *model.Model) {
	t.Helper()
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for _, w := range want.Tensors {
		g := got.Tensor(w.Name)
		if g == nil {
			t.Fatalf("tensor %s missing", w.Name)
		}
		if g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) {
			t.Fatalf("%s: %v %v, want %v %v", w.Name, g.DType, g.Shape, w.DType, w.Shape)
		}
		a, err := g.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		b, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: bytes differ", w.Name)
		}
	}
}

// sameConfig compares the modelled config fields (not Raw); numbers in
// RopeScaling compare by value (1000000.0 is written back as 1000000).
func sameConfig(t *testing.T, got, want model.Config) {
	t.Helper()
	got.Raw, want.Raw = nil, nil
	got.RopeScaling, want.RopeScaling = numbersByValue(got.RopeScaling), numbersByValue(want.RopeScaling)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config\n got %+v\nwant %+v", got, want)
	}
}

func numbersByValue(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err == nil {
				v = f
			}
		}
		out[k] = v
	}
	return out
}

func exportST(t *testing.T, m *model.Model, opts SafeTensorsOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if err := SafeTensors(m, dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// TestSafeTensorsMatchesTransformers exports qwen3-micro in its own dtype:
// model.safetensors must equal, byte for byte, the file transformers wrote
// (same names order, header layout and padding), and everything reloads.
func TestSafeTensorsMatchesTransformers(t *testing.T) {
	src := testutil.Fixture(t, "qwen3-micro")
	m := loadST(t, src)
	var calls, last int
	dir := exportST(t, m, SafeTensorsOptions{Progress: func(done, total int) { calls++; last = done; _ = total }})
	if calls != len(m.Tensors) || last != len(m.Tensors) {
		t.Errorf("progress called %d times, last done %d; want %d", calls, last, len(m.Tensors))
	}
	want, _ := os.ReadFile(filepath.Join(src, "model.safetensors"))
	got, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		n := binary.LittleEndian.Uint64(got)
		t.Errorf("model.safetensors differs from transformers' (%d vs %d bytes); header %.200s", len(got), len(want), got[8:8+min(n, 200)])
	}
	wantNames := []string{"chat_template.jinja", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, wantNames) {
		t.Errorf("files %v, want %v", names, wantNames)
	}
	back := loadST(t, dir)
	sameTensors(t, back, m)
	sameConfig(t, back.Config, m.Config)
	if !reflect.DeepEqual(back.Files, m.Files) {
		t.Error("side files differ")
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(b, &cfg)
	if cfg["dtype"] != "bfloat16" || cfg["retrofit"] != nil || cfg["auto_map"] != nil {
		t.Errorf("config.json dtype %v retrofit %v auto_map %v", cfg["dtype"], cfg["retrofit"], cfg["auto_map"])
	}
}

// TestSafeTensorsSharded exports qwen2-micro in 1 MB shards.
func TestSafeTensorsSharded(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen2-micro"))
	dir := exportST(t, m, SafeTensorsOptions{ShardBytes: 1 << 20})
	b, err := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	// 4,721,600 bf16 parameters.
	if idx.Metadata["total_size"] != 9443200 || idx.Metadata["total_parameters"] != 4721600 || len(idx.WeightMap) != 51 {
		t.Errorf("index metadata %v, %d entries", idx.Metadata, len(idx.WeightMap))
	}
	shards := map[string]bool{}
	for _, s := range idx.WeightMap {
		shards[s] = true
	}
	// The 3 MB embedding and head get files of their own; no shard but those
	// exceeds 1 MB of tensor bytes.
	for s := range shards {
		st, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1<<20+8192 && st.Size() < 3<<20 {
			t.Errorf("shard %s is %d bytes", s, st.Size())
		}
	}
	if len(shards) < 5 {
		t.Errorf("%d shards, want at least 5", len(shards))
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Error("model.safetensors written beside the shards")
	}
	back := loadST(t, dir)
	sameTensors(t, back, m)
	sameConfig(t, back.Config, m.Config)

	// Re-exporting unsharded into the same directory drops the old shards.
	if err := SafeTensors(m, dir, SafeTensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"chat_template.jinja", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, want) {
		t.Errorf("after re-export: %v, want %v", names, want)
	}
	sameTensors(t, loadST(t, dir), m)
}

// TestSafeTensorsDTypes converts bf16 to f32 and back (lossless), and to f16.
func TestSafeTensorsDTypes(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro"))
	f32 := loadST(t, exportST(t, m, SafeTensorsOptions{DType: model.F32, ForceDType: true}))
	for _, w := range m.Tensors {
		g := f32.Tensor(w.Name)
		if g.DType != model.F32 {
			t.Fatalf("%s: %v after f32 export", w.Name, g.DType)
		}
		a, _ := g.Float32()
		b, _ := w.Float32()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: f32 values differ from the bf16 source", w.Name)
		}
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(f32.Path, "config.json"))
	json.Unmarshal(b, &cfg)
	if cfg["dtype"] != "float32" {
		t.Errorf("config.json dtype %v, want float32", cfg["dtype"])
	}
	// Keeping the dtype of an f32 model keeps f32.
	kept := loadST(t, exportST(t, f32, SafeTensorsOptions{}))
	sameTensors(t, kept, f32)
	back := loadST(t, exportST(t, f32, SafeTensorsOptions{DType: model.BF16}))
	sameTensors(t, back, m)

	f16 := loadST(t, exportST(t, m, SafeTensorsOptions{DType: model.F16}))
	for _, w := range m.Tensors {
		v, _ := w.Float32()
		want, _ := model.Encode(v, model.F16)
		got, _ := f16.Tensor(w.Name).Bytes()
		if f16.Tensor(w.Name).DType != model.F16 || !bytes.Equal(got, want) {
			t.Fatalf("%s: f16 export differs from model.Encode", w.Name)
		}
	}
}

// TestSafeTensorsFromQ8 exports a quantized GGUF: Q8_0 tensors are decoded
// to f32, the rest keep their dtype.
func TestSafeTensorsFromQ8(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro-q8_0.gguf"))
	back := loadST(t, exportST(t, m, SafeTensorsOptions{}))
	var q8 int
	for _, w := range m.Tensors {
		g := back.Tensor(w.Name)
		if g == nil {
			t.Fatalf("%s missing", w.Name)
		}
		wantDT := w.DType
		if w.DType == model.Q8_0 {
			wantDT = model.F32
			q8++
		}
		a, _ := g.Float32()
		b, err := w.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if g.DType != wantDT || !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: %v, values equal %v; want %v", w.Name, g.DType, reflect.DeepEqual(a, b), wantDT)
		}
	}
	if q8 == 0 {
		t.Fatal("fixture has no Q8_0 tensors")
	}
	sameConfig(t, back.Config, m.Config)
}

// TestSafeTensorsLayoutRoundTrip exports a transformed model (layer 1 reads
// layer 0's K/V, its K/V weights removed) and reloads layout and provenance.
func TestSafeTensorsLayoutRoundTrip(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro"))
	m.Layout = m.Layout.Clone()
	m.Layout.KVSource[1] = 0
	m.Layout.KVSource[3] = 2
	for _, l := range []int{1, 3} {
		for _, s := range []string{"self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.k_norm.weight"} {
			if !m.RemoveTensor(model.BlockName(l, s)) {
				t.Fatalf("no %s", model.BlockName(l, s))
			}
		}
	}
	m.Provenance = []model.Step{{Transform: "cla", Options: map[string]string{"share": "2"}}}
	dir := exportST(t, m, SafeTensorsOptions{})
	back := loadST(t, dir)
	if !reflect.DeepEqual(back.Layout, m.Layout) || !reflect.DeepEqual(back.Provenance, m.Provenance) {
		t.Errorf("layout %+v provenance %+v; want %+v %+v", back.Layout, back.Provenance, m.Layout, m.Provenance)
	}
	if back.KVBytesPerToken() != m.KVBytesPerToken() || back.KVBytesPerToken() != 2*4*2*32*2 {
		t.Errorf("KV bytes/token %d, want %d", back.KVBytesPerToken(), 2*4*2*32*2)
	}
	sameTensors(t, back, m)
	sameConfig(t, back.Config, m.Config)
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(b, &cfg)
	am, _ := cfg["auto_map"].(map[string]any)
	if am["AutoModelForCausalLM"] != AutoMap["AutoModelForCausalLM"] || !HasRemoteCode(dir) {
		t.Errorf("auto_map %v, remote code %v", am, HasRemoteCode(dir))
	}
}

// failingReader makes a lazy tensor whose bytes cannot be read.
type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

func TestSafeTensorsErrors(t *testing.T) {
	src := testutil.Fixture(t, "qwen3-micro")
	m := loadST(t, src)

	t.Run("into the source directory", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(src, "config.json"))
		st0, _ := os.Stat(filepath.Join(src, "model.safetensors"))
		err := SafeTensors(m, src, SafeTensorsOptions{DType: model.F32, ForceDType: true})
		if err == nil || !strings.Contains(err.Error(), "is an input of this command") {
			t.Fatalf("error %v", err)
		}
		after, _ := os.ReadFile(filepath.Join(src, "config.json"))
		st1, _ := os.Stat(filepath.Join(src, "model.safetensors"))
		if !bytes.Equal(before, after) || st0.Size() != st1.Size() || !st0.ModTime().Equal(st1.ModTime()) {
			t.Error("source checkpoint changed")
		}
	})
	t.Run("unsupported dtype", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		err := SafeTensors(m, dir, SafeTensorsOptions{DType: model.Q8_0})
		if err == nil || !strings.Contains(err.Error(), "Q8_0") {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Error("output directory created")
		}
	})
	t.Run("invalid model", func(t *testing.T) {
		bad := &model.Model{Config: m.Config, Layout: m.Layout, Tensors: m.Tensors[1:]}
		dir := filepath.Join(t.TempDir(), "out")
		if err := SafeTensors(bad, dir, SafeTensorsOptions{}); err == nil || !strings.Contains(err.Error(), "missing tensors") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("unreadable tensor", func(t *testing.T) {
		w := m.Tensor(model.FinalNormName)
		bad := &model.Model{Config: m.Config, Layout: m.Layout, Files: m.Files}
		bad.Tensors = append(bad.Tensors, m.Tensors...)
		lazy, err := model.NewLazyTensor(w.Name, w.DType, w.Shape, "broken.bin", failingReader{}, 0, w.Size())
		if err != nil {
			t.Fatal(err)
		}
		bad.SetTensor(lazy)
		for _, shard := range []int64{0, 1 << 20} {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			err := SafeTensors(bad, dir, SafeTensorsOptions{ShardBytes: shard})
			if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), model.FinalNormName) {
				t.Fatalf("error %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("shard %d: output directory left behind", shard)
			}
			// Into an existing directory: nothing is added.
			os.Mkdir(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o644)
			if err := SafeTensors(bad, dir, SafeTensorsOptions{ShardBytes: shard}); err == nil {
				t.Fatal("no error")
			}
			if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"keep.txt"}) {
				t.Errorf("shard %d: directory holds %v after a failed export", shard, names)
			}
		}
	})
}

// TestSafeTensorsMixedOrder: in a file of mixed dtypes F32 tensors come first
// (as the safetensors library orders them), then BF16, each group by name, so
// every tensor starts on a multiple of its element size.
func TestSafeTensorsMixedOrder(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro"))
	mixed := &model.Model{Config: m.Config, Layout: m.Layout, Files: m.Files}
	mixed.Tensors = append(mixed.Tensors, m.Tensors...)
	var f32Names []string
	for _, name := range []string{model.FinalNormName, model.BlockName(0, "input_layernorm.weight")} {
		v, err := m.Tensor(name).Float32()
		if err != nil {
			t.Fatal(err)
		}
		mixed.SetTensor(model.FromFloat32(name, m.Tensor(name).Shape, v))
		f32Names = append(f32Names, name)
	}
	sort.Strings(f32Names)
	dir := exportST(t, mixed, SafeTensorsOptions{})
	raw, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := safetensors.ParseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ti := range h.Tensors { // in file order
		order = append(order, ti.Name)
		if size := map[string]int64{"F32": 4, "BF16": 2}[ti.DType]; (ti.Offset-h.DataStart)%size != 0 {
			t.Errorf("%s (%s) starts at %d", ti.Name, ti.DType, ti.Offset-h.DataStart)
		}
	}
	if !reflect.DeepEqual(order[:2], f32Names) || !sort.StringsAreSorted(order[2:]) || len(order) != len(m.Tensors) {
		t.Errorf("header order %v", order[:4])
	}
	back := loadST(t, dir)
	sameTensors(t, back, mixed)
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	json.Unmarshal(b, &cfg)
	if cfg["dtype"] != "bfloat16" {
		t.Errorf("config.json dtype %v, want bfloat16 (most bytes)", cfg["dtype"])
	}
}

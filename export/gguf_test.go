package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/gguf"
	"github.com/retrofit-llm/retrofit/model"
)

type ggufBytes struct {
	f   *gguf.File
	raw []byte
}

func readGGUFFile(t *testing.T, path string) ggufBytes {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ggufBytes{f, raw}
}

func (g ggufBytes) data(ti gguf.TensorInfo) []byte {
	o := g.f.DataOffset + int64(ti.Offset)
	return g.raw[o : o+int64(ti.Size)]
}

// TestGGUFMatchesLlamaCpp exports the HF fixtures and compares the result with
// the files llama.cpp's convert_hf_to_gguf.py wrote from them: every metadata
// key outside general.* (names, order, types, values), and every tensor's
// name, dims, type, offset and bytes.
func TestGGUFMatchesLlamaCpp(t *testing.T) {
	cases := []struct {
		hf, ref string
		dt      model.DType
	}{
		{"qwen3-micro", "qwen3-micro-q8_0.gguf", model.Q8_0},
		{"qwen3-micro", "qwen3-micro-bf16.gguf", model.BF16},
		{"qwen2-micro", "qwen2-micro-f16.gguf", model.F16},
		// From llama.cpp's own files: the vocab comes from m.Vocab, and
		// same-dtype tensors are copied, converted ones re-encoded.
		{"qwen3-micro-q8_0.gguf", "qwen3-micro-q8_0.gguf", model.Q8_0},
		{"qwen3-micro-bf16.gguf", "qwen3-micro-q8_0.gguf", model.Q8_0},
		{"qwen2-micro-f16.gguf", "qwen2-micro-f16.gguf", model.F16},
	}
	for _, c := range cases {
		t.Run(c.hf+"→"+c.ref, func(t *testing.T) {
			ref := readGGUFFile(t, testutil.Fixture(t, c.ref))
			m := loadHFDir(t, testutil.Fixture(t, c.hf))
			out := filepath.Join(t.TempDir(), "out.gguf")
			calls := 0
			if err := GGUF(m, out, GGUFOptions{DType: c.dt, Progress: func(done, total int) { calls++ }}); err != nil {
				t.Fatal(err)
			}
			got := readGGUFFile(t, out)
			if calls != len(ref.f.Tensors) {
				t.Errorf("progress called %d times for %d tensors", calls, len(ref.f.Tensors))
			}
			compareGGUF(t, got, ref)
		})
	}
}

func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func compareGGUF(t *testing.T, got, ref ggufBytes) {
	t.Helper()
	nonGeneral := func(kvs []gguf.KV) []gguf.KV {
		var out []gguf.KV
		for _, kv := range kvs {
			if !strings.HasPrefix(kv.Key, "general.") || kv.Key == "general.architecture" || kv.Key == "general.file_type" || kv.Key == "general.quantization_version" {
				out = append(out, kv)
			}
		}
		return out
	}
	g, r := nonGeneral(got.f.KV), nonGeneral(ref.f.KV)
	for i := 0; i < max(len(g), len(r)); i++ {
		switch {
		case i >= len(g):
			t.Errorf("key %q missing", r[i].Key)
		case i >= len(r):
			t.Errorf("extra key %q", g[i].Key)
		case g[i].Key != r[i].Key:
			t.Errorf("key %d is %q, llama.cpp has %q", i, g[i].Key, r[i].Key)
		case !reflect.DeepEqual(g[i].Value, r[i].Value):
			t.Errorf("%s = %s (%s), llama.cpp %s (%s)", g[i].Key, short(g[i].Value.V), g[i].Value.TypeName(), short(r[i].Value.V), r[i].Value.TypeName())
		}
	}
	for _, kv := range ref.f.KV {
		if strings.HasPrefix(kv.Key, "general.") {
			if v, ok := got.f.Get(kv.Key); !ok || !reflect.DeepEqual(v, kv.Value) {
				t.Logf("general key %s: ours %v, llama.cpp %v", kv.Key, v.V, kv.Value.V)
			}
		}
	}
	if len(got.f.Tensors) != len(ref.f.Tensors) {
		t.Fatalf("%d tensors, llama.cpp %d", len(got.f.Tensors), len(ref.f.Tensors))
	}
	for i, gt := range got.f.Tensors {
		rt := ref.f.Tensors[i]
		if gt.Name != rt.Name || !reflect.DeepEqual(gt.Dims, rt.Dims) || gt.Type != rt.Type || gt.Offset != rt.Offset {
			t.Errorf("tensor %d: %s %v %v @%d, llama.cpp %s %v %v @%d", i, gt.Name, gt.Dims, gt.Type, gt.Offset, rt.Name, rt.Dims, rt.Type, rt.Offset)
			continue
		}
		if !bytes.Equal(got.data(gt), ref.data(rt)) {
			t.Errorf("tensor %s: bytes differ", gt.Name)
		}
	}
	// The whole file, byte for byte, once general.name (from the file name)
	// is llama.cpp's: the header re-encoded with that one value changed, then
	// our data section as written.
	named := *got.f
	named.KV = append([]gguf.KV(nil), got.f.KV...)
	if v, ok := ref.f.Get("general.name"); ok {
		for i := range named.KV {
			if named.KV[i].Key == "general.name" {
				named.KV[i].Value = v
			}
		}
	}
	var hdr bytes.Buffer
	if _, err := gguf.WriteHeader(&hdr, &named); err != nil {
		t.Fatal(err)
	}
	whole := append(hdr.Bytes(), got.raw[got.f.DataOffset:]...)
	if !bytes.Equal(whole, ref.raw) {
		i := 0
		for i < min(len(whole), len(ref.raw)) && whole[i] == ref.raw[i] {
			i++
		}
		t.Errorf("file differs from llama.cpp's (general.name aside) at byte %d of %d (llama.cpp %d bytes)", i, len(whole), len(ref.raw))
	}
}

// TestGGUFRoundTrip exports qwen3-micro to BF16 and loads it back: the
// tensors must be HF's bit for bit, the config and tokenizer the same.
func TestGGUFRoundTrip(t *testing.T) {
	m := loadHFDir(t, testutil.Fixture(t, "qwen3-micro"))
	out := filepath.Join(t.TempDir(), "rt.gguf")
	if err := GGUF(m, out, GGUFOptions{DType: model.BF16}); err != nil {
		t.Fatal(err)
	}
	back, err := loaders.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	assertSameTensors(t, back, m, nil)
	c, w := back.Config, m.Config
	w.Raw, c.Raw = nil, nil
	w.RopeScaling = nil
	if !reflect.DeepEqual(c, w) {
		t.Errorf("config\n got %+v\nwant %+v", c, w)
	}
	if back.Vocab == nil || len(back.Vocab.Tokens) != 8192 || back.Vocab.ChatTemplate != string(m.Files["chat_template.jinja"]) {
		t.Fatalf("vocab lost")
	}
	// Exporting the loaded GGUF again (vocab from m.Vocab) gives the same file
	// apart from general.name.
	again := filepath.Join(t.TempDir(), "again.gguf")
	if err := GGUF(back, again, GGUFOptions{DType: model.BF16}); err != nil {
		t.Fatal(err)
	}
	compareGGUF(t, readGGUFFile(t, again), readGGUFFile(t, out))
}

// assertSameTensors checks that got holds exactly want's tensors (renamed by
// rename when given) with equal shapes and decoded values; same-dtype tensors
// must have equal bytes.
func assertSameTensors(t *testing.T, got, want *model.Model, rename map[string]string) {
	t.Helper()
	if len(got.Tensors) != len(want.Tensors)+len(rename) && rename == nil {
		t.Errorf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	check := func(name string, w *model.Tensor) {
		g := got.Tensor(name)
		if g == nil {
			t.Errorf("%s missing", name)
			return
		}
		if !reflect.DeepEqual(g.Shape, w.Shape) {
			t.Errorf("%s: shape %v, want %v", name, g.Shape, w.Shape)
			return
		}
		if g.DType == w.DType {
			gb, _ := g.Bytes()
			wb, _ := w.Bytes()
			if !bytes.Equal(gb, wb) {
				t.Errorf("%s: bytes differ", name)
			}
			return
		}
		gv, err1 := g.Float32()
		wv, err2 := w.Float32()
		if err1 != nil || err2 != nil || !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s: values differ (%v %v)", name, err1, err2)
		}
	}
	if rename != nil {
		for gotName, wantName := range rename {
			check(gotName, want.Tensor(wantName))
		}
		return
	}
	for _, w := range want.Tensors {
		check(w.Name, w)
	}
}

// TestGGUFLayoutRoundTrip writes a transformed model (layers reading earlier
// layers' K/V, depth mixing, provenance) and reads the layout keys back.
func TestGGUFLayoutRoundTrip(t *testing.T) {
	m := loadHFDir(t, testutil.Fixture(t, "qwen3-micro"))
	m.Layout.KVSource = []int{0, 0, 2, 2, 4, 4}
	m.Layout.DepthMix = []bool{false, false, true, false, true, true}
	m.Layout.DepthStride, m.Layout.DepthWindow = 2, 1
	m.Provenance = []model.Step{{Transform: "cla", Options: map[string]string{"share": "2"}}, {Transform: "depth"}}
	for _, l := range []int{1, 3, 5} {
		for _, s := range []string{"k_proj.weight", "v_proj.weight", "k_norm.weight"} {
			m.RemoveTensor(model.BlockName(l, "self_attn."+s))
		}
	}
	out := filepath.Join(t.TempDir(), "cla.gguf")
	if err := GGUF(m, out, GGUFOptions{DType: model.BF16}); err != nil {
		t.Fatal(err)
	}
	raw := readGGUFFile(t, out)
	if v, ok := raw.f.Get("retrofit.depth_window"); !ok || v.V != uint32(1) {
		t.Errorf("retrofit.depth_window = %v", v.V)
	}
	// llama.cpp's loader reads these array types (INT32 / BOOL) and refuses,
	// unpatched, the architecture of its own that a transformed file gets.
	for key, want := range map[string]gguf.ValueType{"retrofit.kv_source": gguf.TypeInt32, "retrofit.depth_mix": gguf.TypeBool} {
		if v, ok := raw.f.Get(key); !ok || v.Type != gguf.TypeArray || v.Elem != want {
			t.Errorf("%s: %+v, want an array of %v", key, v, want)
		}
	}
	if v, _ := raw.f.Get("general.architecture"); v.V != "qwen3-retrofit" {
		t.Errorf("general.architecture = %v, want qwen3-retrofit", v.V)
	}
	if _, ok := raw.f.Get("qwen3-retrofit.block_count"); !ok {
		t.Errorf("no qwen3-retrofit.block_count")
	}
	if _, ok := raw.f.Get("retrofit.layer_map"); ok {
		t.Errorf("identity layer_map written")
	}
	back, err := loaders.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if !reflect.DeepEqual(back.Layout, m.Layout) || !reflect.DeepEqual(back.Provenance, m.Provenance) {
		t.Errorf("layout %+v / %+v, want %+v / %+v", back.Layout, back.Provenance, m.Layout, m.Provenance)
	}
	assertSameTensors(t, back, m, nil)
}

// TestGGUFUnroll writes a looped model (6 logical layers over 3 blocks) as is
// and unrolled into 6 stock blocks.
func TestGGUFUnroll(t *testing.T) {
	m := loadHFDir(t, testutil.Fixture(t, "qwen3-micro"))
	m.Layout.LayerMap = []int{0, 1, 2, 0, 1, 2}
	m.Layout.KVSource = []int{0, 1, 2, 3, 3, 5} // layer 4 (block 1) reads layer 3's K/V; layer 1 (block 1) keeps its own
	m.Provenance = []model.Step{{Transform: "loop"}}
	for b := 3; b < 6; b++ {
		for _, t := range m.Tensors {
			if strings.HasPrefix(t.Name, model.BlockName(b, "")) {
				m.RemoveTensor(t.Name)
			}
		}
	}
	for i := len(m.Tensors) - 1; i >= 0; i-- {
		if strings.HasPrefix(m.Tensors[i].Name, "model.layers.3.") || strings.HasPrefix(m.Tensors[i].Name, "model.layers.4.") || strings.HasPrefix(m.Tensors[i].Name, "model.layers.5.") {
			m.RemoveTensor(m.Tensors[i].Name)
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	looped, unrolled := filepath.Join(dir, "looped.gguf"), filepath.Join(dir, "unrolled.gguf")
	if err := GGUF(m, looped, GGUFOptions{DType: model.BF16}); err != nil {
		t.Fatal(err)
	}
	if err := GGUF(m, unrolled, GGUFOptions{DType: model.BF16, Unroll: true}); err != nil {
		t.Fatal(err)
	}
	a, err := loaders.Load(looped)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !reflect.DeepEqual(a.Layout, m.Layout) || a.Config.Layers != 6 {
		t.Errorf("looped: layout %+v, %d layers", a.Layout, a.Config.Layers)
	}
	assertSameTensors(t, a, m, nil)
	u, err := loaders.Load(unrolled)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	wantLayout := m.Layout.Clone()
	wantLayout.LayerMap = []int{0, 1, 2, 3, 4, 5}
	if !reflect.DeepEqual(u.Layout, wantLayout) || u.Layout.Blocks() != 6 {
		t.Errorf("unrolled layout %+v", u.Layout)
	}
	rename := map[string]string{}
	for l, p := range m.Layout.LayerMap {
		for _, t := range m.Tensors {
			if suffix, ok := strings.CutPrefix(t.Name, model.BlockName(p, "")); ok {
				if !m.Layout.StoresKV(l) && isKV(suffix) {
					continue
				}
				rename[model.BlockName(l, suffix)] = t.Name
			}
		}
	}
	rename[model.EmbedName], rename[model.FinalNormName] = model.EmbedName, model.FinalNormName
	if len(u.Tensors) != len(rename) {
		t.Errorf("unrolled: %d tensors, want %d", len(u.Tensors), len(rename))
	}
	assertSameTensors(t, u, m, rename)
	if u.Tensor(model.BlockName(4, "self_attn.k_proj.weight")) != nil || u.Tensor(model.BlockName(1, "self_attn.k_proj.weight")) == nil {
		t.Errorf("unrolled K/V projections: layer 4 must have none, layer 1 its own")
	}
}

func TestGGUFErrors(t *testing.T) {
	m := loadHFDir(t, testutil.Fixture(t, "qwen3-micro"))
	dir := t.TempDir()
	if err := GGUF(m, filepath.Join(dir, "q4k.gguf"), GGUFOptions{DType: model.Q4_K}); err == nil || !strings.Contains(err.Error(), "Q4_K is not supported") {
		t.Errorf("Q4_K: %v", err)
	}
	if err := GGUF(m, filepath.Join(dir, "missing", "x.gguf"), GGUFOptions{DType: model.BF16}); err == nil {
		t.Error("wrote into a missing directory")
	}
	m.RemoveTensor(model.FinalNormName)
	if err := GGUF(m, filepath.Join(dir, "bad.gguf"), GGUFOptions{DType: model.BF16}); err == nil || !strings.Contains(err.Error(), "missing tensors") {
		t.Errorf("invalid model: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}

func TestGGUFGeneralNames(t *testing.T) {
	names := map[string]string{
		"/x/qwen3-micro":                   "Qwen3 Micro",
		"/x/qwen3-micro/":                  "Qwen3 Micro",
		"/x/qwen2-micro/model.safetensors": "Qwen2 Micro",
		"/x/my_model.gguf":                 "My Model",
	}
	for in, want := range names {
		if got := ggufModelName(in); got != want {
			t.Errorf("ggufModelName(%q) = %q, want %q", in, got, want)
		}
	}
	labels := map[int64]string{6622608: "6.6M", 4721600: "4.7M", 596049920: "596M", 1543714304: "1.5B", 29360128: "29M", 950000: "950K"}
	for n, want := range labels {
		if got := sizeLabel(n); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestGGUFTensorOrder: a safetensors checkpoint's tensors are written sorted
// by HF name, as the converter reads them, so block 10 precedes block 2.
func TestGGUFTensorOrder(t *testing.T) {
	cfg, layout, _, err := model.ParseHFConfig([]byte(`{"model_type":"qwen3","vocab_size":64,"hidden_size":32,
		"intermediate_size":64,"num_hidden_layers":11,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":16,
		"tie_word_embeddings":true}`))
	if err != nil {
		t.Fatal(err)
	}
	m := &model.Model{Path: "/x/tiny-11", Format: "safetensors", Config: cfg, Layout: layout}
	for name, shape := range model.ExpectedShapes(cfg, layout) {
		m.Tensors = append(m.Tensors, model.FromFloat32(name, shape, make([]float32, model.Elements(shape))))
	}
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := GGUF(m, out, GGUFOptions{DType: model.F32}); err != nil {
		t.Fatal(err)
	}
	f := readGGUFFile(t, out).f
	var blocks []string
	for _, ti := range f.Tensors {
		if b, _, ok := strings.Cut(strings.TrimPrefix(ti.Name, "blk."), "."); ok && strings.HasPrefix(ti.Name, "blk.") {
			if len(blocks) == 0 || blocks[len(blocks)-1] != b {
				blocks = append(blocks, b)
			}
		}
	}
	if got := strings.Join(blocks, ","); got != "0,1,10,2,3,4,5,6,7,8,9" {
		t.Errorf("block order %s", got)
	}
	if f.Tensors[0].Name != "token_embd.weight" || f.Tensors[len(f.Tensors)-1].Name != "output_norm.weight" || f.Tensors[1].Name != "blk.0.attn_norm.weight" {
		t.Errorf("order %s, %s … %s", f.Tensors[0].Name, f.Tensors[1].Name, f.Tensors[len(f.Tensors)-1].Name)
	}
	if v, _ := f.Get("general.file_type"); v.V != uint32(0) {
		t.Errorf("file_type %v", v.V)
	}
}

package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	ggufc "github.com/retrofit-llm/retrofit/gguf"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/x448/float16"
)

func mustLoad(t *testing.T, path string) *model.Model {
	t.Helper()
	m, err := loaders.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func decodeHF(t *testing.T, h hfTensor) []float32 {
	out := make([]float32, len(h.raw)/2)
	if h.dtype != "BF16" {
		t.Fatalf("HF dtype %s", h.dtype)
	}
	if err := model.Decode(out, h.raw, model.BF16); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLoadBF16 loads llama.cpp's bf16 file of qwen3-micro: every tensor must
// be bit-identical to the HF checkpoint (the F32 norms exact upcasts).
func TestLoadBF16(t *testing.T) {
	m := mustLoad(t, testutil.Fixture(t, "qwen3-micro-bf16.gguf"))
	hf := readHF(t, testutil.Fixture(t, "qwen3-micro"))
	c := m.Config
	want := model.Config{Family: "qwen3", Architecture: "Qwen3ForCausalLM", VocabSize: 8192, Hidden: 256, Intermediate: 768,
		Layers: 6, Heads: 8, KVHeads: 2, HeadDim: 32, RMSEps: 1e-6, RopeTheta: 1e6, TiedEmbeddings: true, QKNorm: true,
		MaxPositions: 4096, BOS: 8187, EOS: 8189, PAD: 8187}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config\n got %+v\nwant %+v", c, want)
	}
	if !m.Layout.IsDefault() || m.Provenance != nil {
		t.Errorf("stock file has layout %+v, provenance %v", m.Layout, m.Provenance)
	}
	compareHF(t, m, hf, model.BF16)
	v := m.Vocab
	tmpl, _ := os.ReadFile(filepath.Join(testutil.Fixture(t, "qwen3-micro"), "chat_template.jinja"))
	switch {
	case v == nil:
		t.Fatal("no vocab")
	case v.Model != "gpt2" || v.Pre != "qwen2" || len(v.Tokens) != 8192 || len(v.Types) != 8192 || len(v.Merges) != 7931:
		t.Errorf("vocab %s/%s, %d tokens, %d types, %d merges", v.Model, v.Pre, len(v.Tokens), len(v.Types), len(v.Merges))
	case v.BOS != 8187 || v.EOS != 8189 || v.PAD != 8187 || v.AddBOS:
		t.Errorf("special ids %d %d %d, add_bos %v", v.BOS, v.EOS, v.PAD, v.AddBOS)
	case v.Tokens[8188] != "<|im_start|>" || v.Types[8188] != 3 || v.Types[8190] != 4 || v.Types[0] != 1 || v.Merges[0] != "Ġ Ġ":
		t.Errorf("token 8188 %q type %d, type[8190] %d, merge 0 %q", v.Tokens[8188], v.Types[8188], v.Types[8190], v.Merges[0])
	case v.ChatTemplate != string(tmpl):
		t.Errorf("chat template differs from chat_template.jinja")
	}
}

// compareHF checks names, shapes and values: 2-D weights stored as BF16 must
// be HF's bytes, F16 ones HF's values rounded to nearest even (what numpy's
// astype does), which decode exactly to HF's in f16's normal range; the F32
// norms and biases must be exact upcasts.
func compareHF(t *testing.T, m *model.Model, hf map[string]hfTensor, dt model.DType) {
	t.Helper()
	inexact := 0
	if len(m.Tensors) != len(hf) {
		t.Errorf("%d tensors, HF has %d", len(m.Tensors), len(hf))
	}
	mismatches := 0
	for name, h := range hf {
		g := m.Tensor(name)
		if g == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if !reflect.DeepEqual(g.Shape, h.shape) {
			t.Errorf("%s: shape %v, HF %v", name, g.Shape, h.shape)
			continue
		}
		wantType := dt
		if len(h.shape) == 1 {
			wantType = model.F32
		}
		if g.DType != wantType {
			t.Errorf("%s: %v, want %v", name, g.DType, wantType)
		}
		if g.DType == model.BF16 {
			raw, err := g.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, h.raw) {
				t.Errorf("%s: bf16 bytes differ", name)
			}
			continue
		}
		got, err := g.Float32()
		if err != nil {
			t.Fatal(err)
		}
		want := decodeHF(t, h)
		if g.DType == model.F16 {
			raw, _ := g.Bytes()
			if enc, _ := model.Encode(want, model.F16); !bytes.Equal(raw, enc) {
				t.Errorf("%s: f16 bytes are not HF's values rounded to nearest even", name)
			}
			for i, w := range want {
				if got[i] != w {
					inexact++
					if math.Abs(float64(w)) >= 0x1p-14 || math.Abs(float64(got[i]-w)) > 0x1p-25 {
						t.Errorf("%s[%d] = %g, HF %g: not an f16 subnormal rounding", name, i, got[i], w)
					}
				}
			}
			continue
		}
		for i, w := range want {
			if got[i] != w {
				if mismatches < 5 {
					t.Errorf("%s[%d] = %g, HF %g", name, i, got[i], w)
				}
				mismatches++
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d values differ from HF", mismatches)
	}
	if inexact > 0 {
		t.Logf("%d HF values lie below f16's normal range (|x| < 2^-14) and round to f16 subnormals (error ≤ 2^-25)", inexact)
	}
}

// TestLoadF16 loads llama.cpp's f16 file of qwen2-micro (untied, biases):
// every bf16 value of these weights is an exact f16, so decoded values must
// equal HF's.
func TestLoadF16(t *testing.T) {
	m := mustLoad(t, testutil.Fixture(t, "qwen2-micro-f16.gguf"))
	hf := readHF(t, testutil.Fixture(t, "qwen2-micro"))
	c := m.Config
	if c.Family != "qwen2" || c.TiedEmbeddings || !c.AttnBias || c.QKNorm || c.HeadDim != 32 || c.Heads != 6 || c.KVHeads != 2 || c.Layers != 4 {
		t.Errorf("config %+v", c)
	}
	compareHF(t, m, hf, model.F16)
}

// TestLoadQ8_0 loads llama.cpp's q8_0 file of qwen3-micro and bounds the
// error of every block against HF: half a step of the stored scale, plus the
// fp16 rounding of the scale over at most 127 steps.
func TestLoadQ8_0(t *testing.T) {
	path := testutil.Fixture(t, "qwen3-micro-q8_0.gguf")
	m := mustLoad(t, path)
	hf := readHF(t, testutil.Fixture(t, "qwen3-micro"))
	worst, worstAbs := 0.0, 0.0
	for name, h := range hf {
		g := m.Tensor(name)
		if g == nil || !reflect.DeepEqual(g.Shape, h.shape) {
			t.Fatalf("%s missing or misshapen", name)
		}
		want := decodeHF(t, h)
		got, err := g.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if g.DType == model.F32 {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: F32 values differ", name)
			}
			continue
		}
		if g.DType != model.Q8_0 {
			t.Fatalf("%s: %v", name, g.DType)
		}
		raw, _ := g.Bytes()
		for b := 0; b < len(got)/32; b++ {
			d := float64(float16.Frombits(binary.LittleEndian.Uint16(raw[34*b:])).Float32())
			for i := 32 * b; i < 32*b+32; i++ {
				e := math.Abs(float64(got[i] - want[i]))
				if e > d*(0.5+127.0/2048) {
					t.Fatalf("%s[%d]: |%g − %g| = %g exceeds the bound for d = %g", name, i, got[i], want[i], e, d)
				}
				worstAbs = max(worstAbs, e)
				if d > 0 {
					worst = max(worst, e/d)
				}
			}
		}
	}
	t.Logf("Q8_0 vs HF: max error %.4f·d, max absolute error %.3g", worst, worstAbs)
}

// synth writes a tiny valid qwen3 GGUF (2 layers, all F32) after mutate edits it.
func synth(t *testing.T, mutate func(f *ggufc.File)) string {
	t.Helper()
	return synthIn(t, t.TempDir(), mutate)
}

func synthIn(t testing.TB, dir string, mutate func(f *ggufc.File)) string {
	f := &ggufc.File{KV: []ggufc.KV{
		{Key: "general.architecture", Value: ggufc.String("qwen3")},
		{Key: "qwen3.block_count", Value: ggufc.Uint32(2)},
		{Key: "qwen3.embedding_length", Value: ggufc.Uint32(32)},
		{Key: "qwen3.feed_forward_length", Value: ggufc.Uint32(64)},
		{Key: "qwen3.attention.head_count", Value: ggufc.Uint32(2)},
		{Key: "qwen3.attention.head_count_kv", Value: ggufc.Uint32(1)},
		{Key: "qwen3.attention.key_length", Value: ggufc.Uint32(16)},
	}}
	add := func(name string, dims ...uint64) {
		f.Tensors = append(f.Tensors, ggufc.TensorInfo{Name: name, Dims: dims, Type: ggufc.TensorF32})
	}
	add("token_embd.weight", 32, 64)
	add("output_norm.weight", 32)
	for b := range 2 {
		p := "blk." + string(rune('0'+b)) + "."
		add(p+"attn_norm.weight", 32)
		add(p+"ffn_norm.weight", 32)
		add(p+"attn_q.weight", 32, 32)
		add(p+"attn_k.weight", 32, 16)
		add(p+"attn_v.weight", 32, 16)
		add(p+"attn_output.weight", 32, 32)
		add(p+"attn_q_norm.weight", 16)
		add(p+"attn_k_norm.weight", 16)
		add(p+"ffn_gate.weight", 32, 64)
		add(p+"ffn_up.weight", 32, 64)
		add(p+"ffn_down.weight", 64, 32)
	}
	if mutate != nil {
		mutate(f)
	}
	size, err := f.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := ggufc.WriteHeader(&buf, f); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, size))
	path := filepath.Join(dir, "synth.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func setKV(f *ggufc.File, key string, v ggufc.Value) {
	for i := range f.KV {
		if f.KV[i].Key == key {
			f.KV[i].Value = v
			return
		}
	}
	f.KV = append(f.KV, ggufc.KV{Key: key, Value: v})
}

func TestSynthLayout(t *testing.T) {
	m := mustLoad(t, synth(t, nil))
	if m.Config.HeadDim != 16 || m.Config.VocabSize != 64 || !m.Config.TiedEmbeddings || m.Config.AttnBias || m.Vocab != nil {
		t.Errorf("config %+v", m.Config)
	}
	if m.Config.RMSEps != 1e-6 || m.Config.RopeTheta != 10000 || m.Config.BOS != -1 {
		t.Errorf("defaults: eps %g theta %g bos %d", m.Config.RMSEps, m.Config.RopeTheta, m.Config.BOS)
	}
	// Layer 1 reads layer 0's K/V (so block 1 has no K/V) and mixes depth.
	path := synth(t, func(f *ggufc.File) {
		setKV(f, KeyKVSource, ggufc.Int32s([]int32{0, 0}))
		setKV(f, KeyDepthMix, ggufc.Bools([]bool{false, true}))
		setKV(f, KeyDepthStride, ggufc.Uint32(1))
		setKV(f, KeyLayerMap, ggufc.Int32s([]int32{0, 1}))
		setKV(f, KeyTransforms, ggufc.String(`[{"transform":"cla","options":{"share":"2"}}]`))
		var keep []ggufc.TensorInfo
		for _, ti := range f.Tensors {
			if !strings.HasPrefix(ti.Name, "blk.1.attn_k") && !strings.HasPrefix(ti.Name, "blk.1.attn_v") {
				keep = append(keep, ti)
			}
		}
		f.Tensors = keep
	})
	m = mustLoad(t, path)
	want := model.Layout{KVSource: []int{0, 0}, DepthMix: []bool{false, true}, DepthStride: 1, LayerMap: []int{0, 1}}
	if !reflect.DeepEqual(m.Layout, want) {
		t.Errorf("layout %+v", m.Layout)
	}
	if len(m.Provenance) != 1 || m.Provenance[0].Transform != "cla" || m.Provenance[0].Options["share"] != "2" {
		t.Errorf("provenance %+v", m.Provenance)
	}
}

func TestBadFiles(t *testing.T) {
	fixture := testutil.Fixture(t, "qwen3-micro-q8_0.gguf")
	raw, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "bad.gguf")
		os.WriteFile(p, b, 0o644)
		return p
	}
	cases := []struct {
		name, path, want string
	}{
		{"truncated", write(raw[:len(raw)-100]), "past the end"},
		{"header cut", write(raw[:100000]), "truncated"},
		{"magic", write(append([]byte("GGML"), raw[4:]...)), `bad magic "GGML"`},
		{"q5_k", synth(t, func(f *ggufc.File) { f.Tensors[0].Type, f.Tensors[0].Dims = ggufc.TensorQ5_K, []uint64{256, 8} }), `tensor "token_embd.weight": type Q5_K is not supported`},
		{"unknown name", synth(t, func(f *ggufc.File) { f.Tensors[1].Name = "rope_freqs.weight" }), `tensor "rope_freqs.weight": not a Qwen2/Qwen3 tensor name`},
		{"arch", synth(t, func(f *ggufc.File) { setKV(f, "general.architecture", ggufc.String("llama")) }), `"llama" is not supported`},
		{"missing key", synth(t, func(f *ggufc.File) { f.KV = f.KV[:2] }), `metadata "qwen3.embedding_length": missing`},
		{"key type", synth(t, func(f *ggufc.File) { setKV(f, "qwen3.block_count", ggufc.String("2")) }), `metadata "qwen3.block_count": string 2 is not a valid count`},
		{"block_count", synth(t, func(f *ggufc.File) { setKV(f, "qwen3.block_count", ggufc.Uint32(1<<31)) }), "2147483648 layers, but the file holds only 24 tensors"},
		{"value_length", synth(t, func(f *ggufc.File) { setKV(f, "qwen3.attention.value_length", ggufc.Uint32(8)) }), "value_length"},
		{"layout", synth(t, func(f *ggufc.File) { setKV(f, KeyKVSource, ggufc.Int32s([]int32{1, 1})) }), "kv_source[0] = 1"},
		{"transforms", synth(t, func(f *ggufc.File) { setKV(f, KeyTransforms, ggufc.String("{")) }), `metadata "retrofit.transforms"`},
		{"missing tensor", synth(t, func(f *ggufc.File) { f.Tensors = f.Tensors[:len(f.Tensors)-1] }), "missing tensors"},
		{"shape", synth(t, func(f *ggufc.File) { f.Tensors[1].Dims = []uint64{16} }), `"model.norm.weight" has shape [16]`},
		{"eos id", synth(t, func(f *ggufc.File) { setKV(f, "tokenizer.ggml.eos_token_id", ggufc.Uint32(0xfffffff0)) }), `metadata "tokenizer.ggml.eos_token_id": uint32 4294967280 is not a token id`},
		{"fewer tokens", synth(t, func(f *ggufc.File) { setKV(f, "tokenizer.ggml.tokens", ggufc.Strings(make([]string, 63))) }), `63 tokens, but "token_embd.weight" has 64 rows`},
		{"tokens", synth(t, func(f *ggufc.File) {
			setKV(f, "tokenizer.ggml.tokens", ggufc.Strings([]string{"a"}))
			setKV(f, "tokenizer.ggml.token_type", ggufc.Int32s([]int32{1, 1}))
		}), "tokenizer.ggml.token_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := loaders.Load(c.path)
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("err = %v, want the file name and %q", err, c.want)
			}
		})
	}
}

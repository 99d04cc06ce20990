package safetensors_test

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// stFile builds a safetensors file from a header (any JSON value, or a raw
// string) and a data section.
func stFile(t testing.TB, header any, data []byte) []byte {
	t.Helper()
	var h []byte
	switch v := header.(type) {
	case string:
		h = []byte(v)
	default:
		var err error
		if h, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, data...)
}

// splitFile returns a safetensors file's header (as a map) and data section.
func splitFile(t *testing.T, file string) (map[string]any, []byte) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := safetensors.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b[8:hdr.DataStart], &h); err != nil {
		t.Fatal(err)
	}
	return h, b[hdr.DataStart:]
}

// linkDir makes a temp directory whose entries are symlinks to src's files.
func linkDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		abs, _ := filepath.Abs(filepath.Join(src, e.Name()))
		if err := os.Symlink(abs, filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// replace writes data over the (symlinked) file name in dir.
func replace(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	os.Remove(p)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	micro := testutil.Fixture(t, "qwen3-micro")
	sharded := testutil.Fixture(t, "qwen2-micro")
	orig, err := os.ReadFile(filepath.Join(micro, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	tensor := func(dtype string, shape []int, begin, end int) map[string]any {
		return map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int{begin, end}}
	}
	single := func(f func(dir string)) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := linkDir(t, micro)
			f(dir)
			return dir
		}
	}
	weights := func(b []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := linkDir(t, micro)
			replace(t, dir, "model.safetensors", b)
			return dir
		}
	}
	edit := func(fn func(h map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := linkDir(t, micro)
			h, data := splitFile(t, filepath.Join(micro, "model.safetensors"))
			fn(h)
			replace(t, dir, "model.safetensors", stFile(t, h, data))
			return dir
		}
	}
	shard := func(fn func(t *testing.T, dir string)) func(t *testing.T) string {
		return func(t *testing.T) string {
			dir := linkDir(t, sharded)
			fn(t, dir)
			return dir
		}
	}
	editIndex := func(fn func(wm map[string]any)) func(t *testing.T) string {
		return shard(func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(sharded, "model.safetensors.index.json"))
			var idx map[string]any
			json.Unmarshal(b, &idx)
			fn(idx["weight_map"].(map[string]any))
			b, _ = json.Marshal(idx)
			replace(t, dir, "model.safetensors.index.json", b)
		})
	}
	cases := []struct {
		name string
		make func(t *testing.T) string
		want []string // substrings of the error
	}{
		{"truncated file", weights(orig[:len(orig)/2]), []string{"model.safetensors", "run past", "data section"}},
		{"truncated header", weights(orig[:1000]), []string{"model.safetensors", "header length 7312 runs past"}},
		{"too short", weights(orig[:5]), []string{"model.safetensors", "too short"}},
		{"empty file", weights(nil), []string{"model.safetensors", "too short"}},
		{"absurd header length", weights(append(binary.LittleEndian.AppendUint64(nil, 1<<40), orig[8:]...)), []string{"model.safetensors", "exceeds"}},
		{"bad JSON", weights(stFile(t, `{"a": {"dtype": "F32",`, nil)), []string{"model.safetensors", "header JSON"}},
		{"not an object", weights(stFile(t, `[1, 2]`, nil)), []string{"model.safetensors", "want an object"}},
		{"trailing garbage", weights(stFile(t, `{} x`, nil)), []string{"model.safetensors", "after the object"}},
		{"duplicate name", weights(stFile(t, `{"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8))), []string{`"a" appears twice`}},
		{"offsets past end", weights(stFile(t, map[string]any{"w": tensor("F32", []int{4}, 0, 16)}, make([]byte, 8))), []string{`tensor "w"`, "data_offsets [0, 16)", "8-byte data section"}},
		{"reversed offsets", weights(stFile(t, map[string]any{"w": tensor("F32", []int{0}, 8, 4)}, make([]byte, 8))), []string{`tensor "w"`, "not a valid range"}},
		{"overlap", weights(stFile(t, map[string]any{"a": tensor("F32", []int{2}, 0, 8), "b": tensor("F32", []int{2}, 4, 12)}, make([]byte, 12))), []string{`tensor "b"`, `overlap tensor "a"`}},
		{"size mismatch", weights(stFile(t, map[string]any{"w": tensor("BF16", []int{3}, 0, 8)}, make([]byte, 8))), []string{`tensor "w"`, "needs 6 bytes", "give 8"}},
		{"unknown dtype", weights(stFile(t, map[string]any{"w": tensor("Q9", []int{1}, 0, 1)}, make([]byte, 1))), []string{`tensor "w"`, `unknown dtype "Q9"`}},
		{"unsupported dtype", weights(stFile(t, map[string]any{"w": tensor("I64", []int{1}, 0, 8)}, make([]byte, 8))), []string{"model.safetensors", `tensor "w"`, "dtype I64 is not supported"}},
		{"missing shape", weights(stFile(t, map[string]any{"w": map[string]any{"dtype": "F32", "data_offsets": []int{0, 4}}}, make([]byte, 4))), []string{`tensor "w"`, `"shape" is missing`}},
		{"negative dim", weights(stFile(t, map[string]any{"w": tensor("F32", []int{-1}, 0, 4)}, make([]byte, 4))), []string{`tensor "w"`, "negative"}},
		{"huge shape", weights(stFile(t, map[string]any{"w": tensor("F32", []int{1 << 40, 1 << 40}, 0, 4)}, make([]byte, 4))), []string{`tensor "w"`, "too large"}},
		{"bad metadata", weights(stFile(t, `{"__metadata__": {"a": 1}}`, nil)), []string{"__metadata__"}},
		{"shape disagrees with config", edit(func(h map[string]any) {
			h["model.embed_tokens.weight"].(map[string]any)["shape"] = []int{256, 8192}
		}), []string{"model.embed_tokens.weight", "[256 8192]", "config.json implies [8192 256]"}},
		{"tensor missing", edit(func(h map[string]any) { delete(h, "model.norm.weight") }), []string{"missing tensors", "model.norm.weight"}},
		{"missing config", single(func(dir string) { os.Remove(filepath.Join(dir, "config.json")) }), []string{"config.json", "no such file"}},
		{"bad config", single(func(dir string) {
			os.Remove(filepath.Join(dir, "config.json"))
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "qwen3", "vocab_size": "x"}`), 0o644)
		}), []string{"config.json", `"vocab_size"`}},
		{"missing shard", shard(func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model-00002-of-00003.safetensors")) }),
			[]string{"model.safetensors.index.json", "shard model-00002-of-00003.safetensors", "missing"}},
		{"tensor absent from shard", editIndex(func(wm map[string]any) { wm["model.norm.weight"] = "model-00001-of-00003.safetensors" }),
			[]string{"model-00001-of-00003.safetensors", `"model.norm.weight"`, "absent from the shard"}},
		{"tensor not in index", editIndex(func(wm map[string]any) { delete(wm, "model.embed_tokens.weight") }),
			[]string{"model-00001-of-00003.safetensors", `"model.embed_tokens.weight"`, "does not list"}},
		{"shard outside directory", editIndex(func(wm map[string]any) { wm["lm_head.weight"] = "../model-00003-of-00003.safetensors" }),
			[]string{"model.safetensors.index.json", `weight_map["lm_head.weight"]`}},
		{"bad index", shard(func(t *testing.T, dir string) {
			replace(t, dir, "model.safetensors.index.json", []byte(`{"weight_map": [}`))
		}),
			[]string{"model.safetensors.index.json", "invalid"}},
		{"empty index", shard(func(t *testing.T, dir string) { replace(t, dir, "model.safetensors.index.json", []byte(`{}`)) }),
			[]string{"model.safetensors.index.json", `"weight_map" is missing`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.make(t)
			m, err := loaders.Load(dir)
			if err == nil {
				m.Close()
				t.Fatal("loaded without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestTiedHeadCopy: a tied model's file holding lm_head.weight loads without
// it when it equals the embedding, and fails validation when it differs.
func TestTiedHeadCopy(t *testing.T) {
	micro := testutil.Fixture(t, "qwen3-micro")
	h, data := splitFile(t, filepath.Join(micro, "model.safetensors"))
	e := h["model.embed_tokens.weight"].(map[string]any)
	offs := e["data_offsets"].([]any)
	begin, end := int(offs[0].(float64)), int(offs[1].(float64))
	for _, c := range []struct {
		name    string
		flip    bool
		wantErr string
	}{{"identical", false, ""}, {"different", true, `"lm_head.weight" is not part of`}} {
		t.Run(c.name, func(t *testing.T) {
			head := append([]byte(nil), data[begin:end]...)
			if c.flip {
				head[100] ^= 1
			}
			h["lm_head.weight"] = map[string]any{"dtype": "BF16", "shape": e["shape"], "data_offsets": []int{len(data), len(data) + len(head)}}
			dir := linkDir(t, micro)
			replace(t, dir, "model.safetensors", stFile(t, h, append(append([]byte(nil), data...), head...)))
			m, err := loaders.Load(dir)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Tensor("lm_head.weight") != nil || len(m.Tensors) != 68 {
				t.Errorf("%d tensors, lm_head kept: %v", len(m.Tensors), m.Tensor("lm_head.weight") != nil)
			}
		})
	}
}

package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
)

type vector struct {
	Text         string `json:"text"`
	Qwen3        []int  `json:"qwen3"`
	Micro        []int  `json:"micro"`
	Qwen3Decoded string `json:"qwen3_decoded"`
	MicroDecoded string `json:"micro_decoded"`
}

func loadVectors(t testing.TB, name string) []vector {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(vs) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return vs
}

func qwen3(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := LoadFile(testutil.Fixture(t, "qwen3-tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func micro(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := LoadFile(filepath.Join(testutil.Fixture(t, "qwen3-micro"), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkVectors asserts ids and decoded text of every vector.
func checkVectors(t *testing.T, tok *Tokenizer, vs []vector, ids func(vector) []int, decoded func(vector) string) {
	t.Helper()
	for i, v := range vs {
		got := tok.Encode(v.Text)
		if !slices.Equal(got, ids(v)) {
			t.Errorf("vector %d %q:\n got  %v\n want %v", i, v.Text, got, ids(v))
		}
		if d := tok.Decode(ids(v)); d != decoded(v) {
			t.Errorf("vector %d: Decode = %q, want %q", i, d, decoded(v))
		}
	}
}

func TestVectors(t *testing.T) {
	files := []string{testutil.Fixture(t, "tokenizer-vectors.json"), filepath.Join("testdata", "hf-edge-vectors.json")}
	q, m := qwen3(t), micro(t)
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("vector file: %v", err)
		}
		vs := loadVectors(t, f)
		t.Run(filepath.Base(f)+"/qwen3", func(t *testing.T) {
			checkVectors(t, q, vs, func(v vector) []int { return v.Qwen3 }, func(v vector) string { return v.Qwen3Decoded })
		})
		t.Run(filepath.Base(f)+"/micro", func(t *testing.T) {
			checkVectors(t, m, vs, func(v vector) []int { return v.Micro }, func(v vector) string { return v.MicroDecoded })
		})
	}
}

// microVocab rebuilds the micro tokenizer as GGUF metadata stores it.
func microVocab(t *testing.T) *model.Vocab {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.Fixture(t, "qwen3-micro"), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		AddedTokens []AddedToken `json:"added_tokens"`
		Model       struct {
			Vocab  map[string]int `json:"vocab"`
			Merges [][2]string    `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	n := len(f.Model.Vocab) + len(f.AddedTokens)
	v := &model.Vocab{Model: "gpt2", Pre: "qwen2", Tokens: make([]string, n), Types: make([]int32, n), BOS: -1, EOS: -1, PAD: -1}
	for tok, id := range f.Model.Vocab {
		v.Tokens[id], v.Types[id] = tok, 1
	}
	for _, a := range f.AddedTokens {
		v.Tokens[a.ID], v.Types[a.ID] = a.Content, typeUserDefined
		if a.Special {
			v.Types[a.ID] = typeControl
		}
		if a.Content == "<|im_end|>" {
			v.EOS = a.ID
		}
	}
	for _, m := range f.Model.Merges {
		v.Merges = append(v.Merges, m[0]+" "+m[1])
	}
	return v
}

func TestFromVocab(t *testing.T) {
	v := microVocab(t)
	tok, err := FromVocab(v)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Len() != 8192 {
		t.Errorf("Len = %d, want 8192", tok.Len())
	}
	if tok.EOS() != 8189 {
		t.Errorf("EOS = %d, want 8189 (<|im_end|>)", tok.EOS())
	}
	for _, f := range []string{testutil.Fixture(t, "tokenizer-vectors.json"), filepath.Join("testdata", "hf-edge-vectors.json")} {
		checkVectors(t, tok, loadVectors(t, f), func(v vector) []int { return v.Micro }, func(v vector) string { return v.MicroDecoded })
	}
}

func TestForModel(t *testing.T) {
	dir := testutil.Fixture(t, "qwen3-micro")
	files := map[string][]byte{}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	tok, err := ForModel(&model.Model{Path: dir, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if tok.EOS() != 8189 {
		t.Errorf("EOS from tokenizer_config.json = %d, want 8189 (<|im_end|>)", tok.EOS())
	}
	if got := tok.Encode("Hello world"); !slices.Equal(got, []int{5270, 4933}) {
		t.Errorf("Encode = %v", got)
	}
	gg, err := ForModel(&model.Model{Path: "x.gguf", Vocab: microVocab(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := gg.Encode("Hello world"); !slices.Equal(got, []int{5270, 4933}) {
		t.Errorf("GGUF vocab Encode = %v", got)
	}
	if _, err := ForModel(&model.Model{Path: "bare"}); err == nil {
		t.Error("ForModel of a model without tokenizer: no error")
	}
}

func TestAccessors(t *testing.T) {
	q := qwen3(t)
	tests := []struct {
		tok string
		id  int
	}{
		{"<|endoftext|>", 151643}, {"<|im_start|>", 151644}, {"<|im_end|>", 151645},
		{"<think>", 151667}, {"</think>", 151668}, {"Hello", 9707}, {"Ġworld", 1879}, {"!", 0},
	}
	for _, tc := range tests {
		id, ok := q.TokenID(tc.tok)
		if !ok || id != tc.id {
			t.Errorf("TokenID(%q) = %d, %v; want %d", tc.tok, id, ok, tc.id)
		}
		if got := q.Token(tc.id); got != tc.tok {
			t.Errorf("Token(%d) = %q, want %q", tc.id, got, tc.tok)
		}
	}
	for id, want := range map[int]bool{151643: true, 151645: true, 151667: false, 9707: false} {
		if q.IsSpecial(id) != want {
			t.Errorf("IsSpecial(%d) = %v, want %v", id, !want, want)
		}
	}
	if _, ok := q.TokenID("no such token"); ok {
		t.Error("TokenID of an unknown token: ok")
	}
	if q.Token(-1) != "" || q.Token(q.Len()) != "" {
		t.Error("Token out of range is not empty")
	}
	if q.Len() != 151669 {
		t.Errorf("Len = %d, want 151669", q.Len())
	}
	// No tokenizer_config.json beside the gzipped fixture: <|endoftext|>.
	if q.EOS() != 151643 {
		t.Errorf("EOS = %d, want 151643", q.EOS())
	}
	if m := micro(t); m.EOS() != 8189 {
		t.Errorf("micro EOS (from tokenizer_config.json) = %d, want 8189", m.EOS())
	}
}

func TestDecodeVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "hf-decode-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Tokenizer string `json:"tokenizer"`
		IDs       []int  `json:"ids"`
		Decoded   string `json:"decoded"`
	}
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	toks := map[string]*Tokenizer{"qwen3": qwen3(t), "micro": micro(t)}
	for i, v := range vs {
		if got := toks[v.Tokenizer].Decode(v.IDs); got != v.Decoded {
			t.Errorf("%d %s Decode(%v) = %q, want %q", i, v.Tokenizer, v.IDs, got, v.Decoded)
		}
	}
}

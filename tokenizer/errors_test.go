package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"golang.org/x/text/unicode/norm"
)

const tinyJSON = `{
  "added_tokens": [{"id": 5, "content": "<s>", "special": true}],
  "normalizer": {"type": "NFC"},
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}, "merges": ["a b", ["Ġ", "ab"]]}
}`

func TestLoadTiny(t *testing.T) {
	tok, err := Load([]byte(tinyJSON))
	if err != nil {
		t.Fatal(err)
	}
	// GPT-2 split (regexp2 path): "ab", " ab", "<s>" added, "a", "b".
	if got, want := tok.Encode("ab ab<s>ba"), []int{2, 4, 5, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if got := tok.Decode([]int{2, 4, 5, 1, 0}); got != "ab ab<s>ba" {
		t.Errorf("Decode = %q", got)
	}
	if tok.Len() != 6 || tok.EOS() != -1 {
		t.Errorf("Len, EOS = %d, %d; want 6, -1", tok.Len(), tok.EOS())
	}
}

// TestLoadMergesFirst loads a file whose merges come before its vocab.
func TestLoadMergesFirst(t *testing.T) {
	js := strings.Replace(tinyJSON, `"vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}, "merges": ["a b", ["Ġ", "ab"]]`,
		`"merges": ["a b", ["Ġ", "ab"]], "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}`, 1)
	if js == tinyJSON {
		t.Fatal("test JSON not rewritten")
	}
	tok, err := Load([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("ab ab<s>ba"), []int{2, 4, 5, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	bad := strings.Replace(js, `"a b"`, `"a x"`, 1)
	if _, err := Load([]byte(bad)); err == nil || !strings.Contains(err.Error(), `model.merges: [0]: token "x"`) {
		t.Errorf("bad merge before vocab: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{"model": {"vocab": {"a": 0,`, "tokenizer.json: model.vocab: offset"},
		{"no vocab", `{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE"}}`, "model.vocab is missing"},
		{"wordpiece", strings.Replace(tinyJSON, `"BPE"`, `"WordPiece"`, 1), `model.type "WordPiece"`},
		{"bad merge", strings.Replace(tinyJSON, `"a b"`, `"a c"`, 1), `model.merges: [0]: token "c" is not in the vocab`},
		{"merge not in vocab", strings.Replace(tinyJSON, `"a b"`, `"b a"`, 1), `merged token "ba"`},
		{"merge of 3", strings.Replace(tinyJSON, `"a b"`, `"a b c"`, 1), "not two tokens"},
		{"pair of 1", strings.Replace(tinyJSON, `["Ġ", "ab"]`, `["Ġ"]`, 1), "has 1 tokens"},
		{"bad id", strings.Replace(tinyJSON, `"a": 0`, `"a": "x"`, 1), `token "a": offset`},
		{"normalizer", strings.Replace(tinyJSON, `"NFC"`, `"NFKC"`, 1), `normalizer: type "NFKC"`},
		{"no byte level", strings.Replace(tinyJSON, `"type": "ByteLevel", "add_prefix_space": false, "use_regex": true`, `"type": "Whitespace"`, 1), `type "Whitespace" is not supported`},
		{"prefix space", strings.Replace(tinyJSON, `"add_prefix_space": false`, `"add_prefix_space": true`, 1), "add_prefix_space"},
		{"decoder", strings.Replace(tinyJSON, `"decoder": {"type": "ByteLevel"}`, `"decoder": {"type": "WordPiece"}`, 1), `decoder.type "WordPiece"`},
		{"trailing", tinyJSON + "x", "data after"},
	}
	for _, tc := range tests {
		_, err := Load([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestLoadTruncated cuts the micro tokenizer.json at many points: each must
// give an error, never a panic.
func TestLoadTruncated(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.Fixture(t, "qwen3-micro"), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data)-1; n += 1 + n/3 {
		if _, err := Load(data[:n]); err == nil {
			t.Errorf("Load of the first %d bytes: no error", n)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokenizer.json.gz")
	if err := os.WriteFile(bad, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadFile of a bad gzip: %v, want an error naming the file", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadFile of a missing file: no error")
	}
}

func TestFromVocabErrors(t *testing.T) {
	base := func() *model.Vocab {
		return &model.Vocab{Model: "gpt2", Pre: "qwen2", Tokens: []string{"a", "b", "ab"}, Types: []int32{1, 1, 1}, Merges: []string{"a b"}, EOS: -1}
	}
	tests := []struct {
		name string
		edit func(v *model.Vocab)
		want string
	}{
		{"llama", func(v *model.Vocab) { v.Model = "llama" }, `tokenizer.ggml.model "llama"`},
		{"pre", func(v *model.Vocab) { v.Pre = "falcon" }, `tokenizer.ggml.pre "falcon"`},
		{"types", func(v *model.Vocab) { v.Types = v.Types[:2] }, "token_type has 2 entries for 3 tokens"},
		{"merge", func(v *model.Vocab) { v.Merges = []string{"ab"} }, "merges[0] \"ab\" is not two tokens"},
		{"merge token", func(v *model.Vocab) { v.Merges = []string{"a c"} }, `merges[0]: token "c" is not in the vocab`},
		{"empty", func(v *model.Vocab) { v.Tokens, v.Types = nil, nil }, "tokens is empty"},
	}
	for _, tc := range tests {
		v := base()
		tc.edit(v)
		if _, err := FromVocab(v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := FromVocab(nil); err == nil {
		t.Error("FromVocab(nil): no error")
	}
}

// TestConcurrentEncode encodes parts of the documents from several
// goroutines on one tokenizer and compares with a fresh tokenizer's ids.
func TestConcurrentEncode(t *testing.T) {
	docs := loadDocs(t)
	parts := strings.SplitAfter(docs[:min(len(docs), 400_000)], "\n\n")
	shared, fresh := qwen3(t), qwen3(t)
	want := make([][]int, len(parts))
	for i, p := range parts {
		want[i] = fresh.Encode(p)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(parts)+g; i++ {
				k := i % len(parts)
				if got := shared.Encode(parts[k]); !slices.Equal(got, want[k]) {
					errs <- parts[k]
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for p := range errs {
		t.Errorf("concurrent Encode differs on %.60q", p)
	}
}

// FuzzRoundTrip checks that the bytes of Encode(s) are NFC(s) (invalid UTF-8
// passes through byte-level BPE unchanged) and Decode(Encode(s)) == NFC(s)
// for valid UTF-8.
func FuzzRoundTrip(f *testing.F) {
	for _, tc := range scanCases {
		f.Add(tc.in)
	}
	f.Add(strings.Repeat("ab", 300))
	f.Add("a\xffb\xe4\xb8 \xc3")
	tok, err := LoadFile(filepath.Join(testutil.Fixture(f, "qwen3-micro"), "tokenizer.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Text is normalized between added tokens (all start with '<'), so
		// NFC of the whole text is the expectation only without them.
		if strings.ContainsRune(s, '<') {
			return
		}
		ids := tok.Encode(s)
		want := norm.NFC.String(s)
		var raw []byte
		for _, id := range ids {
			raw = byteLevelDecode(raw, tok.Token(id))
		}
		if string(raw) != want {
			t.Errorf("bytes of Encode(%q) = %q, want %q", s, raw, want)
		}
		if got := tok.Decode(ids); utf8.ValidString(s) && got != want {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	})
}

package export

import (
	"os"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
)

// TestVocabQwen3 builds the vocab of the real Qwen3 tokenizer (151,643 BPE
// tokens + 26 added) padded to Qwen3's vocab_size 151,936, as llama.cpp does.
func TestVocabQwen3(t *testing.T) {
	tj, err := os.ReadFile(testutil.Fixture(t, "qwen3-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := os.ReadFile(testutil.Fixture(t, "qwen3-tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := vocabFromHF(tj, tc, "", 151936, map[string]int{"bos": 151643, "eos": 151645})
	if err != nil {
		t.Fatal(err)
	}
	v := h.vocab
	if len(v.Tokens) != 151936 || len(v.Types) != 151936 || len(v.Merges) != 151387 {
		t.Fatalf("%d tokens, %d types, %d merges", len(v.Tokens), len(v.Types), len(v.Merges))
	}
	cases := []struct {
		id   int
		tok  string
		typ  int32
		note string
	}{
		{0, "!", 1, "byte-level token"},
		{151643, "<|endoftext|>", 3, "special"},
		{151645, "<|im_end|>", 3, "special"},
		{151659, "<|fim_prefix|>", 3, "not special, but shaped <|...|>"},
		{151657, "<tool_call>", 4, "not special: user-defined"},
		{151667, "<think>", 4, "not special: user-defined"},
		{151669, "[PAD151669]", 5, "padding to vocab_size"},
		{151935, "[PAD151935]", 5, "last padding"},
	}
	for _, c := range cases {
		if v.Tokens[c.id] != c.tok || v.Types[c.id] != c.typ {
			t.Errorf("token %d = %q type %d, want %q type %d (%s)", c.id, v.Tokens[c.id], v.Types[c.id], c.tok, c.typ, c.note)
		}
	}
	if v.Merges[0] != "Ġ Ġ" {
		t.Errorf("merge 0 = %q", v.Merges[0])
	}
	if v.EOS != 151645 || v.PAD != 151643 || v.BOS != 151643 || h.addBOS == nil || *h.addBOS || h.addEOS != nil {
		t.Errorf("eos %d pad %d bos %d add_bos %v add_eos %v", v.EOS, v.PAD, v.BOS, h.addBOS, h.addEOS)
	}
	if strings.Join(h.idOrder, ",") != "eos,pad,bos" {
		t.Errorf("special id order %v", h.idOrder)
	}
	if !strings.Contains(v.ChatTemplate, "<|im_start|>") {
		t.Errorf("chat template from tokenizer_config.json missing")
	}
}

func TestVocabErrors(t *testing.T) {
	cases := []struct{ name, tj, tc, want string }{
		{"json", `{`, ``, "tokenizer.json"},
		{"type", `{"model":{"type":"Unigram","vocab":{}}}`, ``, `model type "Unigram"`},
		{"too big", `{"model":{"type":"BPE","vocab":{"a":0,"b":9}}}`, ``, "does not fit vocab_size 4"},
		{"merges", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","b","c"]]}}`, ``, "merge 0 has 3 parts"},
		{"config", `{"model":{"type":"BPE","vocab":{"a":0}}}`, `[`, "tokenizer_config.json"},
	}
	for _, c := range cases {
		_, err := VocabFromHFJSON([]byte(c.tj), []byte(c.tc), "", 4, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// Pair merges with a space inside a part are written with U+0120, as llama.cpp does.
	v, err := VocabFromHFJSON([]byte(`{"added_tokens":[{"id":2,"content":"<x>","special":false}],"model":{"type":"BPE","vocab":{"a":0,"b c":1},"merges":[["a","b c"]]}}`), nil, "tmpl", 0, map[string]int{"eos": 2, "bos": 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 3 || v.Merges[0] != "a bĠc" || v.Types[2] != 4 || v.EOS != 2 || v.BOS != -1 || v.ChatTemplate != "" {
		t.Errorf("vocab %+v", v)
	}
}

package tokenizer

import (
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds Load arbitrary tokenizer.json bytes: it returns a
// tokenizer or an error, never panics, and a loaded tokenizer encodes text
// (under the match time limit) to ids it can decode.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(tinyJSON))
	f.Add([]byte(splitJSON(`'s|'t| ?\p{L}+| ?\p{N}+|\s+(?!\S)|\s+`)))
	f.Add([]byte(splitJSON(QwenPattern)))
	f.Add([]byte(splitJSON(`(x+x+)+y`)))
	f.Add([]byte(strings.Replace(tinyJSON, `"merges": ["a b", ["Ġ", "ab"]]`, `"merges": ["a b", "Ġ ab", "x"]`, 1)))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {}}}`))
	old := MatchTimeout
	MatchTimeout = 50 * time.Millisecond
	defer func() { MatchTimeout = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Load(data)
		if err != nil {
			return
		}
		ids, err := tok.EncodeErr("ab ab<s>ba  12 x\u00e9\n")
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || id >= tok.Len() {
				t.Fatalf("id %d outside [0, %d)", id, tok.Len())
			}
		}
		tok.Decode(ids)
	})
}

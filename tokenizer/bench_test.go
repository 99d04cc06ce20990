package tokenizer

import (
	"os"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
)

func loadDocs(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(testutil.Fixture(t, "docs-val.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// BenchmarkEncode encodes docs-val.txt with the Qwen3 vocab; the word cache
// is warm after the first iteration, as in steady use.
func BenchmarkEncode(b *testing.B) {
	tok, docs := qwen3(b), loadDocs(b)
	b.SetBytes(int64(len(docs)))
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(docs)
	}
}

// BenchmarkEncodeCold encodes docs-val.txt with an empty word cache each time.
func BenchmarkEncodeCold(b *testing.B) {
	tok, docs := qwen3(b), loadDocs(b)
	b.SetBytes(int64(len(docs)))
	b.ResetTimer()
	for b.Loop() {
		tok.cache = newWordCache()
		tok.Encode(docs)
	}
}

func BenchmarkDecode(b *testing.B) {
	tok, docs := qwen3(b), loadDocs(b)
	ids := tok.Encode(docs)
	b.SetBytes(int64(len(docs)))
	b.ResetTimer()
	for b.Loop() {
		tok.Decode(ids)
	}
}

// BenchmarkLoad loads the gzipped 151k-token Qwen3 tokenizer.json.
func BenchmarkLoad(b *testing.B) {
	path := testutil.Fixture(b, "qwen3-tokenizer.json.gz")
	for b.Loop() {
		if _, err := LoadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}

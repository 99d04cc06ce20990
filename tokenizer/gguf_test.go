package tokenizer

import (
	"path/filepath"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders/gguf"
)

// TestGGUFVocab reads the tokenizer llama.cpp's converter wrote into the
// qwen3-micro GGUF and checks it encodes and decodes like HF's tokenizer.json.
func TestGGUFVocab(t *testing.T) {
	m, err := gguf.Load(testutil.Fixture(t, "qwen3-micro-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Vocab == nil {
		t.Fatal("GGUF fixture has no tokenizer metadata")
	}
	tok, err := ForModel(m)
	if err != nil {
		t.Fatal(err)
	}
	if tok.EOS() != m.Vocab.EOS || tok.EOS() < 0 {
		t.Errorf("EOS = %d, GGUF eos_token_id %d", tok.EOS(), m.Vocab.EOS)
	}
	for _, f := range []string{testutil.Fixture(t, "tokenizer-vectors.json"), filepath.Join("testdata", "hf-edge-vectors.json")} {
		checkVectors(t, tok, loadVectors(t, f), func(v vector) []int { return v.Micro }, func(v vector) string { return v.MicroDecoded })
	}
}

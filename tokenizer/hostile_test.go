package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/retrofit-llm/retrofit/model"
)

// splitJSON is tinyJSON with a Split pre-tokenizer on pattern.
func splitJSON(pattern string) string {
	return strings.Replace(tinyJSON, `"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}`,
		`"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": `+
			strings.ReplaceAll(quoteJSON(pattern), `\`, `\\`)+`}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}`, 1)
}

func quoteJSON(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// TestSplitPatternReDoS: patterns whose backtracking is exponential are
// refused when loaded; a polynomial one that passes the screen is stopped by
// the match time limit with ErrPatternTimeout, in about that time.
func TestSplitPatternReDoS(t *testing.T) {
	for _, p := range []string{`(x+x+)+y`, `(a*)*b`, `((ab)+c*)+$`, `(\s+\S+)+!`, `([a-z]+){2,}x`} {
		start := time.Now()
		_, err := Load([]byte(splitJSON(p)))
		if err == nil || !strings.Contains(err.Error(), "nested unbounded quantifiers") || !strings.Contains(err.Error(), "pre_tokenizer") {
			t.Errorf("%s: error %v, want a refusal", p, err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("%s: refused after %v", p, el)
		}
	}
	for _, p := range []string{`'s|'t| ?\p{L}+| ?\p{N}+|\s+(?!\S)|\s+`, `(ab)+|[0-9]{1,3}`, `(a|b)c*`} {
		if _, err := Load([]byte(splitJSON(p))); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	old := MatchTimeout
	MatchTimeout = 200 * time.Millisecond
	defer func() { MatchTimeout = old }()
	tok, err := Load([]byte(splitJSON(`\s*\s*\s*\s*\s*\s*x`)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = tok.EncodeErr(strings.Repeat(" ", 5000) + "a")
	if !errors.Is(err, ErrPatternTimeout) {
		t.Errorf("error %v, want ErrPatternTimeout", err)
	}
	// Unbounded, this match takes hours; the limit stops it in about 0.2 s
	// (10 s allows for a loaded machine).
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("stopped after %v", el)
	}
	if ids, err := tok.EncodeErr("ab ab"); err != nil || len(ids) == 0 {
		t.Errorf("ordinary text: %v %v", ids, err)
	}
}

// TestGzipBounds: a forged size trailer allocates nothing, and a bomb stops
// at the limit with an error naming the file.
func TestGzipBounds(t *testing.T) {
	dir := t.TempDir()
	var empty bytes.Buffer
	zw := gzip.NewWriter(&empty)
	zw.Close()
	forged := empty.Bytes()
	binary.LittleEndian.PutUint32(forged[len(forged)-4:], 0xffffffff)
	p := filepath.Join(dir, "forged.json.gz")
	os.WriteFile(p, forged, 0o644)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := LoadFile(p)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("forged trailer: error %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("forged trailer (%d bytes): allocated %d bytes", len(forged), d)
	}

	old := MaxJSONBytes
	MaxJSONBytes = 4 << 20
	defer func() { MaxJSONBytes = old }()
	var bomb bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte{' '}, 64<<20))
	zw.Close()
	p = filepath.Join(dir, "bomb.json.gz")
	os.WriteFile(p, bomb.Bytes(), 0o644)
	runtime.ReadMemStats(&before)
	_, err = LoadFile(p)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "decompresses to more than 4194304 bytes") || !strings.Contains(err.Error(), p) {
		t.Errorf("bomb: error %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 4*uint64(MaxJSONBytes) {
		t.Errorf("bomb (%d bytes): allocated %d bytes", bomb.Len(), d)
	}
}

// TestForModelVocabMismatch: a tokenizer.json with ids the model has no
// embedding row for is refused when loaded, naming the file, instead of
// failing later in the forward pass.
func TestForModelVocabMismatch(t *testing.T) {
	m := &model.Model{Path: "ckpt", Config: model.Config{VocabSize: 4}, Files: map[string][]byte{"tokenizer.json": []byte(tinyJSON)}}
	if _, err := ForModel(m); err == nil || !strings.Contains(err.Error(), "tokenizer.json has ids up to 5, but the model's vocab_size is 4") {
		t.Errorf("error %v", err)
	}
	m.Config.VocabSize = 6
	if _, err := ForModel(m); err != nil {
		t.Error(err)
	}
}

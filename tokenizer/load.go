package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dlclark/regexp2"
)

// gpt2Pattern is the split regex of ByteLevel with use_regex true.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

type fileJSON struct {
	AddedTokens  []AddedToken    `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Decoder      json.RawMessage `json:"decoder"`
	Model        struct {
		Type                    string   `json:"type"`
		Dropout                 *float64 `json:"dropout"`
		ContinuingSubwordPrefix *string  `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string  `json:"end_of_word_suffix"`
		IgnoreMerges            bool     `json:"ignore_merges"`
	} `json:"model"`
}

type component struct {
	Type           string            `json:"type"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Pattern        map[string]string `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	AddPrefixSpace bool              `json:"add_prefix_space"`
	UseRegex       bool              `json:"use_regex"`
}

func isNull(b json.RawMessage) bool { return len(b) == 0 || string(b) == "null" }

// LoadFile reads a tokenizer.json (or tokenizer.json.gz). When a
// tokenizer_config.json sits beside it, its eos_token sets EOS.
func LoadFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if strings.HasSuffix(path, ".gz") {
		if data, err = gunzip(data, MaxJSONBytes); err != nil {
			return nil, fmt.Errorf("tokenizer %s: %w", path, err)
		}
	}
	t, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	if cfg, err := os.ReadFile(cfgPath); err == nil {
		if err := t.SetConfig(cfg); err != nil {
			return nil, fmt.Errorf("tokenizer %s: %w", cfgPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// MaxJSONBytes bounds a decompressed tokenizer.json.gz: Qwen's
// tokenizer.json is 7 MB, the largest known ones about 30 MB.
var MaxJSONBytes int64 = 64 << 20

// gunzip decompresses data, refusing more than limit bytes out. The size in
// the gzip trailer is only a hint for the buffer, capped by the limit and by
// a plausible ratio to the compressed size, so a forged trailer allocates
// nothing and a bomb stops at the limit.
func gunzip(data []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	hint := int64(0)
	if n := len(data); n >= 4 {
		hint = int64(binary.LittleEndian.Uint32(data[n-4:]))
	}
	hint = min(hint, limit, 20*int64(len(data)))
	var out bytes.Buffer
	out.Grow(int(hint) + bytes.MinRead)
	n, err := out.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("decompresses to more than %d bytes; not a tokenizer.json", limit)
	}
	return out.Bytes(), nil
}

// Load parses an HF tokenizer.json holding a byte-level BPE model.
func Load(tokenizerJSON []byte) (*Tokenizer, error) {
	f, vocab, merges, err := parseFile(tokenizerJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	mdl := &f.Model
	if mdl.Type != "" && mdl.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer.json: model.type %q is not supported (only BPE)", mdl.Type)
	}
	if mdl.Dropout != nil && *mdl.Dropout != 0 {
		return nil, fmt.Errorf("tokenizer.json: model.dropout %g is not supported", *mdl.Dropout)
	}
	if p := mdl.ContinuingSubwordPrefix; p != nil && *p != "" {
		return nil, fmt.Errorf("tokenizer.json: model.continuing_subword_prefix %q is not supported", *p)
	}
	if s := mdl.EndOfWordSuffix; s != nil && *s != "" {
		return nil, fmt.Errorf("tokenizer.json: model.end_of_word_suffix %q is not supported", *s)
	}
	if len(vocab) == 0 {
		return nil, errors.New("tokenizer.json: model.vocab is missing or empty")
	}
	t, err := build(vocab, merges, f.AddedTokens)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t.ignoreMerges = mdl.IgnoreMerges
	if err := t.setNormalizer(f.Normalizer); err != nil {
		return nil, fmt.Errorf("tokenizer.json: normalizer: %w", err)
	}
	if err := t.setPreTokenizer(f.PreTokenizer); err != nil {
		return nil, fmt.Errorf("tokenizer.json: pre_tokenizer: %w", err)
	}
	if !isNull(f.Decoder) {
		var d component
		if err := json.Unmarshal(f.Decoder, &d); err != nil {
			return nil, fmt.Errorf("tokenizer.json: decoder: %w", err)
		}
		if d.Type != "ByteLevel" {
			return nil, fmt.Errorf("tokenizer.json: decoder.type %q is not supported (only ByteLevel)", d.Type)
		}
		t.byteDecoder = true
	}
	if id, ok := t.TokenID("<|endoftext|>"); ok {
		t.eos = id
	}
	return t, nil
}

// build makes the tokenizer's tables from a vocab, merges by rank and added
// tokens.
func build(vocab map[string]int32, merges []merge, added []AddedToken) (*Tokenizer, error) {
	t := &Tokenizer{vocab: vocab, eos: -1, cache: newWordCache()}
	n := 0
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("model.vocab: token %q has negative id %d", tok, id)
		}
		n = max(n, int(id)+1)
	}
	for _, a := range added {
		if a.ID < 0 {
			return nil, fmt.Errorf("added_tokens: %q has negative id %d", a.Content, a.ID)
		}
		n = max(n, a.ID+1)
	}
	if n > 1<<24 || n > 2*(len(vocab)+len(added))+1024 {
		return nil, fmt.Errorf("model.vocab: id %d is implausibly large for %d tokens (ids are dense)", n-1, len(vocab)+len(added))
	}
	t.tokens = make([]string, n)
	for tok, id := range vocab {
		t.tokens[id] = tok
	}
	var raw, normed []AddedToken
	for _, a := range added {
		t.tokens[a.ID] = a.Content
		if a.Normalized {
			normed = append(normed, a)
		} else {
			raw = append(raw, a)
		}
	}
	t.added = added
	t.raw, t.norm = newMatcher(raw), newMatcher(normed)

	for b := range t.bpe.byteID {
		t.bpe.byteID[b] = -1
		if id, ok := vocab[string(byteToRune[b])]; ok {
			t.bpe.byteID[b] = id
		}
	}
	t.bpe.merges = newPairTable(len(merges))
	for rank, m := range merges {
		t.bpe.merges.set(pairKey(m.a, m.b), uint64(rank)<<32|uint64(uint32(m.c)))
	}
	return t, nil
}

func (t *Tokenizer) setNormalizer(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	switch c.Type {
	case "NFC":
		t.nfc = true
	case "Sequence":
		for i, sub := range c.Normalizers {
			if err := t.setNormalizer(sub); err != nil {
				return fmt.Errorf("normalizers[%d]: %w", i, err)
			}
		}
	default:
		return fmt.Errorf("type %q is not supported (only NFC)", c.Type)
	}
	return nil
}

func (t *Tokenizer) setPreTokenizer(raw json.RawMessage) error {
	if isNull(raw) {
		return errors.New("missing; only byte-level tokenizers are supported")
	}
	byteLevel := false
	var pattern string
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var c component
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		switch c.Type {
		case "Sequence":
			for i, sub := range c.Pretokenizers {
				if err := walk(sub); err != nil {
					return fmt.Errorf("pretokenizers[%d]: %w", i, err)
				}
			}
			return nil
		case "Split":
			re, ok := c.Pattern["Regex"]
			if !ok {
				s, ok := c.Pattern["String"]
				if !ok {
					return errors.New("Split: pattern has neither Regex nor String")
				}
				re = regexp2.Escape(s)
			}
			if c.Behavior != "Isolated" || c.Invert {
				return fmt.Errorf("Split: behavior %q invert %v is not supported (only Isolated)", c.Behavior, c.Invert)
			}
			if pattern != "" {
				return errors.New("more than one Split is not supported")
			}
			pattern = re
		case "ByteLevel":
			if c.AddPrefixSpace {
				return errors.New("ByteLevel: add_prefix_space true is not supported")
			}
			if c.UseRegex {
				if pattern != "" {
					return errors.New("a Split and ByteLevel use_regex together are not supported")
				}
				pattern = gpt2Pattern
			}
			byteLevel = true
		default:
			return fmt.Errorf("type %q is not supported", c.Type)
		}
		return nil
	}
	if err := walk(raw); err != nil {
		return err
	}
	if !byteLevel {
		return errors.New("no ByteLevel pre-tokenizer; only byte-level tokenizers are supported")
	}
	return t.setPattern(pattern)
}

// setPattern picks the splitter for a Split regex ("" for none).
func (t *Tokenizer) setPattern(pattern string) error {
	switch pattern {
	case "":
	case QwenPattern:
		t.qwenSplit = true
	default:
		if err := checkPattern(pattern); err != nil {
			return fmt.Errorf("Split: pattern %.100q: %w", pattern, err)
		}
		re, err := regexp2.Compile(pattern, regexp2.None)
		if err != nil {
			return fmt.Errorf("Split: pattern %.100q: %w", pattern, err)
		}
		re.MatchTimeout = MatchTimeout
		t.re = re
	}
	return nil
}

// SetConfig reads eos_token from a tokenizer_config.json and sets EOS to its
// id. A missing or unknown eos_token leaves EOS unchanged.
func (t *Tokenizer) SetConfig(tokenizerConfigJSON []byte) error {
	var cfg struct {
		EOS json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(tokenizerConfigJSON, &cfg); err != nil {
		return fmt.Errorf("tokenizer_config.json: %w", err)
	}
	if isNull(cfg.EOS) {
		return nil
	}
	var name string
	if err := json.Unmarshal(cfg.EOS, &name); err != nil {
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(cfg.EOS, &obj); err != nil {
			return fmt.Errorf("tokenizer_config.json: eos_token: %w", err)
		}
		name = obj.Content
	}
	if id, ok := t.TokenID(name); ok {
		t.eos = id
	}
	return nil
}

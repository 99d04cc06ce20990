package tokenizer

import (
	"errors"
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
)

// llama.cpp token types that FromVocab treats as added tokens.
const (
	typeControl     = 3
	typeUserDefined = 4
)

// FromVocab builds a tokenizer from GGUF tokenizer.ggml.* metadata. Control
// tokens (type 3) become special added tokens and user-defined ones (type 4)
// plain added tokens, both matched in the text before BPE; the rest is the
// byte-level BPE vocab.
func FromVocab(v *model.Vocab) (*Tokenizer, error) {
	if v == nil {
		return nil, errors.New("gguf tokenizer: no vocab")
	}
	if v.Model != "" && v.Model != "gpt2" {
		return nil, fmt.Errorf("gguf tokenizer: tokenizer.ggml.model %q is not supported (only gpt2, byte-level BPE)", v.Model)
	}
	var pattern string
	switch v.Pre {
	case "qwen2", "", "default":
		// Files written before tokenizer.ggml.pre existed have no pre (the
		// GGUF loader reports "default"); the models retrofit serves are
		// Qwen's, so they get Qwen's split.
		pattern = QwenPattern
	case "gpt-2", "gpt2":
		pattern = gpt2Pattern
	default:
		return nil, fmt.Errorf("gguf tokenizer: tokenizer.ggml.pre %q is not supported", v.Pre)
	}
	if len(v.Tokens) == 0 {
		return nil, errors.New("gguf tokenizer: tokenizer.ggml.tokens is empty")
	}
	if len(v.Types) != 0 && len(v.Types) != len(v.Tokens) {
		return nil, fmt.Errorf("gguf tokenizer: tokenizer.ggml.token_type has %d entries for %d tokens", len(v.Types), len(v.Tokens))
	}
	vocab := make(map[string]int32, len(v.Tokens))
	var added []AddedToken
	for id, tok := range v.Tokens {
		typ := int32(1)
		if len(v.Types) > 0 {
			typ = v.Types[id]
		}
		if typ == typeControl || typ == typeUserDefined {
			added = append(added, AddedToken{ID: id, Content: tok, Special: typ == typeControl})
			continue
		}
		if _, dup := vocab[tok]; !dup {
			vocab[tok] = int32(id)
		}
	}
	merges := make([]merge, len(v.Merges))
	var buf []byte
	for i, m := range v.Merges {
		a, b, ok := splitMerge([]byte(m))
		if !ok {
			return nil, fmt.Errorf("gguf tokenizer: tokenizer.ggml.merges[%d] %q is not two tokens separated by a space", i, m)
		}
		var err error
		if merges[i], err = resolveMerge(vocab, a, b, &buf); err != nil {
			return nil, fmt.Errorf("gguf tokenizer: tokenizer.ggml.merges[%d]: %w", i, err)
		}
	}
	t, err := build(vocab, merges, added)
	if err != nil {
		return nil, fmt.Errorf("gguf tokenizer: %w", err)
	}
	// Padding tokens above the vocab (type 5) keep their text for Token.
	for id, tok := range v.Tokens {
		if t.tokens[id] == "" {
			t.tokens[id] = tok
		}
	}
	t.byteDecoder = true
	// HF's Qwen tokenizer.json normalizes to NFC; GGUF does not record a
	// normalizer, so do as the tokenizer.json the vocab came from.
	t.nfc = true
	if err := t.setPattern(pattern); err != nil {
		return nil, fmt.Errorf("gguf tokenizer: %w", err)
	}
	t.eos = -1
	if v.EOS >= 0 && v.EOS < len(t.tokens) {
		t.eos = v.EOS
	}
	return t, nil
}

// ForModel returns the model's tokenizer: its tokenizer.json side file when
// present (EOS from tokenizer_config.json), else its GGUF vocab.
func ForModel(m *model.Model) (*Tokenizer, error) {
	if js, ok := m.Files["tokenizer.json"]; ok {
		t, err := Load(js)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		if cfg, ok := m.Files["tokenizer_config.json"]; ok {
			if err := t.SetConfig(cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", m.Path, err)
			}
		}
		if v := m.Config.VocabSize; v > 0 && t.Len() > v {
			return nil, fmt.Errorf("%s: tokenizer.json has ids up to %d, but the model's vocab_size is %d: tokenizer and model do not match", m.Path, t.Len()-1, v)
		}
		return t, nil
	}
	if m.Vocab != nil {
		t, err := FromVocab(m.Vocab)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s: no tokenizer: neither a tokenizer.json side file nor GGUF tokenizer metadata", m.Path)
}

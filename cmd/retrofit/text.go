package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/tokenizer"
)

// documentSeparator splits a text file into documents, as the fixtures'
// reference token ids were made: documents are separated by two blank lines
// and joined with <|endoftext|>.
const documentSeparator = "\n\n\n"

// encodeDocuments tokenizes text, splitting it into documents on sep (none
// when sep is empty) and putting the end-of-text token between them. With
// limit > 0 it stops after the document that reaches limit tokens. Every id
// must be inside the model's vocabulary.
func encodeDocuments(ctx context.Context, tok *tokenizer.Tokenizer, m *model.Model, text, sep string, limit int) ([]int, error) {
	if sep == "" {
		ids, err := tok.EncodeErr(text)
		if err != nil {
			return nil, err
		}
		return ids, checkIDs(ids, m, "the text")
	}
	eot, ok := tok.TokenID("<|endoftext|>")
	if !ok {
		eot = m.Config.EOS
	}
	if eot < 0 {
		return nil, fmt.Errorf("the tokenizer has no <|endoftext|> token and the config no eos_token_id to separate documents")
	}
	var ids []int
	for i, doc := range strings.Split(text, sep) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interrupted while tokenizing: %w", err)
		}
		if i > 0 {
			ids = append(ids, eot)
		}
		d, err := tok.EncodeErr(doc)
		if err != nil {
			return nil, err
		}
		ids = append(ids, d...)
		if limit > 0 && len(ids) >= limit {
			break
		}
	}
	return ids, checkIDs(ids, m, "the text")
}

// checkIDs refuses token ids the model has no embedding row for: the
// tokenizer does not belong to the model.
func checkIDs(ids []int, m *model.Model, what string) error {
	for _, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("%s: the tokenizer (%s) gives token id %d, outside the model's vocab_size %d: tokenizer and model do not match",
				what, tokenizerSource(m), id, m.Config.VocabSize)
		}
	}
	return nil
}

// tokenizerSource names where a model's tokenizer comes from.
func tokenizerSource(m *model.Model) string {
	if _, ok := m.Files["tokenizer.json"]; ok {
		return filepath.Join(m.Path, "tokenizer.json")
	}
	return m.Path + " tokenizer.ggml.*"
}

// readIDs reads a JSON array of token ids (or an object with an "ids" array).
func readIDs(path string, vocab int) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ids []int
	if err := json.Unmarshal(data, &ids); err != nil {
		var obj struct {
			IDs []int `json:"ids"`
		}
		if err2 := json.Unmarshal(data, &obj); err2 != nil || obj.IDs == nil {
			return nil, fmt.Errorf("%s: want a JSON array of token ids: %w", path, err)
		}
		ids = obj.IDs
	}
	for i, id := range ids {
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("%s: ids[%d] = %d outside the vocabulary [0, %d)", path, i, id, vocab)
		}
	}
	return ids, nil
}

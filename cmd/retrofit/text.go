package main

import (
	"encoding/json"
	"fmt"
	"os"
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
// limit > 0 it stops after the document that reaches limit tokens.
func encodeDocuments(tok *tokenizer.Tokenizer, m *model.Model, text, sep string, limit int) ([]int, error) {
	if sep == "" {
		return tok.Encode(text), nil
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
		if i > 0 {
			ids = append(ids, eot)
		}
		ids = append(ids, tok.Encode(doc)...)
		if limit > 0 && len(ids) >= limit {
			break
		}
	}
	return ids, nil
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

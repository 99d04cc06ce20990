package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/retrofit-llm/retrofit/model"
)

// llama.cpp token types.
const (
	tokNormal      = 1
	tokControl     = 3
	tokUserDefined = 4
	tokUnused      = 5
)

// hfVocab is the tokenizer metadata llama.cpp's converter derives from an HF
// tokenizer: the vocab, and the add_*_token flags tokenizer_config.json sets
// (written only when present, so kept apart from model.Vocab).
type hfVocab struct {
	vocab  *model.Vocab
	addBOS *bool
	addEOS *bool
	// idOrder lists the special ids in the order llama.cpp writes them:
	// those named in tokenizer_config.json first, then config.json's.
	idOrder []string
}

// VocabFromHFJSON builds the GGUF vocab that llama.cpp's convert_hf_to_gguf.py
// writes for a Qwen (byte-level BPE, "gpt2") tokenizer:
//
//   - tokens by id, padded to vocabSize with "[PAD<id>]" tokens of type unused
//     (5) when the tokenizer has fewer; added tokens are control (3) when
//     special or shaped like "<|...|>", user-defined (4) otherwise; the rest
//     normal (1);
//   - merges as "a b" strings (pair-form merges joined, spaces inside a part
//     written as U+0120 like the converter);
//   - pre-tokenizer "qwen2";
//   - special ids: bos/eos/unk/sep/pad/cls/mask named by tokenizer_config.json
//     (looked up among the added tokens), then config.json's *_token_id
//     (cfgIDs, "bos" → id) for those still unset; ids ≥ the token count are dropped;
//   - add_bos from tokenizer_config.json's add_bos_token;
//   - the chat template of tokenizer_config.json, else chatTemplate (the
//     chat_template.jinja file); none without a tokenizer_config.json.
//
// vocabSize ≤ 0 means the tokenizer's own size.
func VocabFromHFJSON(tokenizerJSON, tokenizerConfigJSON []byte, chatTemplate string, vocabSize int, cfgIDs map[string]int) (*model.Vocab, error) {
	h, err := vocabFromHF(tokenizerJSON, tokenizerConfigJSON, chatTemplate, vocabSize, cfgIDs)
	if err != nil {
		return nil, err
	}
	return h.vocab, nil
}

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	Normalized bool   `json:"normalized"`
}

var specialTypes = []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask"}

func vocabFromHF(tokenizerJSON, tokenizerConfigJSON []byte, chatTemplate string, vocabSize int, cfgIDs map[string]int) (*hfVocab, error) {
	var tj struct {
		AddedTokens []addedToken `json:"added_tokens"`
		Model       struct {
			Type   string          `json:"type"`
			Vocab  map[string]int  `json:"vocab"`
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(tokenizerJSON, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer.json: model type %q, want BPE (byte-level, as Qwen uses)", tj.Model.Type)
	}
	byID := map[int]string{}
	maxID := -1
	for tok, id := range tj.Model.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer.json: token %q has negative id %d", tok, id)
		}
		byID[id] = tok
		maxID = max(maxID, id)
	}
	added := map[int]addedToken{}
	for _, a := range tj.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("tokenizer.json: added token %q has negative id %d", a.Content, a.ID)
		}
		byID[a.ID] = a.Content
		added[a.ID] = a
		maxID = max(maxID, a.ID)
	}
	if vocabSize <= 0 {
		vocabSize = maxID + 1
	}
	if maxID >= vocabSize {
		return nil, fmt.Errorf("tokenizer.json: token id %d does not fit vocab_size %d", maxID, vocabSize)
	}
	v := &model.Vocab{Model: "gpt2", Pre: "qwen2", BOS: -1, EOS: -1, PAD: -1,
		Tokens: make([]string, vocabSize), Types: make([]int32, vocabSize)}
	for i := range vocabSize {
		tok, ok := byID[i]
		switch a, isAdded := added[i]; {
		case !ok:
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), tokUnused
		case isAdded && (a.Special || looksSpecial(tok)):
			v.Tokens[i], v.Types[i] = tok, tokControl
		case isAdded:
			v.Tokens[i], v.Types[i] = strings.ReplaceAll(tok, "\u2581", " "), tokUserDefined
		default:
			v.Tokens[i], v.Types[i] = tok, tokNormal
		}
	}
	var err error
	if v.Merges, err = parseMerges(tj.Model.Merges); err != nil {
		return nil, fmt.Errorf("tokenizer.json: merges: %w", err)
	}
	h := &hfVocab{vocab: v}
	ids := map[string]int{}
	set := func(typ string, id int) {
		if _, done := ids[typ]; done || id < 0 || id >= vocabSize {
			return
		}
		ids[typ] = id
		h.idOrder = append(h.idOrder, typ)
	}
	if len(bytes.TrimSpace(tokenizerConfigJSON)) > 0 {
		var tc map[string]any
		if err := json.Unmarshal(tokenizerConfigJSON, &tc); err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
		if s, ok := tc["chat_template"].(string); ok {
			v.ChatTemplate = s
		} else if _, present := tc["chat_template"]; !present {
			v.ChatTemplate = chatTemplate
		}
		for _, typ := range specialTypes {
			if b, ok := tc["add_"+typ+"_token"].(bool); ok {
				switch typ {
				case "bos":
					h.addBOS, v.AddBOS = &b, b
				case "eos":
					h.addEOS = &b
				}
			}
			var content string
			switch e := tc[typ+"_token"].(type) {
			case string:
				content = e
			case map[string]any:
				if content, _ = e["content"].(string); content == "" {
					continue
				}
			default:
				continue
			}
			for _, a := range tj.AddedTokens {
				if a.Content == content {
					set(typ, a.ID)
					break
				}
			}
		}
	}
	for _, typ := range specialTypes {
		if id, ok := cfgIDs[typ]; ok {
			set(typ, id)
		}
	}
	for typ, id := range ids {
		switch typ {
		case "bos":
			v.BOS = id
		case "eos":
			v.EOS = id
		case "pad":
			v.PAD = id
		}
	}
	// model.Vocab keeps bos/eos/pad only; order the rest out.
	keep := h.idOrder[:0]
	for _, typ := range h.idOrder {
		if typ == "bos" || typ == "eos" || typ == "pad" {
			keep = append(keep, typ)
		}
	}
	h.idOrder = keep
	return h, nil
}

// looksSpecial is llama.cpp's heuristic for added tokens that ought to be
// control tokens although not marked special.
func looksSpecial(tok string) bool {
	switch tok {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(tok, "<|") && strings.HasSuffix(tok, "|>")) ||
		(strings.HasPrefix(tok, "<｜") && strings.HasSuffix(tok, "｜>")) ||
		(strings.HasPrefix(tok, "<unused") && strings.HasSuffix(tok, ">"))
}

// parseMerges reads merges as "a b" strings or ["a", "b"] pairs.
func parseMerges(raw json.RawMessage) ([]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil {
		return strs, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("neither strings nor pairs of strings: %w", err)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d has %d parts, want 2", i, len(p))
		}
		out[i] = strings.ReplaceAll(p[0], " ", "\u0120") + " " + strings.ReplaceAll(p[1], " ", "\u0120")
	}
	return out, nil
}

// configIDs returns config.json's integer *_token_id fields (a list, as some
// eos_token_id are, is ignored like llama.cpp does).
func configIDs(c model.Config) map[string]int {
	out := map[string]int{}
	if c.Raw == nil {
		for typ, id := range map[string]int{"bos": c.BOS, "eos": c.EOS, "pad": c.PAD} {
			if id >= 0 {
				out[typ] = id
			}
		}
		return out
	}
	for _, typ := range specialTypes {
		if n, ok := c.Raw[typ+"_token_id"].(json.Number); ok {
			if id, err := n.Int64(); err == nil && id >= 0 {
				out[typ] = int(id)
			}
		}
	}
	return out
}

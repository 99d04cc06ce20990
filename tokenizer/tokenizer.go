package tokenizer

import (
	"fmt"
	"strings"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm"
)

// Tokenizer encodes text to token ids and back. It is safe for concurrent use.
type Tokenizer struct {
	vocab  map[string]int32 // byte-level token → id of the BPE model
	tokens []string         // by id: byte-level form, or an added token's content
	added  []AddedToken

	raw  *matcher // added tokens matched on the raw text
	norm *matcher // added tokens matched on the normalized text

	nfc          bool            // NFC normalizer
	qwenSplit    bool            // split with the hand-written Qwen scanner
	re           *regexp2.Regexp // split with a general regex otherwise (nil: none)
	byteDecoder  bool            // ByteLevel decoder (else tokens are joined with spaces)
	ignoreMerges bool

	bpe   bpe
	cache *wordCache
	eos   int
}

// Len returns the number of ids, added tokens included.
func (t *Tokenizer) Len() int { return len(t.tokens) }

// EOS returns the end-of-sequence id when the tokenizer files name one, else -1.
func (t *Tokenizer) EOS() int { return t.eos }

// Token returns the token of id: the byte-level form of a vocab entry or the
// content of an added token; "" when id is out of range.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id of a token, added tokens first.
func (t *Tokenizer) TokenID(s string) (int, bool) {
	for _, m := range []*matcher{t.raw, t.norm} {
		if m != nil {
			if id, ok := m.exact[s]; ok {
				return int(id), true
			}
		}
	}
	id, ok := t.vocab[s]
	return int(id), ok
}

// IsSpecial reports whether id is a special added token (control token).
func (t *Tokenizer) IsSpecial(id int) bool {
	for _, a := range t.added {
		if a.ID == id {
			return a.Special
		}
	}
	return false
}

// AddedTokens returns the added tokens (special and not).
func (t *Tokenizer) AddedTokens() []AddedToken { return append([]AddedToken(nil), t.added...) }

// Encode returns the ids of text. Added tokens in the text, special ones
// included, become their ids; no BOS/EOS is added. When a general Split
// regex exceeds MatchTimeout the ids stop there; EncodeErr reports it.
func (t *Tokenizer) Encode(text string) []int {
	ids, _ := t.EncodeErr(text)
	return ids
}

// EncodeErr is Encode that fails (ErrPatternTimeout) instead of returning
// the ids of a prefix when the Split regex runs past its time limit.
func (t *Tokenizer) EncodeErr(text string) ([]int, error) {
	out := make([]int, 0, len(text)/4+4)
	sc := &scratch{}
	var err error
	addTok := func(id int32) {
		if err == nil {
			out = append(out, int(id))
		}
	}
	plain := func(s string) {
		if err == nil {
			out, err = t.encodeText(out, s, sc)
		}
	}
	t.raw.split(text, func(seg string) {
		if err != nil {
			return
		}
		if t.nfc {
			seg = norm.NFC.String(seg)
		}
		t.norm.split(seg, plain, addTok)
	}, addTok)
	return out, err
}

// encodeText appends the ids of a stretch of normalized text without added
// tokens.
func (t *Tokenizer) encodeText(dst []int, s string, sc *scratch) ([]int, error) {
	switch {
	case t.qwenSplit:
		for i := 0; i < len(s); {
			j := nextPiece(s, i)
			dst = t.encodeWord(dst, s[i:j], sc)
			i = j
		}
	case t.re != nil:
		err := splitRegex(t.re, s, func(p string) { dst = t.encodeWord(dst, p, sc) })
		return dst, err
	default:
		dst = t.encodeWord(dst, s, sc)
	}
	return dst, nil
}

// encodeWord appends the ids of one pre-tokenized piece (raw bytes).
func (t *Tokenizer) encodeWord(dst []int, piece string, sc *scratch) []int {
	ids, ok := t.cache.get(piece)
	if !ok {
		if t.ignoreMerges {
			if id, ok := t.vocab[string(byteLevelEncode(nil, piece))]; ok {
				return append(dst, int(id))
			}
		}
		sc.out = t.bpe.merge(sc.out[:0], piece, sc)
		ids = sc.out
		t.cache.put(piece, ids)
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// Decode returns the text of ids, added tokens included; ids out of range are
// skipped. Invalid UTF-8 becomes U+FFFD as in HF.
func (t *Tokenizer) Decode(ids []int) string {
	if !t.byteDecoder {
		parts := make([]string, 0, len(ids))
		for _, id := range ids {
			if id >= 0 && id < len(t.tokens) {
				parts = append(parts, t.tokens[id])
			}
		}
		return strings.Join(parts, " ")
	}
	buf := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		if id >= 0 && id < len(t.tokens) {
			buf = byteLevelDecode(buf, t.tokens[id])
		}
	}
	return lossyString(buf)
}

// splitRegex calls fn for each match of re in s and for each stretch between
// matches (the "Isolated" behavior).
func splitRegex(re *regexp2.Regexp, s string, fn func(string)) error {
	// regexp2 reports rune offsets; map them to byte offsets.
	offs := make([]int, 0, len(s)+1)
	for i := range s {
		offs = append(offs, i)
	}
	offs = append(offs, len(s))
	done := 0
	m, err := re.FindStringMatch(s)
	for err == nil && m != nil {
		a, b := offs[m.Index], offs[m.Index+m.Length]
		if a > done {
			fn(s[done:a])
		}
		if b > a {
			fn(s[a:b])
		}
		done = b
		m, err = re.FindNextMatch(m)
	}
	if err != nil {
		// regexp2's message quotes the whole input: leave it out.
		return fmt.Errorf("%w (%v per match) on a %d-byte piece of text", ErrPatternTimeout, re.MatchTimeout, len(s))
	}
	if done < len(s) {
		fn(s[done:])
	}
	return nil
}

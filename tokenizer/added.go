package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is an entry of tokenizer.json's added_tokens.
type AddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// matcher finds added tokens in text, leftmost-longest, as HF's
// AddedVocabulary does with its Aho-Corasick automaton.
type matcher struct {
	toks  []AddedToken     // sorted by descending content length
	first [256][]int       // indexes into toks by first byte
	exact map[string]int32 // content → id
}

func newMatcher(toks []AddedToken) *matcher {
	if len(toks) == 0 {
		return nil
	}
	m := &matcher{exact: map[string]int32{}}
	for _, t := range toks {
		if t.Content == "" {
			continue
		}
		m.toks = append(m.toks, t)
	}
	// Longest first so that the first hit at a position is the longest.
	for i := 1; i < len(m.toks); i++ {
		for j := i; j > 0 && len(m.toks[j].Content) > len(m.toks[j-1].Content); j-- {
			m.toks[j], m.toks[j-1] = m.toks[j-1], m.toks[j]
		}
	}
	for i, t := range m.toks {
		m.first[t.Content[0]] = append(m.first[t.Content[0]], i)
		m.exact[t.Content] = int32(t.ID)
	}
	if len(m.toks) == 0 {
		return nil
	}
	return m
}

// find returns the leftmost-longest match in s at or after from: its start,
// end and token index, or start -1.
func (m *matcher) find(s string, from int) (int, int, int) {
	for i := from; i < len(s); i++ {
		cand := m.first[s[i]]
		if cand == nil {
			continue
		}
		for _, k := range cand {
			if strings.HasPrefix(s[i:], m.toks[k].Content) {
				return i, i + len(m.toks[k].Content), k
			}
		}
	}
	return -1, -1, -1
}

// split calls text for each stretch of s without added tokens and tok for
// each added token, in order, honouring single_word, lstrip and rstrip.
func (m *matcher) split(s string, text func(string), tok func(int32)) {
	if m == nil {
		if s != "" {
			text(s)
		}
		return
	}
	done, from := 0, 0
	for {
		start, stop, k := m.find(s, from)
		if start < 0 {
			break
		}
		t := &m.toks[k]
		from = stop
		if t.SingleWord && ((start > 0 && endsWithWord(s[:start])) || (stop < len(s) && startsWithWord(s[stop:]))) {
			continue
		}
		if t.LStrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, done)
		}
		if t.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
			from = stop
		}
		if done < start {
			text(s[done:start])
		}
		tok(int32(t.ID))
		done = stop
	}
	if done < len(s) {
		text(s[done:])
	}
}

func isWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Pc, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordChar(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordChar(r)
}

package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// QwenPattern is the Split regex of Qwen2/2.5/3 tokenizer.json files. Text is
// split by a hand-written scanner that implements this alternation exactly
// (leftmost-first, with the backtracking the regex engine would do).
const QwenPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// Character classes of the pattern: \p{L}, \p{N}, \r or \n, other \s, rest.
const (
	clsOther uint8 = iota
	clsLetter
	clsNumber
	clsSpace
	clsNewline
)

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch {
		case c == '\r' || c == '\n':
			t[c] = clsNewline
		case c == ' ' || (c >= '\t' && c <= '\f'):
			t[c] = clsSpace
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			t[c] = clsLetter
		case c >= '0' && c <= '9':
			t[c] = clsNumber
		}
	}
	return t
}()

// classAt returns the class and byte length of the character at s[i].
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clsLetter, n
	case unicode.IsNumber(r):
		return clsNumber, n
	case unicode.IsSpace(r):
		return clsSpace, n
	case r >= 0x1C89 && unicode.Is(letters16, r):
		return clsLetter, n
	case r >= 0x10D40 && unicode.Is(numbers16, r):
		return clsNumber, n
	}
	return clsOther, n
}

// runOf returns the end of the run of class cls starting at i.
func runOf(s string, i int, cls uint8) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiClass[c] != cls {
				return i
			}
			i++
			continue
		}
		c, n := classAt(s, i)
		if c != cls {
			return i
		}
		i += n
	}
	return i
}

// contraction returns the length of a match of (?i:s|t|re|ve|m|ll|d) at the
// start of s (after the apostrophe), or 0. Case folding follows Unicode, so
// U+017F (long s) matches s.
func contraction(s string) int {
	if len(s) == 0 {
		return 0
	}
	lower := func(c byte) byte { return c | 0x20 }
	switch lower(s[0]) {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(s) > 1 && lower(s[1]) == 'e' {
			return 2
		}
	case 'l':
		if len(s) > 1 && lower(s[1]) == 'l' {
			return 2
		}
	}
	if len(s) > 1 && s[0] == 0xC5 && s[1] == 0xBF { // ſ
		return 2
	}
	return 0
}

// nextPiece returns the end of the regex match that starts at i < len(s).
func nextPiece(s string, i int) int {
	c, n := classAt(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if s[i] == '\'' {
		if l := contraction(s[i+1:]); l > 0 {
			return i + 1 + l
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == clsLetter {
		return runOf(s, i+n, clsLetter)
	}
	if (c == clsOther || c == clsSpace) && i+n < len(s) {
		if c2, n2 := classAt(s, i+n); c2 == clsLetter {
			return runOf(s, i+n+n2, clsLetter)
		}
	}
	// \p{N}
	if c == clsNumber {
		return i + n
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	if c == clsOther {
		return runOf(s, runOf(s, i+n, clsOther), clsNewline)
	}
	if s[i] == ' ' && i+1 < len(s) {
		if c2, n2 := classAt(s, i+1); c2 == clsOther {
			return runOf(s, runOf(s, i+1+n2, clsOther), clsNewline)
		}
	}
	// c is whitespace. \s*[\r\n]+ matches up to the last newline of the run.
	j, last, chars, lastSize := i, -1, 0, 0
	for j < len(s) {
		c2, n2 := classAt(s, j)
		if c2 != clsSpace && c2 != clsNewline {
			break
		}
		j += n2
		chars++
		lastSize = n2
		if c2 == clsNewline {
			last = j
		}
	}
	if last >= 0 {
		return last
	}
	// \s+(?!\S): the whole run at the end of text, else all but its last char.
	if j == len(s) {
		return j
	}
	if chars > 1 {
		return j - lastSize
	}
	// \s+
	return j
}

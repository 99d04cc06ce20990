package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Expected pieces are HF tokenizers' Qwen pre-tokenizer output (npm
// tokenizers 0.23.2, preTokenizeString, byte-level mapped back to text).
var scanCases = []struct {
	in   string
	want []string
}{
	{"a  b", []string{"a", " ", " b"}},
	{"trailing  ", []string{"trailing", "  "}},
	{"\n\n  x", []string{"\n\n", " ", " x"}},
	{"\t\tfoo", []string{"\t", "\tfoo"}},
	{"a\tb", []string{"a", "\tb"}},
	{"x \t y", []string{"x", " \t", " y"}},
	{"I'S", []string{"I", "'S"}},
	{"don't", []string{"don", "'t"}},
	{"'RE'LL", []string{"'RE", "'LL"}},
	{"'\u017fx", []string{"'\u017f", "x"}},
	{"'x", []string{"'x"}},
	{"12345", []string{"1", "2", "3", "4", "5"}},
	{"x1y2", []string{"x", "1", "y", "2"}},
	{"3.14", []string{"3", ".", "1", "4"}},
	{"\u4e2d\u6587abc", []string{"\u4e2d\u6587abc"}},
	{"\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440", []string{"\u041f\u0440\u0438\u0432\u0435\u0442", ",", " \u043c\u0438\u0440"}},
	{"\u00e9-\u00fc", []string{"\u00e9", "-\u00fc"}},
	{"(foo)", []string{"(foo", ")"}},
	{"  !!", []string{" ", " !!"}},
	{"!!\n\n", []string{"!!\n\n"}},
	{"a\r\n\r\n  b", []string{"a", "\r\n\r\n", " ", " b"}},
	{"   ", []string{"   "}},
	{"\n", []string{"\n"}},
	{" \u00a0x", []string{" ", "\u00a0x"}},
	{"\u3000\u3000y", []string{"\u3000", "\u3000y"}},
	{"a ,b", []string{"a", " ,", "b"}},
	{"a\u2028b", []string{"a", "\u2028b"}},
	{"x \n y", []string{"x", " \n", " y"}},
	{"...\n\nx", []string{"...\n\n", "x"}},
}

func scan(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := nextPiece(s, i)
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func TestScanner(t *testing.T) {
	for _, tc := range scanCases {
		if got := scan(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("scan(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestScannerMatchesRegex checks the scanner against the pattern run by a
// backtracking regex engine on the table and on the validation documents.
func TestScannerMatchesRegex(t *testing.T) {
	re := regexp2.MustCompile(QwenPattern, regexp2.None)
	texts := []string{loadDocs(t)[:200_000]}
	for _, tc := range scanCases {
		// regexp2 does not fold U+017F to s under (?i); Oniguruma (HF) does.
		if !strings.ContainsRune(tc.in, '\u017f') {
			texts = append(texts, tc.in)
		}
	}
	for _, s := range texts {
		var want []string
		splitRegex(re, s, func(p string) { want = append(want, p) })
		if got := scan(s); !slices.Equal(got, want) {
			n := min(len(got), len(want))
			for i := 0; i < n; i++ {
				if got[i] != want[i] {
					t.Errorf("piece %d: scanner %q, regexp2 %q", i, got[i], want[i])
					break
				}
			}
			t.Errorf("text %.40q: scanner gives %d pieces, regexp2 %d", s, len(got), len(want))
		}
	}
}

// FuzzScanner compares the scanner with regexp2 running QwenPattern.
func FuzzScanner(f *testing.F) {
	for _, tc := range scanCases {
		f.Add(tc.in)
	}
	re := regexp2.MustCompile(QwenPattern, regexp2.None)
	f.Fuzz(func(t *testing.T, s string) {
		// regexp2 works on runes (invalid bytes become U+FFFD) and does not
		// fold U+017F under (?i) as Oniguruma does.
		if !utf8.ValidString(s) || strings.ContainsRune(s, '\u017f') {
			return
		}
		var want []string
		splitRegex(re, s, func(p string) { want = append(want, p) })
		if got := scan(s); !slices.Equal(got, want) {
			t.Errorf("scan(%q) = %q, regexp2 gives %q", s, got, want)
		}
	})
}

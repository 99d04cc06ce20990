package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
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
		// regexp2 works on runes (invalid bytes become U+FFFD), does not
		// fold U+017F under (?i) as Oniguruma does, and has Go's Unicode 15
		// tables where HF has Unicode 16.
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
			return r == '\u017f' || unicode.In(r, letters16, numbers16)
		}) {
			return
		}
		var want []string
		splitRegex(re, s, func(p string) { want = append(want, p) })
		if got := scan(s); !slices.Equal(got, want) {
			t.Errorf("scan(%q) = %q, regexp2 gives %q", s, got, want)
		}
	})
}

// TestClassesMatchHF checks the class of every non-ASCII code point against
// HF's pre-tokenizer (testdata/hf-unicode-classes.json: [first, last, class]
// ranges, class L letter, N number, W whitespace, O other).
func TestClassesMatchHF(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "hf-unicode-classes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ranges [][3]any
	if err := json.Unmarshal(data, &ranges); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint8{"L": clsLetter, "N": clsNumber, "W": clsSpace, "O": clsOther}
	checked, bad := 0, 0
	buf := make([]byte, 0, 4)
	for _, r := range ranges {
		lo, hi := rune(r[0].(float64)), rune(r[1].(float64))
		w, ok := want[r[2].(string)]
		if !ok {
			t.Fatalf("range %v: unknown class", r)
		}
		for c := lo; c <= hi; c++ {
			buf = utf8.AppendRune(buf[:0], c)
			if got, _ := classAt(string(buf), 0); got != w {
				if bad++; bad <= 10 {
					t.Errorf("U+%04X: class %d, HF %s", c, got, r[2])
				}
			}
			checked++
		}
	}
	if checked != 0x10FFFF-0x80+1-0x800 {
		t.Errorf("checked %d code points, want every non-ASCII scalar value", checked)
	}
	if bad > 0 {
		t.Errorf("%d code points differ", bad)
	}
}

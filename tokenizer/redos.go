package tokenizer

import (
	"errors"
	"fmt"
	"time"
)

// MatchTimeout bounds one regex match of a Split pattern other than Qwen's
// (which has its own linear scanner). regexp2 backtracks, so an untrusted
// pattern is first screened by checkPattern and then run under this limit:
// a piece of ordinary text matches in microseconds.
var MatchTimeout = time.Second

// ErrPatternTimeout is returned (wrapped) by EncodeErr when a Split regex
// exceeds MatchTimeout on the text.
var ErrPatternTimeout = errors.New("the tokenizer's Split regex exceeded its time limit (catastrophic backtracking)")

// checkPattern refuses patterns with nested unbounded quantifiers — a group
// repeated by +, * or {n,} around a part that is itself repeated so, like
// (x+x+)+y or (a*)* — whose backtracking is exponential in the input.
func checkPattern(p string) error {
	type group struct{ unbounded bool }
	stack := []group{{}}
	// quantified reports whether an unbounded quantifier starts at p[i].
	quantified := func(i int) bool {
		if i >= len(p) {
			return false
		}
		switch p[i] {
		case '*', '+':
			return true
		case '{':
			for j := i + 1; j < len(p) && p[j] != '}'; j++ {
				if p[j] == ',' {
					return j+1 < len(p) && p[j+1] == '}'
				}
			}
		}
		return false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			i++
			if i < len(p) && (p[i] == 'p' || p[i] == 'P') && i+1 < len(p) && p[i+1] == '{' {
				for i < len(p) && p[i] != '}' {
					i++
				}
			}
			if quantified(i + 1) {
				stack[len(stack)-1].unbounded = true
			}
		case '[':
			j := i + 1
			if j < len(p) && p[j] == '^' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				if p[j] == '\\' {
					j++
				}
				j++
			}
			i = j
			if quantified(i + 1) {
				stack[len(stack)-1].unbounded = true
			}
		case '(':
			stack = append(stack, group{})
		case ')':
			if len(stack) == 1 {
				return errors.New("unbalanced ')'")
			}
			g := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if quantified(i + 1) {
				if g.unbounded {
					return fmt.Errorf("nested unbounded quantifiers at byte %d (a repeated group around a repeated part backtracks exponentially)", i)
				}
				stack[len(stack)-1].unbounded = true
			} else if g.unbounded {
				stack[len(stack)-1].unbounded = true
			}
		default:
			if quantified(i + 1) {
				stack[len(stack)-1].unbounded = true
			}
		}
	}
	return nil
}

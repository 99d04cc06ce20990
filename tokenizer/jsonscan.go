package tokenizer

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a minimal JSON reader for the two big members of a
// tokenizer.json, model.vocab and model.merges, which encoding/json decodes
// several times slower. Everything else goes through encoding/json.
type scanner struct {
	b   []byte
	i   int
	buf []byte // scratch for decoded strings
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", s.i, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		if s.i >= len(s.b) {
			return s.errorf("unexpected end, want %q", c)
		}
		return s.errorf("found %q, want %q", s.b[s.i], c)
	}
	s.i++
	return nil
}

// str decodes a JSON string into s.buf (valid until the next call).
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	s.buf = s.buf[:0]
	for {
		start := s.i
		for s.i < len(s.b) && s.b[s.i] != '"' && s.b[s.i] != '\\' && s.b[s.i] >= 0x20 {
			s.i++
		}
		s.buf = append(s.buf, s.b[start:s.i]...)
		if s.i >= len(s.b) {
			return nil, s.errorf("unterminated string")
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			if !utf8.Valid(s.buf) {
				return nil, s.errorf("string is not valid UTF-8")
			}
			return s.buf, nil
		case c < 0x20:
			return nil, s.errorf("control character in string")
		}
		// Backslash escape.
		if s.i+1 >= len(s.b) {
			return nil, s.errorf("unterminated escape")
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if r2, err = s.hex4(); err != nil {
						return nil, err
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, s.errorf("bad escape \\%c", e)
		}
	}
}

func (s *scanner) hex4() (rune, error) {
	if s.i+4 > len(s.b) {
		return 0, s.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, s.errorf("bad \\u escape %q", s.b[s.i:s.i+4])
	}
	s.i += 4
	return rune(v), nil
}

func (s *scanner) integer() (int64, error) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	v, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	if err != nil {
		return 0, s.errorf("want an integer")
	}
	return v, nil
}

// list reads a bracketed, comma-separated sequence, calling item for each
// element.
func (s *scanner) list(open, close byte, item func() error) error {
	if err := s.expect(open); err != nil {
		return err
	}
	if s.peek() == close {
		s.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case close:
			s.i++
			return nil
		default:
			return s.errorf("want ',' or %q", close)
		}
	}
}

// skip steps over one JSON value and returns its bytes.
func (s *scanner) skip() ([]byte, error) {
	c := s.peek()
	start := s.i
	var err error
	switch {
	case c == '"':
		_, err = s.str()
	case c == '{':
		err = s.list('{', '}', func() error {
			if _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			_, err := s.skip()
			return err
		})
	case c == '[':
		err = s.list('[', ']', func() error { _, err := s.skip(); return err })
	case c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'):
		for s.i < len(s.b) && (isLiteral(s.b[s.i])) {
			s.i++
		}
	case c == 0:
		err = s.errorf("unexpected end")
	default:
		err = s.errorf("unexpected %q", c)
	}
	if err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

func isLiteral(c byte) bool {
	return c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// members calls fn with each key of an object, positioned at its value; fn
// must consume the value.
func (s *scanner) members(fn func(key string) error) error {
	return s.list('{', '}', func() error {
		k, err := s.str()
		if err != nil {
			return err
		}
		key := string(k)
		if err := s.expect(':'); err != nil {
			return err
		}
		return fn(key)
	})
}

var errNotObject = errors.New("not a JSON object")

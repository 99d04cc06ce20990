package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
)

// merge is a BPE merge as ids: a and b make c.
type merge struct{ a, b, c int32 }

// resolveMerge returns the ids of the merge (a, b); buf is scratch.
func resolveMerge(vocab map[string]int32, a, b []byte, buf *[]byte) (merge, error) {
	ia, ok1 := vocab[string(a)]
	ib, ok2 := vocab[string(b)]
	*buf = append(append((*buf)[:0], a...), b...)
	ic, ok3 := vocab[string(*buf)]
	switch {
	case !ok1:
		return merge{}, fmt.Errorf("token %q is not in the vocab", a)
	case !ok2:
		return merge{}, fmt.Errorf("token %q is not in the vocab", b)
	case !ok3:
		return merge{}, fmt.Errorf("merged token %q is not in the vocab", *buf)
	}
	return merge{ia, ib, ic}, nil
}

// splitMerge splits a merge written "a b".
func splitMerge(s []byte) ([]byte, []byte, bool) {
	sp := -1
	for i, c := range s {
		if c == ' ' {
			if sp >= 0 {
				return nil, nil, false
			}
			sp = i
		}
	}
	if sp < 0 {
		return nil, nil, false
	}
	return s[:sp], s[sp+1:], true
}

// parseFile reads a tokenizer.json: model.vocab and model.merges with the
// fast scanner, the rest with encoding/json. Merges need the vocab: when they
// come first, they are read after the rest.
func parseFile(data []byte) (f fileJSON, vocab map[string]int32, merges []merge, err error) {
	var mergesRaw []byte
	s := &scanner{b: data}
	rest, model := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	err = s.members(func(key string) error {
		if key != "model" {
			raw, err := s.skip()
			rest[key] = raw
			return err
		}
		if s.peek() != '{' {
			return fmt.Errorf("model: %w", errNotObject)
		}
		return s.members(func(key string) error {
			var err error
			switch key {
			case "vocab":
				vocab, err = s.vocab()
			case "merges":
				if vocab != nil {
					merges, err = s.merges(vocab)
				} else {
					mergesRaw, err = s.skip()
				}
			default:
				model[key], err = s.skip()
			}
			if err != nil {
				return fmt.Errorf("model.%s: %w", key, err)
			}
			return nil
		})
	})
	if err == nil && s.peek() != 0 {
		err = s.errorf("data after the top-level object")
	}
	if err != nil {
		return f, nil, nil, err
	}
	if b, err := json.Marshal(rest); err != nil {
		return f, nil, nil, err
	} else if err := json.Unmarshal(b, &f); err != nil {
		return f, nil, nil, err
	}
	if b, err := json.Marshal(model); err != nil {
		return f, nil, nil, err
	} else if err := json.Unmarshal(b, &f.Model); err != nil {
		return f, nil, nil, fmt.Errorf("model: %w", err)
	}
	if mergesRaw != nil && vocab != nil {
		if merges, err = (&scanner{b: mergesRaw}).merges(vocab); err != nil {
			return f, nil, nil, fmt.Errorf("model.merges: %w", err)
		}
	}
	return f, vocab, merges, nil
}

// vocab reads the {"token": id, ...} object.
func (s *scanner) vocab() (map[string]int32, error) {
	if s.peek() != '{' {
		return nil, errNotObject
	}
	v := make(map[string]int32, len(s.b)/64)
	err := s.members(func(key string) error {
		id, err := s.integer()
		if err != nil {
			return fmt.Errorf("token %q: %w", key, err)
		}
		if id < 0 || id > math.MaxInt32 {
			return fmt.Errorf("token %q: id %d out of range", key, id)
		}
		v[key] = int32(id)
		return nil
	})
	return v, err
}

// merges reads model.merges, each "a b" or ["a", "b"], as ids.
func (s *scanner) merges(vocab map[string]int32) ([]merge, error) {
	var out []merge
	var a, b, buf []byte
	err := s.list('[', ']', func() error {
		n := len(out)
		switch s.peek() {
		case '"':
			str, err := s.str()
			if err != nil {
				return fmt.Errorf("[%d]: %w", n, err)
			}
			x, y, ok := splitMerge(str)
			if !ok {
				return fmt.Errorf("[%d] %q is not two tokens separated by a space", n, str)
			}
			a, b = append(a[:0], x...), append(b[:0], y...)
		case '[':
			k := 0
			err := s.list('[', ']', func() error {
				str, err := s.str()
				if err != nil {
					return err
				}
				switch k {
				case 0:
					a = append(a[:0], str...)
				case 1:
					b = append(b[:0], str...)
				}
				k++
				return nil
			})
			if err != nil {
				return fmt.Errorf("[%d]: %w", n, err)
			}
			if k != 2 {
				return fmt.Errorf("[%d] has %d tokens, want 2", n, k)
			}
		default:
			return fmt.Errorf("[%d]: %w", n, s.errorf("want a string or a pair"))
		}
		m, err := resolveMerge(vocab, a, b, &buf)
		if err != nil {
			return fmt.Errorf("[%d]: %w", n, err)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

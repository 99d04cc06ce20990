package finetune

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Encoder turns text into token ids (tokenizer.Tokenizer satisfies it).
type Encoder interface {
	Encode(text string) []int
}

// DocSeparator splits a text file into documents (the fixtures' convention:
// documents are separated by two blank lines).
const DocSeparator = "\n\n\n"

// ListFiles expands files and directories (recursively, regular files only,
// sorted) into a list of files.
func ListFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("finetune: data: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var sub []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				sub = append(sub, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("finetune: data %s: %w", p, err)
		}
		sort.Strings(sub)
		out = append(out, sub...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("finetune: data: no files in %v", paths)
	}
	return out, nil
}

// Tokenize reads the files, splits each into documents, encodes them (in
// parallel, results in order) and joins them with eos after every document.
func Tokenize(files []string, enc Encoder, eos int, workers int) ([]int, error) {
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("finetune: data: %w", err)
		}
		for _, d := range strings.Split(string(b), DocSeparator) {
			if strings.TrimSpace(d) != "" {
				docs = append(docs, d)
			}
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("finetune: data: %v hold no text", files)
	}
	enc2 := make([][]int, len(docs))
	errs := make([]error, len(docs))
	workers = max(1, min(workers, len(docs)))
	// A tokenizer whose Split regex can run out of time reports it.
	checked, _ := enc.(interface{ EncodeErr(string) ([]int, error) })
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(docs); i += workers {
				if checked != nil {
					enc2[i], errs[i] = checked.EncodeErr(docs[i])
				} else {
					enc2[i] = enc.Encode(docs[i])
				}
			}
		}(w)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("finetune: data: document %d: %w", i, err)
		}
	}
	var ids []int
	for _, e := range enc2 {
		ids = append(ids, e...)
		ids = append(ids, eos)
	}
	return ids, nil
}

// Windows cuts ids into consecutive non-overlapping windows of ctx+1 tokens
// (ctx inputs and their ctx next tokens; consecutive windows share one
// token), returning their start offsets.
func Windows(n, ctx int) []int {
	var w []int
	for s := 0; s+ctx+1 <= n; s += ctx {
		w = append(w, s)
	}
	return w
}

// Sampler yields training windows in an order shuffled per epoch from the
// seed: epoch e uses the permutation drawn by PCG(seed, e). Its state
// (Epoch, Pos) is all a checkpoint needs to resume exactly.
type Sampler struct {
	Seed       uint64
	Epoch, Pos int
	starts     []int
	perm       []int
	permEpoch  int
}

// NewSampler returns a sampler over the window starts.
func NewSampler(starts []int, seed uint64) *Sampler {
	return &Sampler{Seed: seed, starts: starts, permEpoch: -1}
}

// Next returns the start of the next window.
func (s *Sampler) Next() int {
	if s.Pos >= len(s.starts) {
		s.Epoch++
		s.Pos = 0
	}
	if s.permEpoch != s.Epoch {
		r := rand.New(rand.NewPCG(s.Seed, uint64(s.Epoch)))
		s.perm = r.Perm(len(s.starts))
		s.permEpoch = s.Epoch
	}
	v := s.starts[s.perm[s.Pos]]
	s.Pos++
	return v
}

// Package export writes a model in retrofit's IR to disk: an HF safetensors
// directory (config.json, weights, tokenizer files) or a GGUF file that
// llama.cpp-style runtimes load. Tensors are converted and written one at a
// time, to a temporary file in the target directory renamed only when
// complete (internal/safefile: mode 0644 minus the umask, stale temporary
// files of killed runs removed); a target that is one of the model's input
// files is refused, and cancelling the options' Context stops a write
// between chunks and removes what it wrote.
package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/retrofit-llm/retrofit/internal/safefile"
	"github.com/retrofit-llm/retrofit/model"
)

// atomicFile is an output file written under a temporary name beside its
// target and renamed into place by Commit. Abort (or a failed Commit) removes it.
type atomicFile struct{ *safefile.File }

// createAtomic opens a temporary file for target, removing stale ones of
// killed runs first.
func createAtomic(target string) (*atomicFile, error) {
	f, err := safefile.Create(target)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", target, err)
	}
	return &atomicFile{f}, nil
}

// Commit flushes, closes and renames the file onto its target.
func (a *atomicFile) Commit() error {
	if err := a.File.Commit(); err != nil {
		return fmt.Errorf("export %s: %w", a.Target(), err)
	}
	return nil
}

// Inputs lists the files and directories m is read from: its path, every
// tensor's file and the directories holding them, and the side files of a
// checkpoint directory. An output must be none of them.
func Inputs(m *model.Model) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if m.Path != "" {
		add(m.Path)
		if st, err := os.Stat(m.Path); err == nil && st.IsDir() {
			for _, name := range append([]string{"config.json"}, model.SideFiles...) {
				add(filepath.Join(m.Path, name))
			}
		} else {
			add(filepath.Dir(m.Path))
		}
	}
	for _, t := range m.Tensors {
		if f := t.File(); f != "" {
			add(f)
			add(filepath.Dir(f))
		}
	}
	return out
}

// checkOutputs refuses outputs that are inputs of m (by file identity).
func checkOutputs(m *model.Model, outputs ...string) error {
	inputs := Inputs(m)
	for _, o := range outputs {
		if err := safefile.CheckNotInput(o, inputs); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}

// interrupted returns the context's error, if it is cancelled.
func interrupted(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}

// Package export writes a model in retrofit's IR to disk: an HF safetensors
// directory (config.json, weights, tokenizer files) or a GGUF file that
// llama.cpp-style runtimes load. Tensors are converted and written one at a
// time, to a temporary file in the target directory renamed only when complete.
package export

import (
	"fmt"
	"os"
	"path/filepath"
)

// atomicFile is an output file written under a temporary name beside its
// target and renamed into place by Commit. Abort (or a failed Commit) removes it.
type atomicFile struct {
	*os.File
	target string
	done   bool
}

// createAtomic opens a temporary file in target's directory.
func createAtomic(target string) (*atomicFile, error) {
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", target, err)
	}
	return &atomicFile{File: f, target: target}, nil
}

// Commit flushes, closes and renames the file onto its target.
func (a *atomicFile) Commit() error {
	if a.done {
		return nil
	}
	a.done = true
	if err := a.File.Sync(); err != nil {
		a.File.Close()
		os.Remove(a.File.Name())
		return fmt.Errorf("export %s: %w", a.target, err)
	}
	if err := a.File.Close(); err != nil {
		os.Remove(a.File.Name())
		return fmt.Errorf("export %s: %w", a.target, err)
	}
	if err := os.Rename(a.File.Name(), a.target); err != nil {
		os.Remove(a.File.Name())
		return fmt.Errorf("export %s: %w", a.target, err)
	}
	return nil
}

// Abort removes the temporary file; it is a no-op after Commit.
func (a *atomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.File.Close()
	os.Remove(a.File.Name())
}

// Package loaders turns a checkpoint path into a *model.Model. Each format
// lives in a subpackage that registers itself (like image decoders); import
// loaders/all to get every format.
package loaders

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/model"
)

// Format is a checkpoint format a loader understands.
type Format struct {
	Name string
	// Detect reports whether path (a file or a directory) is in this format.
	// It should look only at names and magic bytes.
	Detect func(path string) bool
	// Load opens the checkpoint. Tensors stay lazy: the returned model reads
	// them from their files until it is closed.
	Load func(path string) (*model.Model, error)
}

var formats = map[string]Format{}

// Register makes a format available to Load. It panics on a duplicate name.
func Register(f Format) {
	if _, dup := formats[f.Name]; dup {
		panic("loaders: Register called twice for " + f.Name)
	}
	formats[f.Name] = f
}

// Formats lists the registered format names.
func Formats() []string {
	var names []string
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Load detects the format of path and loads it. The model is validated
// against its config before it is returned.
func Load(path string) (*model.Model, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	for _, name := range Formats() {
		f := formats[name]
		if f.Detect(path) {
			m, err := f.Load(path)
			if err != nil {
				return nil, err
			}
			if err := m.Validate(); err != nil {
				m.Close()
				return nil, err
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("%s: not a checkpoint retrofit can read (formats: %s; a directory needs model.safetensors, model.safetensors.index.json or pytorch_model.bin)",
		path, strings.Join(Formats(), ", "))
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/internal/layoutrefs"
	"github.com/retrofit-llm/retrofit/loaders"
)

// ExportLayoutRefs builds every case of layout-refs.json (found in fixtures,
// or testdata then ../shared/fixtures) from its fixture model as the json
// says `retrofit convert` builds it, and exports each to out/<model>/<case>/hf
// as an HF directory with remote code, for scripts/hf_parity.py layoutrefs
// (the directory is named hf, as the export cases are: transformers names the
// remote-code module after it, and a case name holds '+' and '-').
// It returns the case names in order.
func ExportLayoutRefs(fixtures, out string) ([]string, error) {
	path, err := find(fixtures, "layout-refs.json")
	if err != nil {
		return nil, err
	}
	meta, err := layoutrefs.ReadMeta(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for name := range meta.Cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := exportLayoutRef(fixtures, name, meta.Cases[name], filepath.Join(out, name, "hf")); err != nil {
			return names, fmt.Errorf("%s: %w", name, err)
		}
	}
	return names, nil
}

func exportLayoutRef(fixtures, name string, spec layoutrefs.Spec, dir string) error {
	fixture, _, _ := strings.Cut(name, "/")
	src, err := find(fixtures, fixture)
	if err != nil {
		return err
	}
	m, err := loaders.Load(src)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := spec.Apply(m); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := export.SafeTensors(m, dir, export.SafeTensorsOptions{}); err != nil {
		return err
	}
	return export.WriteRemoteCode(dir, m)
}

package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/retrofit-llm/retrofit/model"
)

// batch is a set of output files written under temporary names and renamed
// into place together by commit, so a failed export leaves none of them.
type batch struct {
	files []*atomicFile
}

// create opens a temporary file for path; it belongs to the batch.
func (b *batch) create(path string) (*atomicFile, error) {
	f, err := createAtomic(path)
	if err != nil {
		return nil, err
	}
	b.files = append(b.files, f)
	return f, nil
}

// add writes a whole file into the batch.
func (b *batch) add(path string, data []byte) error {
	f, err := b.create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// commit renames every file into place; if one fails, the files already
// renamed are removed and the rest aborted.
func (b *batch) commit() error {
	for i, f := range b.files {
		if err := f.Commit(); err != nil {
			for _, g := range b.files[:i] {
				os.Remove(g.Target())
			}
			b.abort()
			return err
		}
	}
	return nil
}

// abort removes every temporary file not yet committed.
func (b *batch) abort() {
	for _, f := range b.files {
		f.Abort()
	}
}

// writeHFSideFiles adds config.json, the side files of m.Files and, for a
// transformed model, the remote-code files (with auto_map in config.json).
func writeHFSideFiles(b *batch, m *model.Model, dir, dtype string) error {
	cfg, err := model.HFConfigJSON(m.Config, m.Layout, m.Provenance, dtype)
	if err != nil {
		return fmt.Errorf("export %s: config.json: %w", dir, err)
	}
	remote := NeedsRemoteCode(m)
	if remote {
		if cfg, err = withAutoMap(cfg); err != nil {
			return fmt.Errorf("export %s: config.json: %w", dir, err)
		}
	}
	if err := b.add(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	names := make([]string, 0, len(m.Files))
	for name := range m.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name != filepath.Base(name) || name == "." || name == ".." || name == "config.json" || isWeightsFile(name) {
			return fmt.Errorf("export %s: side file %q is not a plain file name retrofit carries", dir, name)
		}
		if err := b.add(filepath.Join(dir, name), m.Files[name]); err != nil {
			return err
		}
	}
	if remote {
		for _, name := range RemoteCodeFiles {
			src, err := remoteCodeSource(name, m.Config.Family)
			if err != nil {
				return fmt.Errorf("export %s: remote code %s: %w", dir, name, err)
			}
			if err := b.add(filepath.Join(dir, name), []byte(src)); err != nil {
				return err
			}
		}
	}
	return nil
}

// withAutoMap adds AutoMap to config.json's "auto_map", as PatchAutoMap does.
func withAutoMap(cfg []byte) ([]byte, error) {
	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("config is not a JSON object")
	}
	am := map[string]any{}
	if old, ok := c["auto_map"].(map[string]any); ok {
		for k, v := range old {
			am[k] = v
		}
	}
	for k, v := range AutoMap {
		am[k] = v
	}
	c["auto_map"] = am
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var shardName = regexp.MustCompile(`^model-\d+-of-\d+\.safetensors$`)

func isWeightsFile(name string) bool {
	return name == "model.safetensors" || name == "model.safetensors.index.json" || shardName.MatchString(name)
}

// removeStaleWeights deletes weight files of an earlier export to dir that
// this one did not write, so loaders see only the new weights.
func removeStaleWeights(dir string, shards []stShard) error {
	keep := map[string]bool{}
	for _, s := range shards {
		keep[s.name] = true
	}
	if len(shards) > 1 {
		keep["model.safetensors.index.json"] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() && isWeightsFile(e.Name()) && !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("export %s: removing stale %s: %w", dir, e.Name(), err)
			}
		}
	}
	return nil
}

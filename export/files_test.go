package export

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
)

// copyFixture copies a fixture file or directory into dir.
func copyFixture(t *testing.T, name, dir string) string {
	t.Helper()
	src := testutil.Fixture(t, name)
	dst := filepath.Join(dir, name)
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{""}
	if st.IsDir() {
		os.Mkdir(dst, 0o755)
		ents, _ := os.ReadDir(src)
		files = files[:0]
		for _, e := range ents {
			files = append(files, e.Name())
		}
	}
	for _, f := range files {
		in, err := os.Open(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// snapshot is a file's bytes, to check it was not modified.
func snapshot(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportNeverOverwritesAnInput writes each way onto the model's own
// files (by the same name, another spelling, and a hard link): every export
// is refused and the input is unchanged.
func TestExportNeverOverwritesAnInput(t *testing.T) {
	dir := t.TempDir()
	ggufPath := copyFixture(t, "qwen3-micro-q8_0.gguf", dir)
	hfDir := copyFixture(t, "qwen3-micro", dir)
	link := filepath.Join(dir, "link.gguf")
	if err := os.Link(ggufPath, link); err != nil {
		t.Fatal(err)
	}
	gm := loadST(t, ggufPath)
	hm := loadST(t, hfDir)
	before := map[string]string{ggufPath: snapshot(t, ggufPath), filepath.Join(hfDir, "model.safetensors"): snapshot(t, filepath.Join(hfDir, "model.safetensors")),
		filepath.Join(hfDir, "config.json"): snapshot(t, filepath.Join(hfDir, "config.json"))}
	cases := []struct {
		name string
		run  func() error
	}{
		{"gguf onto itself", func() error { return GGUF(gm, ggufPath, GGUFOptions{DType: model.F16}) }},
		{"gguf onto itself via ./", func() error {
			return GGUF(gm, filepath.Join(dir, ".", "qwen3-micro-q8_0.gguf"), GGUFOptions{DType: model.F16})
		}},
		{"gguf onto a hard link of itself", func() error { return GGUF(gm, link, GGUFOptions{DType: model.F16}) }},
		{"hf to gguf onto its weights", func() error {
			return GGUF(hm, filepath.Join(hfDir, "model.safetensors"), GGUFOptions{DType: model.F16})
		}},
		{"hf to gguf onto its config", func() error { return GGUF(hm, filepath.Join(hfDir, "config.json"), GGUFOptions{DType: model.F16}) }},
		{"hf to gguf onto its directory", func() error { return GGUF(hm, hfDir, GGUFOptions{DType: model.F16}) }},
		{"hf to safetensors into its directory", func() error { return SafeTensors(hm, hfDir+"/", SafeTensorsOptions{DType: model.F16}) }},
		{"gguf to safetensors into its directory", func() error { return SafeTensors(gm, dir, SafeTensorsOptions{DType: model.F16}) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !(strings.Contains(err.Error(), "is an input") || strings.Contains(err.Error(), "is a directory")) {
				t.Fatalf("error %v, want a refusal", err)
			}
			for p, b := range before {
				if snapshot(t, p) != b {
					t.Fatalf("%s was modified", p)
				}
			}
			if tmp := leftovers(t, dir); len(tmp) > 0 {
				t.Errorf("left %v", tmp)
			}
		})
	}
}

// leftovers lists temporary files (".*.tmp-*") under dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestExportCancelled cancels the context after the first tensor: the
// export stops with an error and leaves nothing (no target, no temporary
// file, no new directory); an existing target is kept as it was.
func TestExportCancelled(t *testing.T) {
	m := loadST(t, testutil.Fixture(t, "qwen3-micro"))
	dir := t.TempDir()
	old := filepath.Join(dir, "old.gguf")
	os.WriteFile(old, []byte("previous export"), 0o644)
	for _, c := range []struct {
		name, target string
		run          func(context.Context, string, func(int, int)) error
	}{
		{"gguf new", filepath.Join(dir, "new.gguf"), func(ctx context.Context, p string, prog func(int, int)) error {
			return GGUF(m, p, GGUFOptions{DType: model.Q8_0, Context: ctx, Progress: prog})
		}},
		{"gguf existing", old, func(ctx context.Context, p string, prog func(int, int)) error {
			return GGUF(m, p, GGUFOptions{DType: model.Q8_0, Context: ctx, Progress: prog})
		}},
		{"safetensors new dir", filepath.Join(dir, "sub", "hf"), func(ctx context.Context, p string, prog func(int, int)) error {
			return SafeTensors(m, p, SafeTensorsOptions{Context: ctx, Progress: prog, ShardBytes: 1 << 20})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, existed := os.Stat(c.target)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			err := c.run(ctx, c.target, func(done, total int) {
				calls++
				cancel()
			})
			if err == nil || !strings.Contains(err.Error(), "interrupted") {
				t.Fatalf("error %v, want interrupted", err)
			}
			if calls != 1 {
				t.Errorf("%d tensors written after the cancel, want 1", calls)
			}
			if existed == nil {
				if snapshot(t, c.target) != "previous export" {
					t.Error("existing target modified")
				}
			} else if _, err := os.Stat(c.target); err == nil {
				t.Error("target exists")
			}
			if tmp := leftovers(t, dir); len(tmp) > 0 {
				t.Errorf("left %v", tmp)
			}
		})
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "sub")); len(ents) != 0 {
		t.Errorf("left %v in the parent of a new directory", ents)
	}
}

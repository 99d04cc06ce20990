package all_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
)

func TestFormats(t *testing.T) {
	if got, want := loaders.Formats(), []string{"gguf", "pytorch", "safetensors"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Formats() = %v, want %v", got, want)
	}
}

// TestDetect loads one checkpoint of each format through loaders.Load; a
// directory holding both safetensors and pytorch_model.bin loads the
// safetensors weights.
func TestDetect(t *testing.T) {
	micro := testutil.Fixture(t, "qwen2-micro")
	both := t.TempDir()
	ents, _ := os.ReadDir(micro)
	for _, e := range ents {
		abs, _ := filepath.Abs(filepath.Join(micro, e.Name()))
		os.Symlink(abs, filepath.Join(both, e.Name()))
	}
	pt := t.TempDir()
	if bin, ok := testutil.Find(t, "qwen2-micro-pytorch_model.bin"); ok {
		abs, _ := filepath.Abs(bin)
		os.Symlink(abs, filepath.Join(both, "pytorch_model.bin"))
		os.Symlink(abs, filepath.Join(pt, "pytorch_model.bin"))
		cfg, _ := filepath.Abs(filepath.Join(micro, "config.json"))
		os.Symlink(cfg, filepath.Join(pt, "config.json"))
	}
	cases := []struct {
		path, format string
		params       int64
	}{
		{testutil.Fixture(t, "qwen3-micro"), "safetensors", 6622848},
		{filepath.Join(testutil.Fixture(t, "qwen3-micro"), "model.safetensors"), "safetensors", 6622848},
		{micro, "safetensors", 4721600},
		{both, "safetensors", 4721600},
		{pt, "pytorch", 4721600},
		{testutil.Fixture(t, "qwen3-micro-q8_0.gguf"), "gguf", 6622848},
	}
	for _, c := range cases {
		if _, err := os.Stat(filepath.Join(c.path, "config.json")); c.format == "pytorch" && err != nil {
			continue // the torch.save fixture is only in ../shared/fixtures
		}
		m, err := loaders.Load(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if m.Format != c.format || m.ParamCount() != c.params {
			t.Errorf("%s: format %s, %d params; want %s, %d", c.path, m.Format, m.ParamCount(), c.format, c.params)
		}
		m.Close()
	}
	if _, err := loaders.Load(t.TempDir()); err == nil {
		t.Error("empty directory loaded")
	}
}

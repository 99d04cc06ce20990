package pytorch_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/loaders/pytorch"
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"
	"github.com/retrofit-llm/retrofit/model"
)

// checkpointDir makes a directory holding bin as pytorch_model.bin beside
// links to qwen2-micro's config.json and side files.
func checkpointDir(t *testing.T, bin []byte, binPath string) string {
	t.Helper()
	cfg := testutil.Fixture(t, "qwen2-micro")
	dir := t.TempDir()
	for _, n := range append([]string{"config.json"}, model.SideFiles...) {
		abs, _ := filepath.Abs(filepath.Join(cfg, n))
		if err := os.Symlink(abs, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(dir, pytorch.WeightsFile)
	if binPath != "" {
		abs, _ := filepath.Abs(binPath)
		if err := os.Symlink(abs, dst); err != nil {
			t.Fatal(err)
		}
	} else if err := os.WriteFile(dst, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMatchesSafetensors loads the torch.save fixture and the safetensors
// checkpoint of the same weights and compares every tensor byte for byte.
func TestMatchesSafetensors(t *testing.T) {
	bin := testutil.Fixture(t, "qwen2-micro-pytorch_model.bin")
	ref, err := loaders.Load(testutil.Fixture(t, "qwen2-micro"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dir := checkpointDir(t, nil, bin)
	if !pytorch.Detect(dir) || !pytorch.Detect(bin) {
		t.Fatal("Detect = false")
	}
	direct, err := pytorch.LoadWithConfig(bin, testutil.Fixture(t, "qwen2-micro"))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	viaDir, err := loaders.Load(dir) // validates against config.json
	if err != nil {
		t.Fatal(err)
	}
	defer viaDir.Close()
	for _, m := range []*model.Model{direct, viaDir} {
		if m.Format != "pytorch" {
			t.Errorf("Format = %q", m.Format)
		}
		if len(m.Tensors) != len(ref.Tensors) || m.ParamCount() != 4721600 {
			t.Fatalf("%d tensors, %d params; want %d, 4721600", len(m.Tensors), m.ParamCount(), len(ref.Tensors))
		}
		if !bytes.Equal(m.Files["tokenizer.json"], ref.Files["tokenizer.json"]) {
			t.Error("tokenizer.json not carried")
		}
		for _, want := range ref.Tensors {
			got := m.Tensor(want.Name)
			if got == nil {
				t.Fatalf("tensor %s missing", want.Name)
			}
			if got.DType != want.DType || !equalInts(got.Shape, want.Shape) {
				t.Fatalf("%s: %v %v, safetensors has %v %v", want.Name, got.DType, got.Shape, want.DType, want.Shape)
			}
			a, err := got.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := want.Bytes()
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: bytes differ from the safetensors checkpoint", want.Name)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rezip rewrites the fixture archive entry by entry through edit, which may
// change an entry's bytes or compression method, or drop it (keep false).
func rezip(t *testing.T, src []byte, edit func(name string, data []byte) (out []byte, method uint16, keep bool)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		data, method, keep := edit(f.Name, data)
		if !keep {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBadInput(t *testing.T) {
	orig, err := os.ReadFile(testutil.Fixture(t, "qwen2-micro-pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// Each edit touches entries whose name ends with suffix.
	edit := func(suffix string, fn func([]byte) ([]byte, uint16, bool)) []byte {
		return rezip(t, orig, func(name string, data []byte) ([]byte, uint16, bool) {
			if strings.HasSuffix(name, suffix) {
				return fn(data)
			}
			return data, zip.Store, true
		})
	}
	pkl := func(old, new string) []byte {
		return edit("/data.pkl", func(b []byte) ([]byte, uint16, bool) {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("data.pkl has no %q", old)
			}
			return bytes.Replace(b, []byte(old), []byte(new), 1), zip.Store, true
		})
	}
	cases := []struct {
		name string
		bin  []byte
		want []string
	}{
		{"not a zip", []byte("hello, this is not a checkpoint"), []string{"pytorch_model.bin", "not a zip"}},
		{"legacy format", []byte("\x80\x02\x8a\x0alz\xe8\x9cF\xfc"), []string{"legacy"}},
		{"truncated zip", orig[:len(orig)/2], []string{"pytorch_model.bin", "zip"}},
		{"empty file", nil, []string{"pytorch_model.bin", "not a zip"}},
		{"no data.pkl", edit("/data.pkl", func(b []byte) ([]byte, uint16, bool) { return nil, 0, false }), []string{"no <archive>/data.pkl"}},
		{"compressed storage", edit("/data/0", func(b []byte) ([]byte, uint16, bool) { return b, zip.Deflate, true }), []string{`tensor "model.embed_tokens.weight"`, "data/0 is compressed"}},
		{"missing storage", edit("/data/0", func(b []byte) ([]byte, uint16, bool) { return nil, 0, false }), []string{`tensor "model.embed_tokens.weight"`, "data/0 is missing"}},
		{"short storage", edit("/data/0", func(b []byte) ([]byte, uint16, bool) { return b[:1000], zip.Store, true }), []string{`tensor "model.embed_tokens.weight"`, "holds 1000 bytes"}},
		{"big endian", edit("/byteorder", func(b []byte) ([]byte, uint16, bool) { return []byte("big"), zip.Store, true }), []string{"byteorder", `"big"`}},
		{"truncated pickle", edit("/data.pkl", func(b []byte) ([]byte, uint16, bool) { return b[:len(b)/2], zip.Store, true }), []string{"data.pkl", "pickle"}},
		{"huge pickle length", pkl("X\x19\x00\x00\x00model.embed_tokens.weight", "X\xff\xff\xff\x7fmodel.embed_tokens.weight"), []string{"data.pkl", "length 2147483647 runs past"}},
		{"non-contiguous", pkl("K\xc0K\x01\x86", "K\x01K\xc0\x86"), []string{`tensor "model.embed_tokens.weight"`, "not contiguous"}},
		{"unsupported storage", pkl("torch\nBFloat16Storage", "torch\nLongStorage"), []string{`tensor "model.embed_tokens.weight"`, "torch.LongStorage is not supported"}},
		{"foreign class", pkl("collections\nOrderedDict", "os\nsystem"), []string{"data.pkl", "os.system"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := checkpointDir(t, c.bin, "")
			m, err := pytorch.Load(dir)
			if err == nil {
				m.Close()
				t.Fatal("loaded without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestMissingConfig(t *testing.T) {
	bin := testutil.Fixture(t, "qwen2-micro-pytorch_model.bin")
	_, err := pytorch.LoadWithConfig(bin, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("error %v, want one naming config.json", err)
	}
}

package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/loaders/safetensors"
	"github.com/retrofit-llm/retrofit/model"
	st "github.com/retrofit-llm/retrofit/safetensors"
)

// rawTensor is a tensor read by the container package alone (no model, no
// dtype conversion), as a check of the loader.
type rawTensor struct {
	dtype string
	shape []int
	data  []byte
}

func readRaw(t *testing.T, file string) map[string]rawTensor {
	t.Helper()
	f, err := st.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]rawTensor{}
	for _, ti := range f.Tensors {
		_, raw, _ := f.Bytes(ti.Name)
		out[ti.Name] = rawTensor{ti.DType, ti.Shape, raw}
	}
	return out
}

func bf16(b []byte, i int) float32 {
	return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
}

func TestLoadFixtures(t *testing.T) {
	cases := []struct {
		fixture string
		path    string // relative to the fixture directory; "" = the directory
		files   []string
		tensors int
		params  int64
		family  string
		layers  int
		tied    bool
	}{
		// 6,622,848 = (13,253,016 bytes - 8 - 7,312 header bytes) / 2 bytes per bf16.
		{"qwen3-micro", "", []string{"model.safetensors"}, 68, 6622848, "qwen3", 6, true},
		{"qwen3-micro", "model.safetensors", []string{"model.safetensors"}, 68, 6622848, "qwen3", 6, true},
		// 4,721,600 is metadata.total_parameters of the index.
		{"qwen2-micro", "", []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"}, 51, 4721600, "qwen2", 4, false},
		{"qwen2-micro", "model.safetensors.index.json", []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"}, 51, 4721600, "qwen2", 4, false},
	}
	for _, c := range cases {
		t.Run(c.fixture+"/"+c.path, func(t *testing.T) {
			dir := testutil.Fixture(t, c.fixture)
			p := dir
			if c.path != "" {
				p = filepath.Join(dir, c.path)
			}
			if !safetensors.Detect(p) {
				t.Fatalf("Detect(%s) = false", p)
			}
			m, err := loaders.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Format != "safetensors" || m.Path != p {
				t.Errorf("Format, Path = %q, %q", m.Format, m.Path)
			}
			if len(m.Tensors) != c.tensors || m.ParamCount() != c.params {
				t.Errorf("%d tensors, %d params; want %d, %d", len(m.Tensors), m.ParamCount(), c.tensors, c.params)
			}
			if m.Config.Family != c.family || m.Config.Layers != c.layers || m.Config.TiedEmbeddings != c.tied || !m.Layout.IsDefault() {
				t.Errorf("config %+v layout %+v", m.Config, m.Layout)
			}
			for _, name := range model.SideFiles {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m.Files[name], want) {
					t.Errorf("side file %s: %d bytes, want %d", name, len(m.Files[name]), len(want))
				}
			}
			// Every tensor's bytes and first/last values against an independent read.
			seen := 0
			for _, f := range c.files {
				for name, r := range readRaw(t, filepath.Join(dir, f)) {
					seen++
					tt := m.Tensor(name)
					if tt == nil {
						t.Fatalf("tensor %s not loaded", name)
					}
					if r.dtype != "BF16" || tt.DType != model.BF16 || !equalInts(tt.Shape, r.shape) {
						t.Fatalf("%s: %v %v, file says %s %v", name, tt.DType, tt.Shape, r.dtype, r.shape)
					}
					got, err := tt.Bytes()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, r.data) {
						t.Fatalf("%s: bytes differ from the file", name)
					}
					v, err := tt.Float32()
					if err != nil {
						t.Fatal(err)
					}
					last := len(v) - 1
					if v[0] != bf16(r.data, 0) || v[last] != bf16(r.data, last) {
						t.Fatalf("%s: values %g..%g, want %g..%g", name, v[0], v[last], bf16(r.data, 0), bf16(r.data, last))
					}
				}
			}
			if seen != len(m.Tensors) {
				t.Errorf("files hold %d tensors, model %d", seen, len(m.Tensors))
			}
		})
	}
}

// TestKnownValues pins a few decoded values of the fixtures.
func TestKnownValues(t *testing.T) {
	m, err := loaders.Load(testutil.Fixture(t, "qwen3-micro"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v, err := m.Tensor(model.EmbedName).Float32()
	if err != nil {
		t.Fatal(err)
	}
	// bf16 0xbb06, 0xbd0d, 0xbcd3 in the file (read with Python's struct module).
	want := []float32{-0.002044677734375, -0.034423828125, -0.0257568359375}
	for i, w := range want {
		if v[i] != w {
			t.Errorf("embed[%d] = %g, want %g", i, v[i], w)
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

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	if safetensors.Detect(dir) {
		t.Error("empty directory detected")
	}
	if safetensors.Detect(filepath.Join(dir, "missing.safetensors")) {
		t.Error("missing file detected")
	}
	other := filepath.Join(dir, "weights.bin")
	os.WriteFile(other, []byte("x"), 0o644)
	if safetensors.Detect(other) {
		t.Error(".bin file detected")
	}
}

// Package reftest reads the transformers reference files of the test
// fixtures (a safetensors file of F32/I32 arrays plus a json of scalars) and
// loads the micro checkpoints for the engine and eval tests.
package reftest

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// Refs holds one model's reference arrays and scalars.
type Refs struct {
	F32  map[string][]float32
	I32  map[string][]int
	Rows map[string]int // first dimension of each array
	PPL  float64        // ppl_docs_val
	Toks int            // tokens_docs_val
}

// Load reads testdata's <name>-refs.safetensors and <name>-refs.json.
func Load(t testing.TB, name string) *Refs {
	t.Helper()
	st := testutil.Fixture(t, name+"-refs.safetensors")
	js := testutil.Fixture(t, name+"-refs.json")
	tensors, err := readSafetensors(st)
	if err != nil {
		t.Fatal(err)
	}
	r := &Refs{F32: map[string][]float32{}, I32: map[string][]int{}, Rows: map[string]int{}}
	for n, tt := range tensors {
		r.Rows[n] = tt.shape[0]
		switch tt.dtype {
		case "F32":
			r.F32[n] = f32s(tt.raw)
		case "I32":
			v := make([]int, len(tt.raw)/4)
			for i := range v {
				v[i] = int(int32(binary.LittleEndian.Uint32(tt.raw[4*i:])))
			}
			r.I32[n] = v
		default:
			t.Fatalf("%s: tensor %q: unexpected dtype %s", st, n, tt.dtype)
		}
	}
	blob, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		PPL  float64 `json:"ppl_docs_val"`
		Toks int     `json:"tokens_docs_val"`
	}
	if err := json.Unmarshal(blob, &meta); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	r.PPL, r.Toks = meta.PPL, meta.Toks
	return r
}

// LoadArrays reads a fixture safetensors file of F32 arrays by name.
func LoadArrays(t testing.TB, file string) map[string][]float32 {
	t.Helper()
	path := testutil.Fixture(t, file)
	tensors, err := readSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for n, tt := range tensors {
		if tt.dtype != "F32" {
			t.Fatalf("%s: tensor %q: dtype %s, want F32", path, n, tt.dtype)
		}
		out[n] = f32s(tt.raw)
	}
	return out
}

func f32s(raw []byte) []float32 {
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

type rawTensor struct {
	dtype string
	shape []int
	raw   []byte
}

func readSafetensors(path string) (map[string]rawTensor, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]rawTensor{}
	for _, t := range f.Tensors {
		_, raw, err := f.Bytes(t.Name)
		if err != nil {
			return nil, err
		}
		out[t.Name] = rawTensor{t.DType, t.Shape, raw}
	}
	return out, nil
}

// Model reads a fixture checkpoint directory (config.json and every
// *.safetensors shard) into an in-memory model.
func Model(t testing.TB, name string) *model.Model {
	t.Helper()
	dir := testutil.Fixture(t, name)
	blob, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, layout, steps, err := model.ParseHFConfig(blob)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	m := &model.Model{Path: dir, Format: "safetensors", Config: cfg, Layout: layout, Provenance: steps}
	shards, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	for _, sh := range shards {
		ts, err := readSafetensors(sh)
		if err != nil {
			t.Fatal(err)
		}
		for n, tt := range ts {
			d, err := model.ParseDType(strings.ToLower(tt.dtype))
			if err != nil {
				t.Fatalf("%s: tensor %q: %v", sh, n, err)
			}
			x, err := model.NewTensor(n, d, tt.shape, tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			m.SetTensor(x)
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

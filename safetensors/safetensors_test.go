package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// stFile builds a safetensors file from a raw JSON header and a data section.
func stFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// TestRewriteMatchesPython re-encodes files written by the Python safetensors
// library (the fixtures' weights, shards and references) from their parsed
// headers: the Writer must reproduce them byte for byte.
func TestRewriteMatchesPython(t *testing.T) {
	var files []string
	for _, fx := range []string{"qwen3-micro", "qwen2-micro"} {
		shards, _ := filepath.Glob(filepath.Join(testutil.Fixture(t, fx), "*.safetensors"))
		files = append(files, shards...)
		files = append(files, testutil.Fixture(t, fx+"-refs.safetensors"))
	}
	if len(files) < 6 {
		t.Fatalf("found only %v", files)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Python writes tensors in header-key order; recover it from the offsets.
			specs := make([]safetensors.Spec, len(f.Tensors))
			data := make([][]byte, len(f.Tensors))
			for i, ti := range f.Tensors {
				specs[i] = safetensors.Spec{Name: ti.Name, DType: ti.DType, Shape: ti.Shape}
				_, data[i], _ = f.Bytes(ti.Name)
			}
			want, _ := os.ReadFile(path)
			var buf bytes.Buffer
			if err := safetensors.WriteFile(&buf, f.Metadata, specs, data); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				n := min(int(f.DataStart), buf.Len())
				t.Errorf("rewrite differs (%d vs %d bytes); header\n%s\nwant\n%s", buf.Len(), len(want), buf.Bytes()[:n], want[:f.DataStart])
			}
		})
	}
}

// TestReadRefs reads the references against the numbers the JSON side file
// states: exp(mean nll_docs_val) is ppl_docs_val, and ids_docs_val holds
// tokens_docs_val + 1 ids.
func TestReadRefs(t *testing.T) {
	f, err := safetensors.ReadFile(testutil.Fixture(t, "qwen3-micro-refs.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(testutil.Fixture(t, "qwen3-micro-refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		PPL  float64 `json:"ppl_docs_val"`
		Toks int     `json:"tokens_docs_val"`
	}
	if err := json.Unmarshal(blob, &ref); err != nil {
		t.Fatal(err)
	}
	nll, err := f.Float32s("nll_docs_val")
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range nll {
		sum += float64(v)
	}
	if ppl := math.Exp(sum / float64(len(nll))); len(nll) != ref.Toks || math.Abs(ppl-ref.PPL) > 1e-4*ref.PPL {
		t.Errorf("nll_docs_val: %d values, ppl %.6f; want %d, %.6f", len(nll), ppl, ref.Toks, ref.PPL)
	}
	ids, err := f.Ints("ids_docs_val")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != ref.Toks+1 {
		t.Errorf("ids_docs_val has %d ids, want %d", len(ids), ref.Toks+1)
	}
	for _, tc := range []struct{ name, call, want string }{
		{"missing", "float", `no tensor "missing"`},
		{"ids_a", "float", `tensor "ids_a" is I32, want F32`},
		{"logits_a", "int", `tensor "logits_a" is F32, want I32 or I64`},
	} {
		var err error
		if tc.call == "float" {
			_, err = f.Float32s(tc.name)
		} else {
			_, err = f.Ints(tc.name)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), f.Path+": ") {
			t.Errorf("%s(%q): %v, want %q with the path", tc.call, tc.name, err, tc.want)
		}
	}
}

func TestParseHeaderErrors(t *testing.T) {
	big := binary.LittleEndian.AppendUint64(nil, safetensors.MaxHeaderBytes+1)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 0, 0}, "file is 3 bytes, too short for the 8-byte header length"},
		{"limit", big, "exceeds the 104857600-byte limit"},
		{"past end", stFile(`{}`, nil)[:9], "header length 2 runs past the end of the 9-byte file"},
		{"not object", stFile(`[]`, nil), "header JSON: starts with [, want an object"},
		{"twice", stFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, make([]byte, 8)), `key "a" appears twice`},
		{"no dtype", stFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": field "dtype" is missing`},
		{"unknown field", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `tensor "a": json: unknown field "x"`},
		{"unknown dtype", stFile(`{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": unknown dtype "F31"`},
		{"negative dim", stFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "has a negative dimension"},
		{"huge shape", stFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}`, make([]byte, 4)), "is too large"},
		{"offsets 3", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "data_offsets has 3 entries, want 2"},
		{"reversed", stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "is not a valid range"},
		{"truncated", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "run past the 4-byte data section"},
		{"size", stFile(`{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "BF16 shape [3] needs 6 bytes, data_offsets [0, 8) give 8"},
		{"half byte", stFile(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, make([]byte, 2)), "3 F4 elements do not fill whole bytes"},
		{"overlap", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `tensor "b": data_offsets [4, 8) overlap tensor "a" [0, 8)`},
		{"metadata", stFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
		{"trailing", stFile(`{} x`, nil), "unexpected bytes after the object"},
		{"cut JSON", stFile(`{"a":`, nil), "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := safetensors.ParseHeader(tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestWriter covers the streaming writer's own checks and a round trip of
// every element width, sub-byte ones included.
func TestWriter(t *testing.T) {
	specs := []safetensors.Spec{
		{Name: "f4", DType: "F4", Shape: []int{2, 3}},
		{Name: "i64", DType: "I64", Shape: []int{2}},
		{Name: "scalar", DType: "F32", Shape: []int{}},
		{Name: "empty", DType: "BF16", Shape: []int{0, 5}},
	}
	data := [][]byte{{0x12, 0x34, 0x56}, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 7), math.MaxUint64), {0, 0, 0x80, 0x3f}, {}}
	var buf bytes.Buffer
	if err := safetensors.WriteFile(&buf, map[string]string{"format": "pt"}, specs, data); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.DataStart%8 != 0 || f.Metadata["format"] != "pt" || len(f.Tensors) != 4 {
		t.Fatalf("header: data at %d, metadata %v, %d tensors", f.DataStart, f.Metadata, len(f.Tensors))
	}
	ints, err := f.Ints("i64")
	if err != nil || len(ints) != 2 || ints[0] != 7 || ints[1] != -1 {
		t.Errorf("i64 = %v, %v", ints, err)
	}
	if v, err := f.Float32s("scalar"); err != nil || len(v) != 1 || v[0] != 1 {
		t.Errorf("scalar = %v, %v", v, err)
	}
	if _, b, _ := f.Bytes("f4"); !bytes.Equal(b, data[0]) {
		t.Errorf("f4 bytes %x", b)
	}

	sw, err := safetensors.NewWriter(&bytes.Buffer{}, nil, specs[:2])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write(make([]byte, 20)); err == nil || !strings.Contains(err.Error(), "write of 20 bytes past the 19-byte data section") {
		t.Errorf("long write: %v", err)
	}
	sw.Write(make([]byte, 5))
	if err := sw.Close(); err == nil || !strings.Contains(err.Error(), "5 of the 19-byte data section written") {
		t.Errorf("short close: %v", err)
	}
	for _, tc := range []struct {
		specs []safetensors.Spec
		want  string
	}{
		{[]safetensors.Spec{{Name: "a", DType: "F32"}, {Name: "a", DType: "F32"}}, `tensor name "a" is reserved or repeated`},
		{[]safetensors.Spec{{Name: "__metadata__", DType: "F32"}}, "reserved or repeated"},
		{[]safetensors.Spec{{Name: "a", DType: "Q8_0"}}, `tensor "a": unknown dtype "Q8_0"`},
		{[]safetensors.Spec{{Name: "a", DType: "F32", Shape: []int{-2}}}, "negative dimension"},
	} {
		if _, err := safetensors.NewWriter(&bytes.Buffer{}, nil, tc.specs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWriter(%v): %v, want %q", tc.specs, err, tc.want)
		}
	}
}

package gguf

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
)

// tiny builds a small valid file: every scalar type, a few arrays and two tensors.
func tiny(t testing.TB) []byte {
	t.Helper()
	f := &File{
		KV: []KV{
			{"general.architecture", String("qwen3")},
			{"u8", Value{Type: TypeUint8, V: uint8(7)}},
			{"i8", Value{Type: TypeInt8, V: int8(-7)}},
			{"u16", Value{Type: TypeUint16, V: uint16(700)}},
			{"i16", Value{Type: TypeInt16, V: int16(-700)}},
			{"u32", Uint32(70000)},
			{"i32", Int32(-70000)},
			{"f32", Float32(1.5)},
			{"b", Bool(true)},
			{"u64", Uint64(1 << 40)},
			{"i64", Value{Type: TypeInt64, V: int64(-1 << 40)}},
			{"f64", Value{Type: TypeFloat64, V: 2.25}},
			{"strs", Strings([]string{"a", "", "héllo"})},
			{"ints", Int32s([]int32{3, -1, 4})},
			{"bools", Bools([]bool{true, false})},
			{"nested", Value{Type: TypeArray, Elem: TypeArray, V: []Value{Int32s([]int32{1}), Strings([]string{"x"})}}},
		},
		Tensors: []TensorInfo{
			{Name: "a", Dims: []uint64{3, 2}, Type: TensorF32},
			{Name: "b", Dims: []uint64{32}, Type: TensorQ8_0},
		},
	}
	dataSize, err := f.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := WriteHeader(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	if n%DefaultAlignment != 0 || int64(buf.Len()) != n {
		t.Fatalf("header of %d bytes (buffer %d) is not aligned", n, buf.Len())
	}
	data := make([]byte, dataSize)
	for i := range data {
		data[i] = byte(i)
	}
	buf.Write(data)
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	raw := tiny(t)
	f, err := Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || len(f.KV) != 16 || len(f.Tensors) != 2 {
		t.Fatalf("version %d, %d kv, %d tensors", f.Version, len(f.KV), len(f.Tensors))
	}
	want := map[string]any{
		"u8": uint8(7), "i8": int8(-7), "u16": uint16(700), "i16": int16(-700), "u32": uint32(70000),
		"i32": int32(-70000), "f32": float32(1.5), "b": true, "u64": uint64(1 << 40), "i64": int64(-1 << 40),
		"f64": 2.25, "strs": []string{"a", "", "héllo"}, "ints": []int32{3, -1, 4}, "bools": []bool{true, false},
		"general.architecture": "qwen3",
	}
	for k, w := range want {
		v, ok := f.Get(k)
		if !ok || !reflect.DeepEqual(v.V, w) {
			t.Errorf("%s = %#v, want %#v", k, v.V, w)
		}
	}
	nested, _ := f.Get("nested")
	if a := nested.V.([]Value); len(a) != 2 || !reflect.DeepEqual(a[1].V, []string{"x"}) {
		t.Errorf("nested = %#v", nested.V)
	}
	b, _ := f.Tensor("b")
	if b.Offset != 32 || b.Size != 34 || b.Type != TensorQ8_0 || !reflect.DeepEqual(b.Dims, []uint64{32}) {
		t.Errorf("tensor b = %+v", b)
	}
	if ints, ok := mustGet(t, f, "ints").Ints(); !ok || !reflect.DeepEqual(ints, []int64{3, -1, 4}) {
		t.Errorf("Ints() = %v", ints)
	}
	if f.DataOffset+int64(b.Offset+b.Size) > int64(len(raw)) {
		t.Errorf("tensor b past the end")
	}
}

// TestVersion2 reads a version 2 file (same layout as 3 for little-endian files).
func TestVersion2(t *testing.T) {
	f := &File{Version: 2, KV: []KV{{"a", Uint32(1)}}, Tensors: []TensorInfo{{Name: "w", Dims: []uint64{32, 2}, Type: TensorQ4_0}}}
	size, err := f.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := WriteHeader(&buf, f); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, size))
	g, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if g.Version != 2 || g.Tensors[0].Size != 36 || mustGet(t, g, "a").V != uint32(1) {
		t.Errorf("read back %+v", g)
	}
}

func mustGet(t *testing.T, f *File, k string) Value {
	v, ok := f.Get(k)
	if !ok {
		t.Fatalf("key %s missing", k)
	}
	return v
}

// TestFixture parses llama.cpp's file and checks fields dumped independently.
func TestFixture(t *testing.T) {
	path := testutil.Fixture(t, "qwen3-micro-q8_0.gguf")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || len(f.KV) != 25 || len(f.Tensors) != 68 || f.DataOffset != 274560 {
		t.Fatalf("version %d, %d kv, %d tensors, data at %d", f.Version, len(f.KV), len(f.Tensors), f.DataOffset)
	}
	if v := mustGet(t, f, "general.file_type").V; v != uint32(7) {
		t.Errorf("file_type = %v", v)
	}
	toks, _ := mustGet(t, f, "tokenizer.ggml.tokens").StringsValue()
	if len(toks) != 8192 || toks[8189] != "<|im_end|>" {
		t.Errorf("%d tokens", len(toks))
	}
	emb, _ := f.Tensor("token_embd.weight")
	if emb.Type != TensorQ8_0 || !reflect.DeepEqual(emb.Dims, []uint64{256, 8192}) || emb.Size != 8192*8*34 {
		t.Errorf("token_embd = %+v", emb)
	}
	last := f.Tensors[len(f.Tensors)-1]
	if last.Name != "output_norm.weight" || last.Offset != 7046656 || f.DataOffset+int64(last.Offset+last.Size) != int64(len(raw)) {
		t.Errorf("last tensor %+v", last)
	}
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func header(version uint32, nt, nkv uint64) []byte {
	b := []byte("GGUF")
	b = append(b, le32(version)...)
	b = append(b, le64(nt)...)
	return append(b, le64(nkv)...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func str(s string) []byte { return append(le64(uint64(len(s))), s...) }

func tensorInfo(name string, dims []uint64, typ uint32, off uint64) []byte {
	b := cat(str(name), le32(uint32(len(dims))))
	for _, d := range dims {
		b = append(b, le64(d)...)
	}
	return cat(b, le32(typ), le64(off))
}

func pad(b []byte) []byte { return append(b, make([]byte, Padding(int64(len(b)), 32))...) }

func TestBadInput(t *testing.T) {
	good := tiny(t)
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"magic", cat([]byte("GGUX"), good[4:]), "bad magic"},
		{"version1", header(1, 0, 0), "version 1 is not supported"},
		{"version9", header(9, 0, 0), "version 9 is not supported"},
		{"bigendian", header(3<<24, 0, 0), "big-endian"},
		{"truncated", good[:200], "truncated"},
		{"huge kv count", header(3, 0, 1<<60), "cannot fit"},
		{"huge tensor count", header(3, 1<<60, 0), "cannot fit"},
		{"huge string", cat(header(3, 0, 1), le64(1<<50), make([]byte, 16)), "string of"},
		{"huge array", cat(header(3, 0, 1), str("k"), le32(uint32(TypeArray)), le32(uint32(TypeUint64)), le64(1<<58)), "array of"},
		{"huge string array", cat(header(3, 0, 1), str("k"), le32(uint32(TypeArray)), le32(uint32(TypeString)), le64(1<<40)), "array of"},
		{"unknown value type", cat(header(3, 0, 1), str("k"), le32(99), le64(0)), "unknown value type 99"},
		{"bad bool", cat(header(3, 0, 1), str("k"), le32(uint32(TypeBool)), []byte{2}), "neither 0 nor 1"},
		{"dup key", cat(header(3, 0, 2), str("k"), le32(uint32(TypeUint8)), []byte{1}, str("k"), le32(uint32(TypeUint8)), []byte{1}), "appears twice"},
		{"alignment", cat(header(3, 0, 1), str("general.alignment"), le32(uint32(TypeUint32)), le32(24)), "power of two"},
		{"alignment type", cat(header(3, 0, 1), str("general.alignment"), le32(uint32(TypeUint64)), le64(32)), "want uint32"},
		{"n_dims", pad(cat(header(3, 1, 0), tensorInfo("w", []uint64{1, 1, 1, 1, 1}, 0, 0))), "n_dims = 5"},
		{"unknown type", pad(cat(header(3, 1, 0), tensorInfo("w", []uint64{4}, 77, 0))), "unknown ggml tensor type 77"},
		{"partial block", pad(cat(header(3, 1, 0), tensorInfo("w", []uint64{31}, 8, 0))), "not a multiple of the block size"},
		{"past end", cat(pad(cat(header(3, 1, 0), tensorInfo("w", []uint64{4}, 0, 0))), make([]byte, 15)), "past the end"},
		{"offset past end", cat(pad(cat(header(3, 1, 0), tensorInfo("w", []uint64{4}, 0, 1<<62))), make([]byte, 16)), "past the end"},
		{"unaligned", cat(pad(cat(header(3, 1, 0), tensorInfo("w", []uint64{4}, 0, 4))), make([]byte, 32)), "not aligned"},
		{"overlap", cat(pad(cat(header(3, 2, 0), tensorInfo("w", []uint64{16}, 0, 0), tensorInfo("v", []uint64{4}, 0, 32))), make([]byte, 96)), "overlap"},
		{"dup tensor", cat(pad(cat(header(3, 2, 0), tensorInfo("w", []uint64{4}, 0, 0), tensorInfo("w", []uint64{4}, 0, 32))), make([]byte, 96)), "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.raw), int64(len(c.raw)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestLayoutAlignment(t *testing.T) {
	f := &File{Tensors: []TensorInfo{
		{Name: "a", Dims: []uint64{5}, Type: TensorF32},
		{Name: "b", Dims: []uint64{256, 2}, Type: TensorQ6_K},
		{Name: "c", Dims: []uint64{3}, Type: TensorBF16},
	}}
	total, err := f.Layout()
	if err != nil {
		t.Fatal(err)
	}
	if f.Tensors[1].Offset != 32 || f.Tensors[1].Size != 420 || f.Tensors[2].Offset != 480 || total != 512 {
		t.Fatalf("offsets %d %d, total %d", f.Tensors[1].Offset, f.Tensors[2].Offset, total)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(tiny(f))
	f.Add(header(3, 0, 0))
	f.Add(pad(cat(header(3, 1, 1), str("general.alignment"), le32(uint32(TypeUint32)), le32(64), tensorInfo("w", []uint64{4}, 0, 0))))
	f.Fuzz(func(t *testing.T, raw []byte) {
		file, err := Read(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			if file.DataOffset+int64(ti.Offset+ti.Size) > int64(len(raw)) {
				t.Fatalf("tensor %q accepted past the end", ti.Name)
			}
		}
		// What was read must write back and read again the same.
		var buf bytes.Buffer
		if _, err := WriteHeader(&buf, file); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
	})
}

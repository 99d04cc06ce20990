package pytorch_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
)

// pickleStr is a BINUNICODE opcode.
func pickleStr(s string) string {
	return "X" + string(binary.LittleEndian.AppendUint32(nil, uint32(len(s)))) + s
}

// pickleInt is a BININT opcode.
func pickleInt(n int) string {
	return "J" + string(binary.LittleEndian.AppendUint32(nil, uint32(n)))
}

// torchZip writes a torch.save-style zip state dict (pickle protocol 2) in
// which all tensors share one BFloat16 storage, each at its element offset.
func torchZip(t *testing.T, tensors []*model.Tensor) []byte {
	t.Helper()
	var storage []byte
	var p strings.Builder
	p.WriteString("\x80\x02ccollections\nOrderedDict\n)R(")
	for _, tt := range tensors {
		if tt.DType != model.BF16 {
			t.Fatalf("%s is %v", tt.Name, tt.DType)
		}
		raw, err := tt.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		p.WriteString(pickleStr(tt.Name))
		p.WriteString("ctorch._utils\n_rebuild_tensor_v2\n((")
		p.WriteString(pickleStr("storage") + "ctorch\nBFloat16Storage\n" + pickleStr("0") + pickleStr("cpu") + "%NUMEL%tQ")
		p.WriteString(pickleInt(len(storage) / 2))
		p.WriteString("(")
		for _, d := range tt.Shape {
			p.WriteString(pickleInt(d))
		}
		p.WriteString("t(")
		stride := 1
		strides := make([]int, len(tt.Shape))
		for i := len(tt.Shape) - 1; i >= 0; i-- {
			strides[i] = stride
			stride *= tt.Shape[i]
		}
		for _, s := range strides {
			p.WriteString(pickleInt(s))
		}
		p.WriteString("t\x89ccollections\nOrderedDict\n)RtR")
		storage = append(storage, raw...)
	}
	p.WriteString("u.")
	pkl := strings.ReplaceAll(p.String(), "%NUMEL%", pickleInt(len(storage)/2))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"shard/data.pkl", []byte(pkl)}, {"shard/byteorder", []byte("little")}, {"shard/data/0", storage}, {"shard/version", []byte("3\n")}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSharded splits qwen2-micro into two torch shards listed in
// pytorch_model.bin.index.json, every tensor a view at an offset into its
// shard's one storage, and loads it back bit-identical.
func TestSharded(t *testing.T) {
	src := testutil.Fixture(t, "qwen2-micro")
	ref, err := loaders.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	half := len(ref.Tensors) / 2
	parts := [][]*model.Tensor{ref.Tensors[:half], ref.Tensors[half:]}
	shardNames := []string{"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}

	write := func(t *testing.T, weightMap map[string]string) string {
		dir := checkpointDir(t, nil, "")
		os.Remove(filepath.Join(dir, "pytorch_model.bin"))
		for i, ts := range parts {
			if err := os.WriteFile(filepath.Join(dir, shardNames[i]), torchZip(t, ts), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 9443200}, "weight_map": weightMap})
		if err := os.WriteFile(filepath.Join(dir, "pytorch_model.bin.index.json"), idx, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	weightMap := func() map[string]string {
		wm := map[string]string{}
		for i, ts := range parts {
			for _, tt := range ts {
				wm[tt.Name] = shardNames[i]
			}
		}
		return wm
	}

	m, err := loaders.Load(write(t, weightMap()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Format != "pytorch" || len(m.Tensors) != len(ref.Tensors) || m.ParamCount() != 4721600 {
		t.Fatalf("format %s, %d tensors, %d params", m.Format, len(m.Tensors), m.ParamCount())
	}
	for _, want := range ref.Tensors {
		got := m.Tensor(want.Name)
		if got == nil {
			t.Fatalf("%s missing", want.Name)
		}
		a, _ := got.Bytes()
		b, _ := want.Bytes()
		if got.DType != want.DType || !equalInts(got.Shape, want.Shape) || !bytes.Equal(a, b) {
			t.Fatalf("%s differs from the safetensors checkpoint", want.Name)
		}
	}

	bad := []struct {
		name string
		edit func(wm map[string]string)
		want string
	}{
		{"moved tensor", func(wm map[string]string) { wm[parts[1][0].Name] = shardNames[0] }, "absent from the shard"},
		{"unlisted tensor", func(wm map[string]string) { delete(wm, parts[0][0].Name) }, "does not list"},
		{"missing shard", func(wm map[string]string) { wm[parts[0][0].Name] = "pytorch_model-00000-of-00009.bin" }, "is missing"},
		{"path escape", func(wm map[string]string) { wm[parts[0][0].Name] = "../x.bin" }, "not a file name"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			wm := weightMap()
			c.edit(wm)
			m, err := loaders.Load(write(t, wm))
			if err == nil {
				m.Close()
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestTiedHeadCopy: torch.save of a tied model's state dict holds
// lm_head.weight as a second view of the embedding; it is dropped.
func TestTiedHeadCopy(t *testing.T) {
	src := testutil.Fixture(t, "qwen3-micro")
	ref, err := loaders.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dir := t.TempDir()
	abs, _ := filepath.Abs(filepath.Join(src, "config.json"))
	os.Symlink(abs, filepath.Join(dir, "config.json"))
	ts := append(append([]*model.Tensor(nil), ref.Tensors...), ref.Tensor(model.EmbedName).Renamed(model.HeadName))
	if err := os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), torchZip(t, ts), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := loaders.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Tensor(model.HeadName) != nil || len(m.Tensors) != len(ref.Tensors) {
		t.Errorf("%d tensors (want %d), lm_head kept: %v", len(m.Tensors), len(ref.Tensors), m.Tensor(model.HeadName) != nil)
	}
}

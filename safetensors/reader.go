package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// File is a safetensors file held in memory with its checked header. It is
// for small files (references, fixtures, calibration data); the model loader
// maps weights instead.
type File struct {
	Header
	Path   string
	data   []byte
	byName map[string]int
}

// ReadFile reads and checks the safetensors file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse checks the safetensors file whose contents are data; the File keeps
// data (not a copy).
func Parse(data []byte) (*File, error) {
	h, err := ParseHeader(data)
	if err != nil {
		return nil, err
	}
	f := &File{Header: *h, data: data, byName: map[string]int{}}
	for i, t := range h.Tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// Info returns the tensor named name.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// Bytes returns the stored bytes of the tensor named name (not a copy).
func (f *File) Bytes(name string) (TensorInfo, []byte, error) {
	t, ok := f.Info(name)
	if !ok {
		return TensorInfo{}, nil, f.errorf("no tensor %q", name)
	}
	return t, f.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

// Float32s returns the F32 tensor named name.
func (f *File) Float32s(name string) ([]float32, error) {
	t, b, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	if t.DType != "F32" {
		return nil, f.errorf("tensor %q is %s, want F32", name, t.DType)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// Ints returns the integer tensor (I32 or I64) named name.
func (f *File) Ints(name string) ([]int, error) {
	t, b, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	var out []int
	switch t.DType {
	case "I32":
		out = make([]int, len(b)/4)
		for i := range out {
			out[i] = int(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case "I64":
		out = make([]int, len(b)/8)
		for i := range out {
			v := int64(binary.LittleEndian.Uint64(b[8*i:]))
			if int64(int(v)) != v {
				return nil, f.errorf("tensor %q: element %d = %d does not fit an int", name, i, v)
			}
			out[i] = int(v)
		}
	default:
		return nil, f.errorf("tensor %q is %s, want I32 or I64", name, t.DType)
	}
	return out, nil
}

func (f *File) errorf(format string, args ...any) error {
	if f.Path != "" {
		return fmt.Errorf("%s: "+format, append([]any{f.Path}, args...)...)
	}
	return fmt.Errorf(format, args...)
}

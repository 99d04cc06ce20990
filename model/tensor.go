package model

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/x448/float16"
)

// Tensor is one named weight. Its bytes stay in their file until asked for:
// Bytes returns the stored encoding (a zero-copy slice when the file is
// memory-mapped) and Float32 decodes it.
type Tensor struct {
	Name  string // Hugging Face name, e.g. "model.embed_tokens.weight"
	DType DType  // storage dtype
	Shape []int  // Hugging Face order, outermost first ([out, in] for a linear weight)

	file string      // where the bytes live, for error messages
	src  io.ReaderAt // lazy source; nil for in-memory tensors
	off  int64
	size int64
	data []byte // in-memory bytes when src is nil
}

// Slicer is implemented by sources that can hand out bytes without copying
// (a memory-mapped file).
type Slicer interface {
	Slice(off, n int64) ([]byte, error)
}

// Elements returns the number of elements of a shape.
func Elements(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}

// NewLazyTensor describes a tensor stored at [off, off+size) of src. It checks
// that size matches the dtype and shape.
func NewLazyTensor(name string, dtype DType, shape []int, file string, src io.ReaderAt, off, size int64) (*Tensor, error) {
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("%s: tensor %q: negative dimension in shape %v", file, name, shape)
		}
	}
	want, err := dtype.ByteSize(Elements(shape))
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", file, name, err)
	}
	if want != size {
		return nil, fmt.Errorf("%s: tensor %q: %v shape %v needs %d bytes, the file gives %d", file, name, dtype, shape, want, size)
	}
	return &Tensor{Name: name, DType: dtype, Shape: append([]int(nil), shape...), file: file, src: src, off: off, size: size}, nil
}

// NewTensor makes an in-memory tensor from raw bytes in dtype's encoding.
func NewTensor(name string, dtype DType, shape []int, raw []byte) (*Tensor, error) {
	want, err := dtype.ByteSize(Elements(shape))
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if want != int64(len(raw)) {
		return nil, fmt.Errorf("tensor %q: %v shape %v needs %d bytes, got %d", name, dtype, shape, want, len(raw))
	}
	return &Tensor{Name: name, DType: dtype, Shape: append([]int(nil), shape...), data: raw, size: int64(len(raw))}, nil
}

// FromFloat32 makes an in-memory F32 tensor holding v (len(v) must match shape).
func FromFloat32(name string, shape []int, v []float32) *Tensor {
	if int64(len(v)) != Elements(shape) {
		panic(fmt.Sprintf("model.FromFloat32 %q: %d values for shape %v", name, len(v), shape))
	}
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &Tensor{Name: name, DType: F32, Shape: append([]int(nil), shape...), data: raw, size: int64(len(raw))}
}

// Elements returns the number of elements.
func (t *Tensor) Elements() int64 { return Elements(t.Shape) }

// Size returns the number of stored bytes.
func (t *Tensor) Size() int64 { return t.size }

// File returns the file the tensor is read from ("" for in-memory tensors).
func (t *Tensor) File() string { return t.file }

// Renamed returns a shallow copy of t under another name (the bytes are shared).
func (t *Tensor) Renamed(name string) *Tensor {
	c := *t
	c.Name = name
	c.Shape = append([]int(nil), t.Shape...)
	return &c
}

// Bytes returns the stored bytes. For a memory-mapped source the slice aliases
// the mapping and must not be written to.
func (t *Tensor) Bytes() ([]byte, error) {
	if t.src == nil {
		return t.data, nil
	}
	if s, ok := t.src.(Slicer); ok {
		b, err := s.Slice(t.off, t.size)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", t.file, t.Name, err)
		}
		return b, nil
	}
	b := make([]byte, t.size)
	if _, err := t.src.ReadAt(b, t.off); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: reading %d bytes at offset %d: %w", t.file, t.Name, t.size, t.off, err)
	}
	return b, nil
}

// Float32 decodes the tensor into a new []float32.
func (t *Tensor) Float32() ([]float32, error) {
	raw, err := t.Bytes()
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.Elements())
	if err := Decode(out, raw, t.DType); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", t.file, t.Name, err)
	}
	return out, nil
}

// Decode converts raw bytes in dtype d to float32 values in dst.
func Decode(dst []float32, raw []byte, d DType) error {
	want, err := d.ByteSize(int64(len(dst)))
	if err != nil {
		return err
	}
	if want != int64(len(raw)) {
		return fmt.Errorf("%v: %d elements need %d bytes, got %d", d, len(dst), want, len(raw))
	}
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	default:
		fn := dequantizers[d]
		if fn == nil {
			return fmt.Errorf("no decoder for dtype %v (import the quant package)", d)
		}
		return fn(dst, raw)
	}
	return nil
}

// Encode converts float32 values to dtype d (F32, F16 or BF16; BF16 rounds to
// nearest even, as PyTorch does). Quantized types use the quant package.
func Encode(src []float32, d DType) ([]byte, error) {
	switch d {
	case F32:
		out := make([]byte, 4*len(src))
		for i, x := range src {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
		return out, nil
	case F16:
		out := make([]byte, 2*len(src))
		for i, x := range src {
			binary.LittleEndian.PutUint16(out[2*i:], float16.Fromfloat32(x).Bits())
		}
		return out, nil
	case BF16:
		out := make([]byte, 2*len(src))
		for i, x := range src {
			binary.LittleEndian.PutUint16(out[2*i:], BF16Bits(x))
		}
		return out, nil
	}
	fn := quantizers[d]
	if fn == nil {
		return nil, fmt.Errorf("cannot encode to dtype %v", d)
	}
	return fn(src)
}

// BF16Bits rounds x to bfloat16 (round to nearest, ties to even; NaN stays NaN).
func BF16Bits(x float32) uint16 {
	b := math.Float32bits(x)
	if x != x {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

var (
	dequantizers = map[DType]func(dst []float32, raw []byte) error{}
	quantizers   = map[DType]func(src []float32) ([]byte, error){}
)

// RegisterQuant registers the decoder (and optional encoder) of a quantized dtype.
// It is called from the init function of the package implementing the format.
func RegisterQuant(d DType, decode func(dst []float32, raw []byte) error, encode func(src []float32) ([]byte, error)) {
	dequantizers[d] = decode
	if encode != nil {
		quantizers[d] = encode
	}
}

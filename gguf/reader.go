package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
const MaxDims = 4

// maxNesting bounds arrays of arrays.
const maxNesting = 8

// File is a parsed GGUF header.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64 // general.alignment, or DefaultAlignment
	DataOffset int64  // absolute offset of the tensor data section
}

// TensorInfo describes one tensor. Offset is relative to the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64 // ne order: Dims[0] varies fastest
	Type   TensorType
	Offset uint64
	Size   uint64 // bytes, from Type and Dims
}

// Get returns the value of key.
func (f *File) Get(key string) (Value, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return Value{}, false
}

// Tensor returns the named tensor's info.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// reader decodes little-endian fields, never reading past size.
type reader struct {
	br   *bufio.Reader
	pos  int64
	size int64
	buf  [8]byte
}

var errTruncated = errors.New("file is truncated")

func (r *reader) remaining() int64 { return r.size - r.pos }

func (r *reader) bytes(n int64) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("at offset %d: %d bytes needed, %d left: %w", r.pos, n, r.remaining(), errTruncated)
	}
	var b []byte
	if n <= int64(len(r.buf)) {
		b = r.buf[:n]
	} else {
		b = make([]byte, n)
	}
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, fmt.Errorf("at offset %d: %w", r.pos, err)
	}
	r.pos += n
	return b, nil
}

func (r *reader) u8() (uint8, error) {
	b, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *reader) u16() (uint16, error) {
	b, err := r.bytes(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (r *reader) str() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(r.remaining()) {
		return "", fmt.Errorf("at offset %d: string of %d bytes but only %d left: %w", r.pos-8, n, r.remaining(), errTruncated)
	}
	b, err := r.bytes(int64(n))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Read parses the header of a GGUF file of the given size read through r. It
// checks every length against the bytes left before allocating, and that the
// tensors lie inside the file, aligned and without overlapping.
func Read(r io.ReaderAt, size int64) (*File, error) {
	rd := &reader{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16), size: size}
	magic, err := rd.bytes(4)
	if err != nil {
		return nil, fmt.Errorf("magic: %w", err)
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("bad magic %q, not a GGUF file", magic)
	}
	f := &File{Alignment: DefaultAlignment}
	if f.Version, err = rd.u32(); err != nil {
		return nil, fmt.Errorf("version: %w", err)
	}
	switch {
	case f.Version == 1:
		return nil, fmt.Errorf("GGUF version 1 is not supported (only 2 and 3)")
	case f.Version&0xffff == 0 && f.Version>>16 != 0:
		return nil, fmt.Errorf("GGUF version %#x looks big-endian; only little-endian files are supported", f.Version)
	case f.Version != 2 && f.Version != 3:
		return nil, fmt.Errorf("GGUF version %d is not supported (only 2 and 3)", f.Version)
	}
	nTensors, err := rd.u64()
	if err != nil {
		return nil, fmt.Errorf("tensor count: %w", err)
	}
	nKV, err := rd.u64()
	if err != nil {
		return nil, fmt.Errorf("metadata count: %w", err)
	}
	// A KV takes at least 8+4+1 bytes and a tensor info 8+4+4+8.
	if nKV > uint64(rd.remaining())/13 {
		return nil, fmt.Errorf("metadata count %d cannot fit in the %d bytes left: %w", nKV, rd.remaining(), errTruncated)
	}
	if nTensors > uint64(rd.remaining())/24 {
		return nil, fmt.Errorf("tensor count %d cannot fit in the %d bytes left: %w", nTensors, rd.remaining(), errTruncated)
	}
	f.KV = make([]KV, 0, nKV)
	seen := make(map[string]bool, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := rd.str()
		if err != nil {
			return nil, fmt.Errorf("metadata %d: key: %w", i, err)
		}
		if seen[key] {
			return nil, fmt.Errorf("metadata key %q appears twice", key)
		}
		seen[key] = true
		t, err := rd.u32()
		if err != nil {
			return nil, fmt.Errorf("metadata %q: type: %w", key, err)
		}
		v, err := rd.value(ValueType(t), 0)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	if v, ok := f.Get("general.alignment"); ok {
		a, isU32 := v.V.(uint32)
		if !isU32 {
			return nil, fmt.Errorf("metadata \"general.alignment\" is %s, want uint32", v.TypeName())
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("metadata \"general.alignment\" = %d is not a power of two", a)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	names := make(map[string]bool, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		t, err := rd.tensorInfo()
		if err != nil {
			if t.Name != "" {
				return nil, fmt.Errorf("tensor %d %q: %w", i, t.Name, err)
			}
			return nil, fmt.Errorf("tensor %d: %w", i, err)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		names[t.Name] = true
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("tensor %q: data offset %d is not aligned to %d bytes", t.Name, t.Offset, f.Alignment)
		}
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = int64(alignUp(uint64(rd.pos), f.Alignment))
	if f.DataOffset > size && len(f.Tensors) > 0 {
		return nil, fmt.Errorf("data section at %d starts past the end of the %d-byte file: %w", f.DataOffset, size, errTruncated)
	}
	if err := f.checkExtents(size); err != nil {
		return nil, err
	}
	return f, nil
}

func (r *reader) tensorInfo() (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = r.str(); err != nil {
		return t, fmt.Errorf("name: %w", err)
	}
	nd, err := r.u32()
	if err != nil {
		return t, fmt.Errorf("n_dims: %w", err)
	}
	if nd > MaxDims {
		return t, fmt.Errorf("n_dims = %d, at most %d allowed", nd, MaxDims)
	}
	t.Dims = make([]uint64, nd)
	for j := range t.Dims {
		if t.Dims[j], err = r.u64(); err != nil {
			return t, fmt.Errorf("dim %d: %w", j, err)
		}
		if t.Dims[j] > math.MaxInt64 {
			return t, fmt.Errorf("dim %d = %d is too large", j, t.Dims[j])
		}
	}
	ty, err := r.u32()
	if err != nil {
		return t, fmt.Errorf("type: %w", err)
	}
	t.Type = TensorType(ty)
	if !t.Type.Known() {
		return t, fmt.Errorf("unknown ggml tensor type %d", ty)
	}
	if t.Offset, err = r.u64(); err != nil {
		return t, fmt.Errorf("offset: %w", err)
	}
	if t.Size, err = t.Type.ByteSize(t.Dims); err != nil {
		return t, fmt.Errorf("dims %v: %w", t.Dims, err)
	}
	return t, nil
}

// checkExtents verifies that every tensor lies inside the file and that no two overlap.
func (f *File) checkExtents(size int64) error {
	avail := uint64(0)
	if size > f.DataOffset {
		avail = uint64(size - f.DataOffset)
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
		t := f.Tensors[i]
		if t.Offset > avail || t.Size > avail-t.Offset {
			return fmt.Errorf("tensor %q: data [%d, +%d) runs past the end of the file (%d data bytes): %w",
				t.Name, t.Offset, t.Size, avail, errTruncated)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, q := f.Tensors[order[k-1]], f.Tensors[order[k]]
		if p.Offset+p.Size > q.Offset && p.Size > 0 && q.Size > 0 {
			return fmt.Errorf("tensors %q [%d, %d) and %q [%d, %d) overlap", p.Name, p.Offset, p.Offset+p.Size, q.Name, q.Offset, q.Offset+q.Size)
		}
	}
	return nil
}

func (r *reader) value(t ValueType, depth int) (Value, error) {
	v := Value{Type: t}
	var err error
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		var x uint8
		x, err = r.u8()
		switch t {
		case TypeUint8:
			v.V = x
		case TypeInt8:
			v.V = int8(x)
		default:
			if x > 1 {
				return v, fmt.Errorf("bool value %d is neither 0 nor 1", x)
			}
			v.V = x == 1
		}
	case TypeUint16, TypeInt16:
		var x uint16
		x, err = r.u16()
		if t == TypeUint16 {
			v.V = x
		} else {
			v.V = int16(x)
		}
	case TypeUint32, TypeInt32, TypeFloat32:
		var x uint32
		x, err = r.u32()
		switch t {
		case TypeUint32:
			v.V = x
		case TypeInt32:
			v.V = int32(x)
		default:
			v.V = math.Float32frombits(x)
		}
	case TypeUint64, TypeInt64, TypeFloat64:
		var x uint64
		x, err = r.u64()
		switch t {
		case TypeUint64:
			v.V = x
		case TypeInt64:
			v.V = int64(x)
		default:
			v.V = math.Float64frombits(x)
		}
	case TypeString:
		v.V, err = r.str()
	case TypeArray:
		return r.array(depth)
	default:
		return v, fmt.Errorf("unknown value type %d", uint32(t))
	}
	return v, err
}

func (r *reader) array(depth int) (Value, error) {
	if depth >= maxNesting {
		return Value{}, fmt.Errorf("arrays nested deeper than %d", maxNesting)
	}
	et, err := r.u32()
	if err != nil {
		return Value{}, fmt.Errorf("array element type: %w", err)
	}
	elem := ValueType(et)
	n, err := r.u64()
	if err != nil {
		return Value{}, fmt.Errorf("array length: %w", err)
	}
	minSize := uint64(elem.scalarSize())
	switch elem {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		return Value{}, fmt.Errorf("array of unknown value type %d", et)
	}
	if n > uint64(r.remaining())/minSize {
		return Value{}, fmt.Errorf("array of %d %v cannot fit in the %d bytes left: %w", n, elem, r.remaining(), errTruncated)
	}
	v := Value{Type: TypeArray, Elem: elem}
	if elem.scalarSize() > 0 {
		raw, err := r.bytes(int64(n * minSize))
		if err != nil {
			return v, err
		}
		v.V, err = decodeScalars(elem, raw, int(n))
		return v, err
	}
	switch elem {
	case TypeString:
		a := make([]string, n)
		for i := range a {
			if a[i], err = r.str(); err != nil {
				return v, fmt.Errorf("element %d: %w", i, err)
			}
		}
		v.V = a
	case TypeArray:
		a := make([]Value, n)
		for i := range a {
			if a[i], err = r.array(depth + 1); err != nil {
				return v, fmt.Errorf("element %d: %w", i, err)
			}
		}
		v.V = a
	}
	return v, nil
}

func decodeScalars(t ValueType, raw []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), raw...), nil
	case TypeInt8:
		a := make([]int8, n)
		for i := range a {
			a[i] = int8(raw[i])
		}
		return a, nil
	case TypeBool:
		a := make([]bool, n)
		for i := range a {
			if raw[i] > 1 {
				return nil, fmt.Errorf("element %d: bool value %d is neither 0 nor 1", i, raw[i])
			}
			a[i] = raw[i] == 1
		}
		return a, nil
	case TypeUint16:
		a := make([]uint16, n)
		for i := range a {
			a[i] = le.Uint16(raw[2*i:])
		}
		return a, nil
	case TypeInt16:
		a := make([]int16, n)
		for i := range a {
			a[i] = int16(le.Uint16(raw[2*i:]))
		}
		return a, nil
	case TypeUint32:
		a := make([]uint32, n)
		for i := range a {
			a[i] = le.Uint32(raw[4*i:])
		}
		return a, nil
	case TypeInt32:
		a := make([]int32, n)
		for i := range a {
			a[i] = int32(le.Uint32(raw[4*i:]))
		}
		return a, nil
	case TypeFloat32:
		a := make([]float32, n)
		for i := range a {
			a[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return a, nil
	case TypeUint64:
		a := make([]uint64, n)
		for i := range a {
			a[i] = le.Uint64(raw[8*i:])
		}
		return a, nil
	case TypeInt64:
		a := make([]int64, n)
		for i := range a {
			a[i] = int64(le.Uint64(raw[8*i:]))
		}
		return a, nil
	case TypeFloat64:
		a := make([]float64, n)
		for i := range a {
			a[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return a, nil
	}
	return nil, fmt.Errorf("unknown value type %d", uint32(t))
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Layout assigns each tensor's Size (from Type and Dims) and Offset (in order,
// each aligned to f.Alignment) and returns the size of the data section
// including the padding after the last tensor.
func (f *File) Layout() (uint64, error) {
	if f.Alignment == 0 {
		f.Alignment = DefaultAlignment
	}
	var off uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if len(t.Dims) > MaxDims {
			return 0, fmt.Errorf("tensor %q: %d dims, at most %d allowed", t.Name, len(t.Dims), MaxDims)
		}
		size, err := t.Type.ByteSize(t.Dims)
		if err != nil {
			return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		t.Size = size
		t.Offset = off
		off = alignUp(off+size, f.Alignment)
	}
	return off, nil
}

// WriteHeader writes the header of f (version f.Version, 3 if zero): magic,
// counts, metadata, tensor infos and the padding up to the data section. The
// tensor offsets must be set (see Layout). It returns the bytes written, which
// is also where the data section starts.
func WriteHeader(w io.Writer, f *File) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<16)}
	version := f.Version
	if version == 0 {
		version = 3
	}
	cw.raw([]byte(Magic))
	cw.u32(version)
	cw.u64(uint64(len(f.Tensors)))
	cw.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		cw.str(kv.Key)
		cw.u32(uint32(kv.Value.Type))
		if err := cw.value(kv.Value); err != nil {
			return cw.n, fmt.Errorf("metadata %q: %w", kv.Key, err)
		}
	}
	for _, t := range f.Tensors {
		cw.str(t.Name)
		cw.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			cw.u64(d)
		}
		cw.u32(uint32(t.Type))
		cw.u64(t.Offset)
	}
	align := f.Alignment
	if align == 0 {
		align = DefaultAlignment
	}
	cw.raw(make([]byte, alignUp(uint64(cw.n), align)-uint64(cw.n)))
	if cw.err == nil {
		cw.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, cw.err
}

// Padding returns the zero bytes that bring a position n up to a multiple of align.
func Padding(n int64, align uint64) int64 {
	return int64(alignUp(uint64(n), align)) - n
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (c *countWriter) raw(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *countWriter) u8(v uint8) { c.buf[0] = v; c.raw(c.buf[:1]) }
func (c *countWriter) u16(v uint16) {
	binary.LittleEndian.PutUint16(c.buf[:], v)
	c.raw(c.buf[:2])
}
func (c *countWriter) u32(v uint32) {
	binary.LittleEndian.PutUint32(c.buf[:], v)
	c.raw(c.buf[:4])
}
func (c *countWriter) u64(v uint64) {
	binary.LittleEndian.PutUint64(c.buf[:], v)
	c.raw(c.buf[:8])
}
func (c *countWriter) str(s string) {
	c.u64(uint64(len(s)))
	c.raw([]byte(s))
}

func (c *countWriter) value(v Value) error {
	if v.Type == TypeArray {
		return c.array(v)
	}
	ok := true
	switch x := v.V.(type) {
	case uint8:
		ok = v.Type == TypeUint8
		c.u8(x)
	case int8:
		ok = v.Type == TypeInt8
		c.u8(uint8(x))
	case bool:
		ok = v.Type == TypeBool
		b := uint8(0)
		if x {
			b = 1
		}
		c.u8(b)
	case uint16:
		ok = v.Type == TypeUint16
		c.u16(x)
	case int16:
		ok = v.Type == TypeInt16
		c.u16(uint16(x))
	case uint32:
		ok = v.Type == TypeUint32
		c.u32(x)
	case int32:
		ok = v.Type == TypeInt32
		c.u32(uint32(x))
	case float32:
		ok = v.Type == TypeFloat32
		c.u32(math.Float32bits(x))
	case uint64:
		ok = v.Type == TypeUint64
		c.u64(x)
	case int64:
		ok = v.Type == TypeInt64
		c.u64(uint64(x))
	case float64:
		ok = v.Type == TypeFloat64
		c.u64(math.Float64bits(x))
	case string:
		ok = v.Type == TypeString
		c.str(x)
	default:
		return fmt.Errorf("cannot encode %T as %v", v.V, v.Type)
	}
	if !ok {
		return fmt.Errorf("value %T does not match its type %v", v.V, v.Type)
	}
	return c.err
}

func (c *countWriter) array(v Value) error {
	c.u32(uint32(v.Elem))
	c.u64(uint64(v.Len()))
	each := func(n int, at func(i int) Value) error {
		for i := 0; i < n; i++ {
			e := at(i)
			if e.Type != v.Elem {
				return fmt.Errorf("element %d is %v in an array of %v", i, e.Type, v.Elem)
			}
			if err := c.value(e); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		return nil
	}
	mismatch := func() error { return fmt.Errorf("array of %v holds %T", v.Elem, v.V) }
	switch a := v.V.(type) {
	case []uint8:
		if v.Elem != TypeUint8 {
			return mismatch()
		}
		c.raw(a)
	case []int8:
		if v.Elem != TypeInt8 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Value{Type: TypeInt8, V: a[i]} })
	case []bool:
		if v.Elem != TypeBool {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Bool(a[i]) })
	case []uint16:
		if v.Elem != TypeUint16 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Value{Type: TypeUint16, V: a[i]} })
	case []int16:
		if v.Elem != TypeInt16 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Value{Type: TypeInt16, V: a[i]} })
	case []uint32:
		if v.Elem != TypeUint32 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Uint32(a[i]) })
	case []int32:
		if v.Elem != TypeInt32 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Int32(a[i]) })
	case []float32:
		if v.Elem != TypeFloat32 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Float32(a[i]) })
	case []uint64:
		if v.Elem != TypeUint64 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Uint64(a[i]) })
	case []int64:
		if v.Elem != TypeInt64 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Value{Type: TypeInt64, V: a[i]} })
	case []float64:
		if v.Elem != TypeFloat64 {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return Value{Type: TypeFloat64, V: a[i]} })
	case []string:
		if v.Elem != TypeString {
			return mismatch()
		}
		for _, s := range a {
			c.str(s)
		}
	case []Value:
		if v.Elem != TypeArray {
			return mismatch()
		}
		return each(len(a), func(i int) Value { return a[i] })
	default:
		return fmt.Errorf("cannot encode %T as an array", v.V)
	}
	return c.err
}

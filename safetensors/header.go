// Package safetensors owns the safetensors container format: an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the data section. ParseHeader checks a whole file
// (bounds, sizes, overlaps, duplicate names); File reads tensors from a file
// held in memory; Writer streams a file whose header is known up front.
//
// Dtypes stay safetensors' names ("F32", "BF16", "I64"...): which of them a
// caller can use is the caller's business (loaders/safetensors reads F32, F16
// and BF16 weights).
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// MaxHeaderBytes is the largest JSON header accepted (the reference
// implementation's limit); a larger length prefix is refused before anything
// is allocated.
const MaxHeaderBytes = 100 << 20

// Header is the parsed header of one .safetensors file.
type Header struct {
	// Metadata is the optional "__metadata__" string map.
	Metadata map[string]string
	// Tensors are ordered by their position in the file.
	Tensors []TensorInfo
	// DataStart is the file offset of the data section (8 + header length).
	DataStart int64
}

// TensorInfo locates one tensor in the file.
type TensorInfo struct {
	Name   string
	DType  string // safetensors name: "F32", "BF16", "I64"...
	Shape  []int
	Offset int64 // absolute file offset of the first byte
	Size   int64 // bytes
}

// Elements returns the number of elements of the shape (1 for a scalar).
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// dtypeBits is the element width of every safetensors dtype.
var dtypeBits = map[string]int64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// ByteSize returns the bytes n elements of dtype take, or an error for an
// unknown dtype or sub-byte elements that do not fill whole bytes.
func ByteSize(dtype string, n int64) (int64, error) {
	bits, ok := dtypeBits[dtype]
	switch {
	case !ok:
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	case n < 0 || n > math.MaxInt64/64:
		return 0, fmt.Errorf("%d elements out of range", n)
	case n*bits%8 != 0:
		return 0, fmt.Errorf("%d %s elements do not fill whole bytes", n, dtype)
	}
	return n * bits / 8, nil
}

// entry is one tensor's header object.
type entry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ParseHeader parses and checks the header of a safetensors file whose whole
// contents are data: every tensor must have a known dtype, a shape whose byte
// size matches its data_offsets, and a range inside the data section not
// overlapping another tensor. Errors name the field at fault but not the
// file; callers add it.
func ParseHeader(data []byte) (*Header, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderBytes {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeaderBytes)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("header length %d runs past the end of the %d-byte file (truncated?)", n, len(data))
	}
	raw := data[8 : 8+n]
	h := &Header{DataStart: 8 + int64(n)}
	dataLen := int64(len(data)) - h.DataStart
	if err := h.parseJSON(raw, dataLen); err != nil {
		return nil, err
	}
	sort.SliceStable(h.Tensors, func(i, j int) bool { return h.Tensors[i].Offset < h.Tensors[j].Offset })
	for i := 1; i < len(h.Tensors); i++ {
		prev, t := h.Tensors[i-1], h.Tensors[i]
		if t.Offset < prev.Offset+prev.Size {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d) overlap tensor %q [%d, %d)", t.Name,
				t.Offset-h.DataStart, t.Offset-h.DataStart+t.Size, prev.Name, prev.Offset-h.DataStart, prev.Offset-h.DataStart+prev.Size)
		}
	}
	return h, nil
}

// parseJSON walks the top-level object in order, so duplicate names are caught.
func (h *Header) parseJSON(raw []byte, dataLen int64) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("header JSON: %w", jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("header JSON: starts with %v, want an object", tok)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("header JSON: %w", jsonErr(err))
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("header JSON: key %v is not a string", tok)
		}
		if seen[name] {
			return fmt.Errorf("header JSON: key %q appears twice", name)
		}
		seen[name] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return fmt.Errorf("header JSON: value of %q: %w", name, jsonErr(err))
		}
		if name == "__metadata__" {
			if err := json.Unmarshal(val, &h.Metadata); err != nil {
				return fmt.Errorf("header: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		t, err := parseEntry(name, val, h.DataStart, dataLen)
		if err != nil {
			return err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("header JSON: %w", jsonErr(err))
	}
	// Only whitespace padding may follow the object.
	if rest := raw[min(dec.InputOffset(), int64(len(raw))):]; len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("header JSON: unexpected bytes after the object")
	}
	return nil
}

func jsonErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseEntry(name string, val json.RawMessage, dataStart, dataLen int64) (TensorInfo, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return TensorInfo{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	switch {
	case e.DType == nil:
		return TensorInfo{}, fmt.Errorf("tensor %q: field \"dtype\" is missing", name)
	case e.Shape == nil:
		return TensorInfo{}, fmt.Errorf("tensor %q: field \"shape\" is missing", name)
	case e.DataOffsets == nil:
		return TensorInfo{}, fmt.Errorf("tensor %q: field \"data_offsets\" is missing", name)
	}
	if _, ok := dtypeBits[*e.DType]; !ok {
		return TensorInfo{}, fmt.Errorf("tensor %q: unknown dtype %q", name, *e.DType)
	}
	shape, elems, err := parseShape(*e.Shape)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets has %d entries, want 2", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets [%d, %d) is not a valid range", name, begin, end)
	}
	if end > dataLen {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets [%d, %d) run past the %d-byte data section (truncated?)", name, begin, end, dataLen)
	}
	want, err := ByteSize(*e.DType, elems)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	if want != end-begin {
		return TensorInfo{}, fmt.Errorf("tensor %q: %s shape %v needs %d bytes, data_offsets [%d, %d) give %d", name, *e.DType, shape, want, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: *e.DType, Shape: shape, Offset: dataStart + begin, Size: end - begin}, nil
}

// parseShape checks dimensions and returns the element count, bounded so that
// its size in bits fits an int64.
func parseShape(dims []int64) ([]int, int64, error) {
	shape := make([]int, len(dims))
	elems := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("shape %v has a negative dimension", dims)
		}
		if d > 0 && elems > math.MaxInt64/64/d {
			return nil, 0, fmt.Errorf("shape %v is too large", dims)
		}
		elems *= d
		if int64(int(d)) != d {
			return nil, 0, fmt.Errorf("shape %v is too large", dims)
		}
		shape[i] = int(d)
	}
	return shape, elems, nil
}

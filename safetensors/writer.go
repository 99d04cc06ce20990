package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Spec is one tensor of a file to write: its data follows the previous one's.
type Spec struct {
	Name  string
	DType string
	Shape []int
}

// Writer streams a safetensors file: NewWriter writes the header for the
// tensors in the order given, then the caller writes their bytes, in that
// order, through Write; Close checks that exactly the data section the header
// promises was written. It buffers nothing itself.
type Writer struct {
	w       io.Writer
	sizes   []int64
	total   int64
	written int64
}

// EncodeHeader returns the 8-byte length and the JSON header for specs, laid out
// back to back from offset 0, with metadata (may be nil) first — the layout
// and bytes of the Python safetensors library: compact JSON, padded with
// spaces so the data section starts on an 8-byte boundary. It also returns
// each tensor's byte size.
func EncodeHeader(metadata map[string]string, specs []Spec) ([]byte, []int64, error) {
	var h bytes.Buffer
	h.WriteByte('{')
	if metadata != nil {
		m, err := json.Marshal(metadata)
		if err != nil {
			return nil, nil, err
		}
		h.WriteString(`"__metadata__":`)
		h.Write(m)
	}
	sizes := make([]int64, len(specs))
	seen := map[string]bool{}
	var off int64
	for i, s := range specs {
		if s.Name == "__metadata__" || seen[s.Name] {
			return nil, nil, fmt.Errorf("tensor name %q is reserved or repeated", s.Name)
		}
		seen[s.Name] = true
		elems := int64(1)
		for _, d := range s.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: shape %v has a negative dimension", s.Name, s.Shape)
			}
			elems *= int64(d)
		}
		size, err := ByteSize(s.DType, elems)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", s.Name, err)
		}
		sizes[i] = size
		name, err := json.Marshal(s.Name)
		if err != nil {
			return nil, nil, err
		}
		if h.Len() > 1 {
			h.WriteByte(',')
		}
		h.Write(name)
		h.WriteString(`:{"dtype":"` + s.DType + `","shape":[`)
		for j, d := range s.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, off+size)
		off += size
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	out := binary.LittleEndian.AppendUint64(make([]byte, 0, 8+h.Len()), uint64(h.Len()))
	return append(out, h.Bytes()...), sizes, nil
}

// NewWriter writes the header for specs to w and returns a Writer for the
// data section.
func NewWriter(w io.Writer, metadata map[string]string, specs []Spec) (*Writer, error) {
	hdr, sizes, err := EncodeHeader(metadata, specs)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	sw := &Writer{w: w, sizes: sizes}
	for _, s := range sizes {
		sw.total += s
	}
	return sw, nil
}

// Sizes returns the byte size of each tensor, in the order of the specs.
func (w *Writer) Sizes() []int64 { return w.sizes }

// Write writes the next bytes of the data section; it refuses bytes past its
// end.
func (w *Writer) Write(p []byte) (int, error) {
	if int64(len(p)) > w.total-w.written {
		return 0, fmt.Errorf("safetensors: write of %d bytes past the %d-byte data section (%d written)", len(p), w.total, w.written)
	}
	n, err := w.w.Write(p)
	w.written += int64(n)
	return n, err
}

// Close reports an error unless the whole data section was written. It does
// not close the underlying writer.
func (w *Writer) Close() error {
	if w.written != w.total {
		return fmt.Errorf("safetensors: %d of the %d-byte data section written", w.written, w.total)
	}
	return nil
}

// WriteFile writes a whole file: one tensor per spec with its bytes in data.
func WriteFile(w io.Writer, metadata map[string]string, specs []Spec, data [][]byte) error {
	if len(data) != len(specs) {
		return fmt.Errorf("safetensors: %d tensors, %d data slices", len(specs), len(data))
	}
	sw, err := NewWriter(w, metadata, specs)
	if err != nil {
		return err
	}
	for i, b := range data {
		if int64(len(b)) != sw.sizes[i] {
			return fmt.Errorf("safetensors: tensor %q: %d bytes, %s %v needs %d", specs[i].Name, len(b), specs[i].DType, specs[i].Shape, sw.sizes[i])
		}
		if _, err := sw.Write(b); err != nil {
			return err
		}
	}
	return sw.Close()
}

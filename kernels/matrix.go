package kernels

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/retrofit-llm/retrofit/quant"
	"github.com/x448/float16"
)

// Type is the stored element type of a weight matrix.
type Type int

// The stored types (same order as model.DType).
const (
	F32 Type = iota
	F16
	BF16
	Q8_0
	Q4_0
	Q4_K
	Q6_K
)

var typeInfo = [...]struct {
	name         string
	block, bytes int // elements per block, bytes per block
}{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q8_0: {"Q8_0", quant.QK8_0, quant.BlockQ8_0},
	Q4_0: {"Q4_0", quant.QK4_0, quant.BlockQ4_0},
	Q4_K: {"Q4_K", quant.QK_K, quant.BlockQ4_K},
	Q6_K: {"Q6_K", quant.QK_K, quant.BlockQ6_K},
}

func (t Type) valid() bool { return t >= 0 && int(t) < len(typeInfo) }

func (t Type) String() string {
	if t.valid() {
		return typeInfo[t].name
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// BlockSize is the number of elements per storage block (1 for F32/F16/BF16).
func (t Type) BlockSize() int { return typeInfo[t].block }

// BlockBytes is the number of bytes per storage block.
func (t Type) BlockBytes() int { return typeInfo[t].bytes }

// Matrix is a rows×cols weight matrix (rows = outputs, cols = inputs) in its
// stored type. Row r occupies Data()[r·RowBytes() : (r+1)·RowBytes()].
// The bytes are used in place (typically memory-mapped) and never written.
type Matrix struct {
	typ        Type
	rows, cols int
	rowBytes   int
	data       []byte
}

// NewMatrix wraps data as a rows×cols matrix of type t. It checks that cols
// is a whole number of blocks and that data holds exactly rows·cols elements.
func NewMatrix(t Type, rows, cols int, data []byte) (*Matrix, error) {
	if !t.valid() {
		return nil, fmt.Errorf("kernels: unknown type %v", t)
	}
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("kernels: %v matrix %d×%d: dimensions must be positive", t, rows, cols)
	}
	qk, bb := t.BlockSize(), t.BlockBytes()
	if cols%qk != 0 {
		return nil, fmt.Errorf("kernels: %v matrix %d×%d: %d columns is not a multiple of the block size %d", t, rows, cols, cols, qk)
	}
	rowBytes := cols / qk * bb
	if rowBytes > math.MaxInt/rows {
		return nil, fmt.Errorf("kernels: %v matrix %d×%d is too large", t, rows, cols)
	}
	if want := rows * rowBytes; len(data) != want {
		return nil, fmt.Errorf("kernels: %v matrix %d×%d needs %d bytes, got %d", t, rows, cols, want, len(data))
	}
	return &Matrix{typ: t, rows: rows, cols: cols, rowBytes: rowBytes, data: data}, nil
}

// Type is the stored type.
func (m *Matrix) Type() Type { return m.typ }

// Rows is the number of rows (outputs).
func (m *Matrix) Rows() int { return m.rows }

// Cols is the number of columns (inputs).
func (m *Matrix) Cols() int { return m.cols }

// RowBytes is the number of stored bytes per row.
func (m *Matrix) RowBytes() int { return m.rowBytes }

// Data is the stored bytes (not a copy).
func (m *Matrix) Data() []byte { return m.data }

func (m *Matrix) row(r int) []byte { return m.data[r*m.rowBytes : (r+1)*m.rowBytes] }

// DecodeRow widens row r to fp32 into dst[:Cols()] (an embedding lookup).
func (m *Matrix) DecodeRow(dst []float32, r int) {
	if r < 0 || r >= m.rows {
		panic(fmt.Sprintf("kernels: DecodeRow %d of %d rows", r, m.rows))
	}
	decodeRow(m.typ, dst[:m.cols], m.row(r))
}

// decodeRow widens one stored row to fp32 (len(dst) elements).
func decodeRow(t Type, dst []float32, raw []byte) {
	var err error
	switch t {
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
	case Q8_0:
		err = quant.DequantizeQ8_0(dst, raw)
	case Q4_0:
		err = quant.DequantizeQ4_0(dst, raw)
	case Q4_K:
		err = quant.DequantizeQ4_K(dst, raw)
	case Q6_K:
		err = quant.DequantizeQ6_K(dst, raw)
	}
	if err != nil {
		panic("kernels: " + err.Error()) // sizes were validated by NewMatrix
	}
}

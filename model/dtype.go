package model

import "fmt"

// DType is the element type of a stored tensor.
type DType int

// The dtypes retrofit reads. Quantized types hold blocks as GGUF lays them out.
const (
	F32 DType = iota
	F16
	BF16
	Q8_0
	Q4_0
	Q4_K
	Q6_K
)

var dtypeNames = [...]string{"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"}

func (d DType) String() string {
	if d >= 0 && int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// ParseDType returns the dtype named s (case-insensitive: "f32", "bf16", "q8_0", ...).
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if equalFold(n, s) {
			return DType(i), nil
		}
	}
	return 0, fmt.Errorf("unknown dtype %q (known: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// BlockSize is the number of elements in one storage block (1 for plain types).
func (d DType) BlockSize() int {
	switch d {
	case Q8_0, Q4_0:
		return 32
	case Q4_K, Q6_K:
		return 256
	}
	return 1
}

// BlockBytes is the number of bytes of one storage block.
func (d DType) BlockBytes() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	case Q8_0:
		return 34
	case Q4_0:
		return 18
	case Q4_K:
		return 144
	case Q6_K:
		return 210
	}
	return 0
}

// Quantized reports whether d is a block-quantized type.
func (d DType) Quantized() bool { return d.BlockSize() > 1 }

// ByteSize returns the storage size of n elements of d, or an error if n is not a
// whole number of blocks.
func (d DType) ByteSize(n int64) (int64, error) {
	bs := int64(d.BlockSize())
	if d.BlockBytes() == 0 {
		return 0, fmt.Errorf("unknown dtype %v", d)
	}
	if n%bs != 0 {
		return 0, fmt.Errorf("%d elements is not a multiple of the %v block size %d", n, d, bs)
	}
	return n / bs * int64(d.BlockBytes()), nil
}

// Package quant implements ggml's block-quantized tensor formats: decoding
// Q8_0, Q4_0, Q4_K and Q6_K to float32, and encoding float32 to Q8_0 exactly
// as llama.cpp's reference quantizer does (and so as convert_hf_to_gguf.py
// writes it). Importing the package registers the formats with model.Decode
// and model.Encode.
package quant

import (
	"encoding/binary"
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/x448/float16"
)

func init() {
	model.RegisterQuant(model.Q8_0, DequantizeQ8_0, QuantizeQ8_0)
	model.RegisterQuant(model.Q4_0, DequantizeQ4_0, nil)
	model.RegisterQuant(model.Q4_K, DequantizeQ4_K, nil)
	model.RegisterQuant(model.Q6_K, DequantizeQ6_K, nil)
}

// Block sizes (elements) and encoded block bytes.
const (
	QK8_0      = 32
	QK4_0      = 32
	QK_K       = 256
	BlockQ8_0  = 34  // fp16 d, 32 × int8
	BlockQ4_0  = 18  // fp16 d, 16 bytes of nibbles
	BlockQ4_K  = 144 // fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
	BlockQ6_K  = 210 // 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, fp16 d
	kScaleSize = 12
)

func half(b []byte) float32 { return float16.Frombits(binary.LittleEndian.Uint16(b)).Float32() }

// check verifies that raw holds exactly len(dst) elements of blocks.
func check(name string, dst []float32, raw []byte, qk, bytes int) error {
	if len(dst)%qk != 0 {
		return fmt.Errorf("%s: %d elements is not a multiple of the block size %d", name, len(dst), qk)
	}
	if want := len(dst) / qk * bytes; want != len(raw) {
		return fmt.Errorf("%s: %d elements need %d bytes, got %d", name, len(dst), want, len(raw))
	}
	return nil
}

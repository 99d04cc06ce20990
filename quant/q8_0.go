package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"
)

// DequantizeQ8_0 decodes Q8_0 blocks: y = d · q.
func DequantizeQ8_0(dst []float32, raw []byte) error {
	if err := check("Q8_0", dst, raw, QK8_0, BlockQ8_0); err != nil {
		return err
	}
	for b := 0; b < len(dst)/QK8_0; b++ {
		blk := raw[b*BlockQ8_0 : (b+1)*BlockQ8_0]
		d := half(blk)
		y := dst[b*QK8_0 : (b+1)*QK8_0]
		for j := range y {
			y[j] = float32(int8(blk[2+j])) * d
		}
	}
	return nil
}

// QuantizeQ8_0 encodes src (a multiple of 32 values) as Q8_0 the way ggml's
// quantize_row_q8_0_ref and gguf-py do, in float32: d = max|x| / 127, stored as
// fp16 (round to nearest even); q = round(x · (1/d)), halves away from zero.
func QuantizeQ8_0(src []float32) ([]byte, error) {
	if len(src)%QK8_0 != 0 {
		return nil, fmt.Errorf("Q8_0: %d values is not a multiple of the block size %d", len(src), QK8_0)
	}
	out := make([]byte, len(src)/QK8_0*BlockQ8_0)
	QuantizeQ8_0Into(out, src)
	return out, nil
}

// QuantizeQ8_0Into is QuantizeQ8_0 writing into out (len(src)/32·34 bytes).
func QuantizeQ8_0Into(out []byte, src []float32) {
	for b := 0; b < len(src)/QK8_0; b++ {
		x := src[b*QK8_0 : (b+1)*QK8_0]
		blk := out[b*BlockQ8_0 : (b+1)*BlockQ8_0]
		var amax float32
		for _, v := range x {
			amax = max(amax, math.Float32frombits(math.Float32bits(v)&^(1<<31)))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(blk, float16.Fromfloat32(d).Bits())
		for j, v := range x {
			// roundf: |p| ≤ 127 plus rounding, so p ± 0.5 is exact in
			// float64 and truncation rounds halves away from zero.
			p := float64(float32(v * id))
			blk[2+j] = byte(int8(int32(p + math.Copysign(0.5, p))))
		}
	}
}

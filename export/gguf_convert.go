package export

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/quant"
	"github.com/x448/float16"
)

// chunkElems is how many elements are converted at a time: a multiple of
// every block size, so chunks start and end on block boundaries.
const chunkElems = 1 << 20

// converter streams a tensor into another dtype chunk by chunk, reusing its
// buffers, and drops the source's mapped pages as it goes so resident memory
// stays near a chunk rather than the file.
type converter struct {
	f32 []float32
	buf []byte
}

func newConverter() *converter {
	return &converter{f32: make([]float32, chunkElems), buf: make([]byte, 4*chunkElems)}
}

// write converts t to dt and writes it, returning the bytes written.
func (c *converter) write(w io.Writer, t *model.Tensor, dt model.DType) (int64, error) {
	raw, err := t.Bytes()
	if err != nil {
		return 0, err
	}
	defer t.Release()
	n := t.Elements()
	var written int64
	for start := int64(0); start < n; start += chunkElems {
		end := min(start+chunkElems, n)
		srcOff, _ := t.DType.ByteSize(start)
		srcEnd, _ := t.DType.ByteSize(end)
		src := raw[srcOff:srcEnd]
		out := src
		if dt != t.DType {
			vals := c.f32[:end-start]
			if err := model.Decode(vals, src, t.DType); err != nil {
				return written, err
			}
			if out, err = c.encode(vals, dt); err != nil {
				return written, err
			}
		}
		k, err := w.Write(out)
		written += int64(k)
		if err != nil {
			return written, err
		}
		t.ReleaseRange(srcOff, srcEnd-srcOff)
	}
	return written, nil
}

// encode writes vals in dt into the reused buffer. BF16 rounds to nearest even
// (as gguf-py does), F16 likewise (numpy's astype), Q8_0 as llama.cpp.
func (c *converter) encode(vals []float32, dt model.DType) ([]byte, error) {
	switch dt {
	case model.F32:
		out := c.buf[:4*len(vals)]
		for i, v := range vals {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case model.F16:
		out := c.buf[:2*len(vals)]
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], float16.Fromfloat32(v).Bits())
		}
		return out, nil
	case model.BF16:
		out := c.buf[:2*len(vals)]
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], model.BF16Bits(v))
		}
		return out, nil
	case model.Q8_0:
		out := c.buf[:len(vals)/quant.QK8_0*quant.BlockQ8_0]
		quant.QuantizeQ8_0Into(out, vals)
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode %v", dt)
}

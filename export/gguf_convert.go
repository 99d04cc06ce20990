package export

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"

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
	ctx context.Context // nil: never interrupted
}

func newConverter(ctx context.Context) *converter {
	return &converter{f32: make([]float32, chunkElems), buf: make([]byte, 4*chunkElems), ctx: ctx}
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
		if err := interrupted(c.ctx); err != nil {
			return written, err
		}
		end := min(start+chunkElems, n)
		srcOff, _ := t.DType.ByteSize(start)
		srcEnd, _ := t.DType.ByteSize(end)
		src := raw[srcOff:srcEnd]
		out := src
		if dt != t.DType {
			if out, err = c.convert(src, t.DType, end-start, dt); err != nil {
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

// convert decodes n elements of src (in dtype from) and encodes them in dt
// into the reused buffer, splitting the work across the CPUs on block
// boundaries.
func (c *converter) convert(src []byte, from model.DType, n int64, dt model.DType) ([]byte, error) {
	total, err := dt.ByteSize(n)
	if err != nil {
		return nil, err
	}
	parts := int64(runtime.GOMAXPROCS(0))
	step := (n/parts + partAlign - 1) / partAlign * partAlign
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := int64(0); p < parts; p++ {
		a, b := min(p*step, n), min((p+1)*step, n)
		if a == b {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sa, _ := from.ByteSize(a)
			sb, _ := from.ByteSize(b)
			oa, _ := dt.ByteSize(a)
			ob, _ := dt.ByteSize(b)
			vals := c.f32[a:b]
			if err := model.Decode(vals, src[sa:sb], from); err != nil {
				errs[p] = err
				return
			}
			errs[p] = encodeInto(c.buf[oa:ob], vals, dt)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c.buf[:total], nil
}

// partAlign keeps the parts of a chunk on block boundaries of every dtype.
const partAlign = 256

// encodeInto writes vals in dt into out. BF16 rounds to nearest even (as
// gguf-py does), F16 likewise (numpy's astype), Q8_0 as llama.cpp.
func encodeInto(out []byte, vals []float32, dt model.DType) error {
	switch dt {
	case model.F32:
		for i, v := range vals {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case model.F16:
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], float16.Fromfloat32(v).Bits())
		}
	case model.BF16:
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], model.BF16Bits(v))
		}
	case model.Q8_0:
		quant.QuantizeQ8_0Into(out, vals)
	default:
		return fmt.Errorf("cannot encode %v", dt)
	}
	return nil
}

package safetensors_test

import (
	"testing"

	"github.com/retrofit-llm/retrofit/safetensors"
)

// FuzzParseHeader checks that ParseHeader never panics and that whatever it
// accepts lies inside the file, without overlaps, with consistent sizes.
func FuzzParseHeader(f *testing.F) {
	f.Add(stFile(`{}`, nil))
	f.Add(stFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   `, make([]byte, 8)))
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}`, make([]byte, 10)))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(stFile(`{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}`, make([]byte, 2)))
	f.Add(stFile(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0})
	f.Add(stFile(`{"model.norm.weight":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},"lm_head.weight":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]}}`, make([]byte, 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := safetensors.ParseHeader(data)
		if err != nil {
			return
		}
		end := h.DataStart
		for _, ti := range h.Tensors {
			if ti.Offset < end || ti.Offset+ti.Size > int64(len(data)) {
				t.Fatalf("tensor %q at [%d, %d) overlaps or leaves the %d-byte file", ti.Name, ti.Offset, ti.Offset+ti.Size, len(data))
			}
			want, err := safetensors.ByteSize(ti.DType, ti.Elements())
			if err != nil || want != ti.Size {
				t.Fatalf("tensor %q: size %d for %v %v", ti.Name, ti.Size, ti.DType, ti.Shape)
			}
			end = ti.Offset + ti.Size
		}
	})
}

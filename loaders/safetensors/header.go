package safetensors

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// dtypes maps the safetensors dtypes retrofit reads weights in to its own.
var dtypes = map[string]model.DType{"F32": model.F32, "F16": model.F16, "BF16": model.BF16}

// parseHeader parses and checks the whole file data (the container's checks:
// bounds, sizes, overlaps) and requires every tensor to be in a dtype
// retrofit reads. Errors name the field at fault but not the file.
func parseHeader(data []byte) (*safetensors.Header, []model.DType, error) {
	h, err := safetensors.ParseHeader(data)
	if err != nil {
		return nil, nil, err
	}
	dts := make([]model.DType, len(h.Tensors))
	for i, ti := range h.Tensors {
		dt, ok := dtypes[ti.DType]
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: dtype %s is not supported (retrofit reads F32, F16, BF16)", ti.Name, ti.DType)
		}
		dts[i] = dt
	}
	return h, dts, nil
}

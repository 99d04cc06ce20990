package transforms

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
)

// Mean returns a Build function for the element-wise mean of ts.
func Mean(ts []*model.Tensor) func() ([]float32, error) {
	return func() ([]float32, error) {
		var acc []float64
		for _, t := range ts {
			v, err := t.Float32()
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = make([]float64, len(v))
			} else if len(v) != len(acc) {
				return nil, fmt.Errorf("tensor %q has %d elements, %q has %d", t.Name, len(v), ts[0].Name, len(acc))
			}
			for i, x := range v {
				acc[i] += float64(x)
			}
		}
		out := make([]float32, len(acc))
		n := float64(len(ts))
		for i, x := range acc {
			out[i] = float32(x / n)
		}
		return out, nil
	}
}

// RunningMean returns a Build function for the running pairwise average of
// ts in order: acc = ts[0], then acc = (acc + ts[i]) / 2, so later tensors
// weigh more (the official MLKV conversion's rule).
func RunningMean(ts []*model.Tensor) func() ([]float32, error) {
	return func() ([]float32, error) {
		var acc []float32
		for _, t := range ts {
			v, err := t.Float32()
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = v
				continue
			}
			if len(v) != len(acc) {
				return nil, fmt.Errorf("tensor %q has %d elements, %q has %d", t.Name, len(v), ts[0].Name, len(acc))
			}
			for i, x := range v {
				acc[i] = (acc[i] + x) / 2
			}
		}
		return acc, nil
	}
}

// PoolHeads averages consecutive groups of heads: v holds heads·rowsPerHead
// rows of cols values (a K/V projection [heads·headDim, hidden] has
// rowsPerHead = headDim); the result has to heads, head m the mean of heads
// m·r … m·r+r−1 with r = heads/to.
func PoolHeads(v []float32, heads, to, rowsPerHead, cols int) []float32 {
	r := heads / to
	per := rowsPerHead * cols
	out := make([]float32, to*per)
	for m := 0; m < to; m++ {
		dst := out[m*per : (m+1)*per]
		for h := m * r; h < (m+1)*r; h++ {
			src := v[h*per : (h+1)*per]
			for i, x := range src {
				dst[i] += x
			}
		}
		inv := 1 / float32(r)
		for i := range dst {
			dst[i] *= inv
		}
	}
	return out
}

package finetune

import (
	"github.com/retrofit-llm/retrofit/sgemm"
)

// linear computes y = x·Wᵀ (+ b) for rows×in x and out×in W.
func linear(y, x []float32, w, b *Param, rows int) {
	out, in := w.Shape[0], w.Shape[1]
	sgemm.Gemm(false, true, rows, out, in, 1, x, in, w.W, in, 0, y, out)
	if b != nil {
		for r := 0; r < rows; r++ {
			row := y[r*out : (r+1)*out]
			for j, v := range b.W {
				row[j] += v
			}
		}
	}
}

// linearBack adds dy·W to dx (beta selects assign 0 or add 1) and, when the
// weights train, dyᵀ·x to dW and the column sums of dy to db.
func linearBack(dx []float32, beta float32, dy, x []float32, w, b *Param, rows int) {
	out, in := w.Shape[0], w.Shape[1]
	if dx != nil {
		sgemm.Gemm(false, false, rows, in, out, 1, dy, out, w.W, in, beta, dx, in)
	}
	if w.Train {
		sgemm.Gemm(true, false, out, in, rows, 1, dy, out, x, in, 1, w.G, in)
	}
	if b != nil && b.Train {
		for r := 0; r < rows; r++ {
			sgemm.Axpy(1, dy[r*out:(r+1)*out], b.G)
		}
	}
}

func grow[E any](s []E, n int) []E {
	if cap(s) < n {
		return make([]E, n)
	}
	return s[:n]
}

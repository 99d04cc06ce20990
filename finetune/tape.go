package finetune

import (
	"runtime"
	"sync"

	"github.com/retrofit-llm/retrofit/internal/numerics"
)

// layerTape keeps one logical layer's activations for backward.
type layerTape struct {
	xin, xn1      []float32 // layer input (residual) and its attention-normed copy [N×h]
	inv1, inv2    []float32 // RMSNorm reciprocals [N]
	qpre, q       []float32 // q after bias (before q_norm) and after q_norm+RoPE [N×qd]
	qinv          []float32 // q_norm reciprocals [N×H]
	kpre, kinv    []float32 // k after bias, k_norm reciprocals (layers storing K/V)
	vraw          []float32 // own v_proj output [N×kvd] (Depth-Attention layers)
	alpha         []float32 // Depth-Attention weights [N×G×(|C|+1)]
	p             []float32 // attention probabilities [B×H×T×T]
	att           []float32 // attention output [N×qd]
	xmid, xn2     []float32 // residual after attention and its MLP-normed copy
	gate, up, act []float32 // [N×im]
}

// Tape holds a training forward's activations and backward's scratch; it is
// reused across steps with the same batch shape.
type Tape struct {
	B, T             int
	layers           []layerTape
	k, v             [][]float32 // stored K (after norm+RoPE) and V' per layer storing K/V [N×kvd]
	dk, dv           [][]float32
	cos              []float32
	sin              []float32
	xf, xnf, invf    []float32
	logits           []float32 // [N×V]; backward overwrites it with dlogits
	x, dx            []float32 // residual stream gradient and scratch [N×h]
	dxn              []float32
	dq               []float32
	dkp              []float32 // k gradient scratch [N×kvd]
	dgate, dup, dact []float32
	datt             []float32
	workers          [][]float32 // per-worker T×T scratch
	small            []float32
	rowCE, rowKD     []float64
	rowH             []float64
	hgrad            [][]float32 // per layer: loss gradient w.r.t. its output (layer-wise distillation), nil if none
	lossScratch      [][]float64
}

func (t *Tape) ensure(n *Net, B, T int) {
	if t.B == B && t.T == T && t.layers != nil {
		return
	}
	c := n.Cfg
	N := B * T
	h, qd, kvd, im := c.Hidden, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.Intermediate
	*t = Tape{B: B, T: T}
	mk := func(k int) []float32 { return make([]float32, k) }
	t.layers = make([]layerTape, c.Layers)
	t.k, t.v = make([][]float32, c.Layers), make([][]float32, c.Layers)
	t.dk, t.dv = make([][]float32, c.Layers), make([][]float32, c.Layers)
	for l := range t.layers {
		lt := &t.layers[l]
		lt.xin, lt.xn1, lt.xmid, lt.xn2 = mk(N*h), mk(N*h), mk(N*h), mk(N*h)
		lt.inv1, lt.inv2 = mk(N), mk(N)
		lt.qpre, lt.q, lt.qinv = mk(N*qd), mk(N*qd), mk(N*c.Heads)
		if n.Layout.StoresKV(l) {
			lt.kpre, lt.kinv = mk(N*kvd), mk(N*c.KVHeads)
			t.k[l], t.v[l], t.dk[l], t.dv[l] = mk(N*kvd), mk(N*kvd), mk(N*kvd), mk(N*kvd)
		}
		if nc := len(n.cands[l]); nc > 0 {
			lt.vraw = mk(N * kvd)
			lt.alpha = mk(N * c.KVHeads * (nc + 1))
		}
		lt.p = mk(B * c.Heads * T * T)
		lt.att = mk(N * qd)
		lt.gate, lt.up, lt.act = mk(N*im), mk(N*im), mk(N*im)
	}
	half := c.HeadDim / 2
	t.cos, t.sin = mk(T*half), mk(T*half)
	numerics.RopeTable(t.cos, t.sin, 0, T, c.HeadDim, c.RopeTheta)
	t.xf, t.xnf, t.invf = mk(N*h), mk(N*h), mk(N)
	t.logits = mk(N * c.VocabSize)
	t.x, t.dx, t.dxn = mk(N*h), mk(N*h), mk(N*h)
	t.dq, t.dkp, t.datt = mk(N*qd), mk(N*kvd), mk(N*qd)
	t.dgate, t.dup, t.dact = mk(N*im), mk(N*im), mk(N*im)
	t.small = mk(3*c.HeadDim + c.Layers + 1)
	w := runtime.GOMAXPROCS(0)
	t.workers = make([][]float32, w)
	for i := range t.workers {
		t.workers[i] = mk(T * T)
	}
}

// parallel runs f(task, worker) for tasks 0..n-1: worker w takes tasks
// w, w+W, … so the assignment is fixed (each task writes its own outputs).
func parallel(n, workers int, f func(task, worker int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i, 0)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i, w)
			}
		}(w)
	}
	wg.Wait()
}

// rowChunks is the fixed number of row ranges rowsParallel splits into.
const rowChunks = 16

// rowsParallel runs f on rows 0..n-1 split into fixed contiguous chunks
// over the workers; f must only write row-private outputs.
func rowsParallel(n int, f func(row int)) {
	chunks := min(rowChunks, n)
	parallel(chunks, runtime.GOMAXPROCS(0), func(c, _ int) {
		for i := c * n / chunks; i < (c+1)*n/chunks; i++ {
			f(i)
		}
	})
}

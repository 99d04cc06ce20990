package align

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/sgemm"
	"github.com/retrofit-llm/retrofit/transforms"
)

// outStats holds, for one layer, the normal equations of the o_proj refit:
// with Y' the converted layer's attention output (before o_proj) and Y the
// original's, G = Y'ᵀY', C = Y'ᵀY and H = YᵀY (each qd×qd).
type outStats struct {
	qd, hidden int
	g, c, h    []float64
	dt         []float64 // Y'ᵀ·Δ [qd × hidden], Δ = x_orig − x_conv entering the layer
	buf        []float32
}

func newOutStats(qd, hidden int) *outStats {
	return &outStats{qd: qd, hidden: hidden, g: make([]float64, qd*qd), c: make([]float64, qd*qd), h: make([]float64, qd*qd),
		dt: make([]float64, qd*hidden), buf: make([]float32, qd*max(qd, hidden))}
}

// addDrift accumulates Y'ᵀ·Δ.
func (o *outStats) addDrift(y2, delta []float32) {
	q, hd, t := o.qd, o.hidden, len(y2)/o.qd
	sgemm.Gemm(true, false, q, hd, t, 1, y2, q, delta, hd, 0, o.buf, hd)
	for i, x := range o.buf[:q*hd] {
		o.dt[i] += float64(x)
	}
}

func (o *outStats) add(y2, y []float32) {
	q, t := o.qd, len(y)/o.qd
	for _, p := range []struct {
		a, b []float32
		dst  []float64
	}{{y2, y2, o.g}, {y2, y, o.c}, {y, y, o.h}} {
		sgemm.Gemm(true, false, q, q, t, 1, p.a, q, p.b, q, 0, o.buf, q)
		for i, x := range o.buf[:q*q] {
			p.dst[i] += float64(x)
		}
	}
}

// residual is ‖Y'·Wᵀ − Y·W0ᵀ‖² = tr(W·G·Wᵀ) − 2·tr(W·C·W0ᵀ) + tr(W0·H·W0ᵀ)
// for W, W0 [rows × qd].
func (o *outStats) residual(w, w0 []float64, rows int) (res, total float64) {
	q := o.qd
	wg, wc, w0h := make([]float64, q), make([]float64, q), make([]float64, q)
	for r := 0; r < rows; r++ {
		a, b := w[r*q:(r+1)*q], w0[r*q:(r+1)*q]
		for j := 0; j < q; j++ {
			var sg, sc, sh float64
			for i := 0; i < q; i++ {
				sg += a[i] * o.g[i*q+j]
				sc += a[i] * o.c[i*q+j]
				sh += b[i] * o.h[i*q+j]
			}
			wg[j], wc[j], w0h[j] = sg, sc, sh
		}
		for j := 0; j < q; j++ {
			res += wg[j]*a[j] - 2*wc[j]*b[j] + w0h[j]*b[j]
			total += w0h[j] * b[j]
		}
	}
	return max(res, 0), total
}

// objective is ‖Y'·Wᵀ − (Y·W0ᵀ + Δ)‖² up to a constant that does not
// depend on W: tr(W·G·Wᵀ) − 2·tr(W·C·W0ᵀ) − 2·tr(W·Y'ᵀΔ).
func (o *outStats) objective(w, w0 []float64, rows int) float64 {
	q := o.qd
	var obj float64
	for r := 0; r < rows; r++ {
		a, b := w[r*q:(r+1)*q], w0[r*q:(r+1)*q]
		for j := 0; j < q; j++ {
			var sg, sc float64
			for i := 0; i < q; i++ {
				sg += a[i] * o.g[i*q+j]
				sc += a[i] * o.c[i*q+j]
			}
			obj += sg*a[j] - 2*sc*b[j] - 2*a[j]*o.dt[j*rows+r]
		}
	}
	return obj
}

// merge adds p's sums into o.
func (o *outStats) merge(p *outStats) {
	for _, x := range [][2][]float64{{o.g, p.g}, {o.c, p.c}, {o.h, p.h}, {o.dt, p.dt}} {
		for i := range x[0] {
			x[0][i] += x[1][i]
		}
	}
}

// solve returns W minimising ‖Y'·Wᵀ − Y·W0ᵀ‖² + λ‖W − Wf‖² with
// λ = ridge · tr(G)/qd: (G + λI)·Wᵀ = C·W0ᵀ + λ·Wfᵀ.
func (o *outStats) solve(w0, wf []float64, rows int, ridge float64) ([]float64, error) {
	q := o.qd
	a := append([]float64(nil), o.g...)
	var tr float64
	for i := 0; i < q; i++ {
		tr += a[i*q+i]
	}
	lambda := ridge*tr/float64(q) + 1e-30
	for i := 0; i < q; i++ {
		a[i*q+i] += lambda
	}
	rhs := make([]float64, q*rows) // [qd × rows]
	for i := 0; i < q; i++ {
		for r := 0; r < rows; r++ {
			var s float64
			for j := 0; j < q; j++ {
				s += o.c[i*q+j] * w0[r*q+j]
			}
			rhs[i*rows+r] = s + lambda*wf[r*q+i] + o.dt[i*rows+r]
		}
	}
	if err := cholSolve(a, rhs, q, rows); err != nil {
		return nil, err
	}
	w := make([]float64, rows*q)
	for i := 0; i < q; i++ {
		for r := 0; r < rows; r++ {
			w[r*q+i] = rhs[i*rows+r]
		}
	}
	return w, nil
}

// OutFit reports the o_proj refit of one layer: the fraction of the
// original attention contribution (Y·W_oᵀ) explained with the V-map fold
// alone and after the least-squares refit.
type OutFit struct {
	Layer           int
	VFold, Refitted float64
	// Ridge is the one chosen on held-out calibration samples (0: the
	// refit did not beat the V-map fold there and was not applied).
	Ridge float64
}

// ridges are the refit's candidate ridges, relative to the mean energy of
// the attention output; one calibration sample in holdEvery is held out to
// choose among them and the V-map fold.
var ridges = []float64{1e-3, 1e-2, 1e-1, 1}

const holdEvery = 4

// refitLayer refits layer l's o_proj by least squares so that its attention
// contribution in the converted model (with every fold so far) matches the
// original's plus the drift of the residual stream entering it, on the
// calibration tokens; a ridge chosen on held-out samples pulls toward the
// current weight (the V-map fold where there is one). It returns the
// samples' attention outputs and layer inputs in both models for the MLP
// refit that follows.
func refitLayer(orig []origRun, m *model.Model, e *transforms.Edit, l int, drift bool, env transforms.Env) (OutFit, []pair, error) {
	c := m.Config
	qd := c.Heads * c.HeadDim
	name := model.BlockName(l, "self_attn.o_proj.weight")
	cm, err := e.Result(m)
	if err != nil {
		return OutFit{}, nil, err
	}
	conv, err := engine.New(cm)
	if err != nil {
		return OutFit{}, nil, err
	}
	st, held := newOutStats(qd, c.Hidden), newOutStats(qd, c.Hidden)
	var keep []pair
	for i, ids := range env.Calib {
		if err := env.Ctx().Err(); err != nil {
			return OutFit{}, nil, fmt.Errorf("align: cancelled at layer %d sample %d: %w", l, i, err)
		}
		y, x := orig[i].y[l], orig[i].x[l]
		y2, x2, err := attnOutput(conv, ids, l)
		if err != nil {
			return OutFit{}, nil, err
		}
		keep = append(keep, pair{y, x, y2, x2})
		into := st
		if i%holdEvery == holdEvery-1 {
			into = held
		}
		into.add(y2, y)
		if drift {
			delta := make([]float32, len(x))
			for i := range x {
				delta[i] = x[i] - x2[i]
			}
			into.addDrift(y2, delta)
		}
	}
	out, err := refitTensor(m, cm, e, name, l, st, held)
	if err != nil {
		return out, nil, err
	}
	env.Logf("align: layer %d o_proj refit (ridge %g): attention output explained %.3f → %.3f", l, out.Ridge, out.VFold, out.Refitted)
	return out, keep, nil
}

// pair is one calibration sample's attention output (before o_proj) and
// layer input in the original (y, x) and converted (y2, x2) models.
type pair struct{ y, x, y2, x2 []float32 }

// refitTensor solves the refit of weight name (original in m, current in
// cm) from the statistics st and held (held-out samples), picking the
// ridge on held; with no ridge beating the current weight there it keeps
// it. It puts the result into e.Set.
func refitTensor(m, cm *model.Model, e *transforms.Edit, name string, l int, st, held *outStats) (OutFit, error) {
	rows := st.hidden
	w0, err := read64(m, name)
	if err != nil {
		return OutFit{}, err
	}
	wf, err := read64(cm, name)
	if err != nil {
		return OutFit{}, err
	}
	best, bestObj := 0.0, held.objective(wf, w0, rows)
	for _, r := range ridges {
		w, err := st.solve(w0, wf, rows, r)
		if err != nil {
			return OutFit{}, fmt.Errorf("align: refit of %s: %w", name, err)
		}
		if obj := held.objective(w, w0, rows); obj < bestObj {
			best, bestObj = r, obj
		}
	}
	st.merge(held)
	w := wf
	if best > 0 {
		if w, err = st.solve(w0, wf, rows, best); err != nil {
			return OutFit{}, fmt.Errorf("align: refit of %s: %w", name, err)
		}
	}
	rf, tot := st.residual(wf, w0, rows)
	rw, _ := st.residual(w, w0, rows)
	out := OutFit{Layer: l, VFold: explained(rf, tot), Refitted: explained(rw, tot), Ridge: best}
	w32 := make([]float32, len(w))
	for i, x := range w {
		w32[i] = float32(x)
	}
	nt := transforms.NewTensor{Name: name, Shape: []int{rows, st.qd}, Build: func() ([]float32, error) {
		return append([]float32(nil), w32...), nil
	}}
	for i := range e.Set {
		if e.Set[i].Name == name {
			e.Set[i] = nt
			return out, nil
		}
	}
	if best > 0 {
		e.Set = append(e.Set, nt)
	}
	return out, nil
}

// attnOutput runs ids through e and returns layer l's attention output
// before o_proj, [tokens × Heads·HeadDim], and the residual stream entering
// the layer, [tokens × Hidden].
func attnOutput(e *engine.Engine, ids []int, l int) (y, x []float32, err error) {
	opts := &engine.ForwardOptions{LastOnly: true,
		AttnOutput: func(layer int, a []float32) {
			if layer == l {
				y = append(y, a...)
			}
		},
		LayerInput: func(layer int, a []float32) {
			if layer == l {
				x = append(x, a...)
			}
		}}
	_, err = e.Forward(ids, e.NewCache(len(ids)), opts)
	return y, x, err
}

func read64(m *model.Model, name string) ([]float64, error) {
	v, err := read(m, name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, nil
}

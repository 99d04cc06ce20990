package align

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/sgemm"
	"github.com/retrofit-llm/retrofit/transforms"
)

// The K map is refitted on attention scores, layer by layer in order: the
// folded map multiplies each rotary pair's share of the score q·k (Qwen3:
// a real scale s_j per pair shared by the heads, so the score becomes
// Σ_j s_j·A_j with A_j = q_x·k_x + q_y·k_y; Qwen2: a complex scale per pair
// and query head, Σ_j a_j·A_j + b_j·B_j with B_j = q_y·k_x − q_x·k_y). The
// features are those of the converted model's query (every earlier fold in
// place, the layer's own q weights unfolded) against its source's keys; the
// target is the original layer's score q·k_own. Least squares weighted by
// the original attention probabilities p_ts and centred per query (softmax
// ignores a shift), i.e. Σ_t Σ_s p_ts (δ_ts − Σ_s' p_ts' δ_ts')² with δ the
// score error: the first-order change of the attention pattern.

// scoreStats holds the normal equations of one score fit: FᵀF (nf×nf),
// Fᵀy and yᵀy over the weighted, centred rows.
type scoreStats struct {
	nf     int
	g, r   []float64
	yy     float64
	rows   int
	f, y   []float32 // row buffer
	gb, rb []float32
}

const scoreRows = 1024

func newScoreStats(nf int) *scoreStats {
	return &scoreStats{nf: nf, g: make([]float64, nf*nf), r: make([]float64, nf),
		f: make([]float32, scoreRows*nf), y: make([]float32, scoreRows), gb: make([]float32, nf*nf), rb: make([]float32, nf)}
}

// row appends one weighted, centred row; flush folds the buffer in.
func (s *scoreStats) row(f []float32, y float32) {
	copy(s.f[s.rows*s.nf:], f)
	s.y[s.rows] = y
	s.rows++
	if s.rows == scoreRows {
		s.flush()
	}
}

func (s *scoreStats) flush() {
	n, nf := s.rows, s.nf
	if n == 0 {
		return
	}
	sgemm.GemmThreads(1, true, false, nf, nf, n, 1, s.f, nf, s.f, nf, 0, s.gb, nf)
	sgemm.GemmThreads(1, true, false, nf, 1, n, 1, s.f, nf, s.y, 1, 0, s.rb, 1)
	for i, x := range s.gb {
		s.g[i] += float64(x)
	}
	for i, x := range s.rb {
		s.r[i] += float64(x)
	}
	for _, x := range s.y[:n] {
		s.yy += float64(x) * float64(x)
	}
	s.rows = 0
}

// residual is ‖F·c − y‖² = cᵀGc − 2cᵀr + yᵀy.
func (s *scoreStats) residual(c []float64) float64 {
	nf := s.nf
	res := s.yy
	for i := 0; i < nf; i++ {
		var gc float64
		for j := 0; j < nf; j++ {
			gc += s.g[i*nf+j] * c[j]
		}
		res += c[i]*gc - 2*c[i]*s.r[i]
	}
	return max(res, 0)
}

// solve returns c minimising ‖F·c − y‖² + λ‖c − c0‖², λ = ridge·tr(G)/nf.
func (s *scoreStats) solve(c0 []float64, ridge float64) ([]float64, error) {
	nf := s.nf
	a := append([]float64(nil), s.g...)
	var tr float64
	for i := 0; i < nf; i++ {
		tr += a[i*nf+i]
	}
	lambda := ridge*tr/float64(nf) + 1e-12*tr/float64(nf) + 1e-30
	b := make([]float64, nf)
	for i := 0; i < nf; i++ {
		a[i*nf+i] += lambda
		b[i] = s.r[i] + lambda*c0[i]
	}
	if err := cholSolve(a, b, nf, 1); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *scoreStats) merge(p *scoreStats) {
	s.flush()
	p.flush()
	for i := range s.g {
		s.g[i] += p.g[i]
	}
	for i := range s.r {
		s.r[i] += p.r[i]
	}
	s.yy += p.yy
}

// scoreRidges are the score fit's candidate ridges toward the energy fit
// (relative to the mean feature energy); held-out samples choose among them,
// the energy fit and the cold map.
var scoreRidges = []float64{1e-4, 1e-3, 1e-2, 1e-1}

// ScoreFit reports the score fit of one layer's K map: the fraction of the
// original scores' variance under the attention weights explained by the
// cold map, the energy fit (the map fitted on K itself) and the chosen map.
type ScoreFit struct {
	Layer             int
	Cold, Energy, Fit float64
	// Chosen: "scores (ridge R)", "energy" or "cold", by held-out samples.
	Chosen string
}

// qWeights are the tensors of one layer that make its query.
type qWeights struct {
	inNorm, wq, bq, qNorm []float32
}

func loadQ(m *model.Model, l int) (*qWeights, error) {
	var w qWeights
	var err error
	if w.inNorm, err = read(m, model.BlockName(l, "input_layernorm.weight")); err != nil {
		return nil, err
	}
	if w.wq, err = read(m, model.BlockName(l, "self_attn.q_proj.weight")); err != nil {
		return nil, err
	}
	if m.Config.AttnBias {
		if w.bq, err = read(m, model.BlockName(l, "self_attn.q_proj.bias")); err != nil {
			return nil, err
		}
	}
	if m.Config.QKNorm {
		if w.qNorm, err = read(m, model.BlockName(l, "self_attn.q_norm.weight")); err != nil {
			return nil, err
		}
	}
	return &w, nil
}

// query computes the layer's queries from the residual stream x entering
// it, [T × hidden] → [T × Heads·HeadDim], after q_norm and RoPE (positions
// from 0), with numerics' RMSNorm and RoPE.
func (w *qWeights) query(c model.Config, x []float32) []float32 {
	hd, qd, d := c.Hidden, c.Heads*c.HeadDim, c.HeadDim
	t := len(x) / hd
	h := make([]float32, len(x))
	for i := 0; i < t; i++ {
		numerics.RMSNorm(h[i*hd:(i+1)*hd], x[i*hd:(i+1)*hd], w.inNorm, float32(c.RMSEps))
	}
	q := make([]float32, t*qd)
	sgemm.GemmThreads(1, false, true, t, qd, hd, 1, h, hd, w.wq, hd, 0, q, qd)
	cos, sin := make([]float32, t*d/2), make([]float32, t*d/2)
	numerics.RopeTable(cos, sin, 0, t, d, c.RopeTheta)
	for i := 0; i < t; i++ {
		for hh := 0; hh < c.Heads; hh++ {
			v := q[i*qd+hh*d : i*qd+(hh+1)*d]
			if w.bq != nil {
				for j := range v {
					v[j] += w.bq[hh*d+j]
				}
			}
			if w.qNorm != nil {
				numerics.RMSNorm(v, v, w.qNorm, float32(c.RMSEps))
			}
			numerics.Rope(v, cos[i*d/2:(i+1)*d/2], sin[i*d/2:(i+1)*d/2])
		}
	}
	return q
}

// origRun is what one calibration sample gives in the original model, per
// layer from the first aligned one: the residual stream entering it (x),
// its attention output before o_proj (y) and its K after k_norm and RoPE.
type origRun struct{ x, y, k [][]float32 }

// runOrig runs every calibration sample through the original model once.
func runOrig(e *engine.Engine, calib [][]int, from int, env transforms.Env) ([]origRun, error) {
	n := e.Config().Layers
	out := make([]origRun, len(calib))
	for i, ids := range calib {
		if err := env.Ctx().Err(); err != nil {
			return nil, fmt.Errorf("align: cancelled at sample %d: %w", i, err)
		}
		r := origRun{x: make([][]float32, n), y: make([][]float32, n), k: make([][]float32, n)}
		opts := &engine.ForwardOptions{LastOnly: true,
			CaptureKV: func(l int, kl, _ []float32) {
				if l >= from {
					r.k[l] = append([]float32(nil), kl...)
				}
			},
			LayerInput: func(l int, a []float32) {
				if l >= from {
					r.x[l] = append(r.x[l], a...)
				}
			},
			AttnOutput: func(l int, a []float32) {
				if l >= from {
					r.y[l] = append(r.y[l], a...)
				}
			}}
		if _, err := e.Forward(ids, e.NewCache(len(ids)), opts); err != nil {
			return nil, fmt.Errorf("align: calibration sample %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

// run captures, for one sample, the residual stream entering layer l and
// every storing layer's K (after k_norm and RoPE).
func run(e *engine.Engine, ids []int, l int) (x []float32, k [][]float32, err error) {
	k = make([][]float32, e.Config().Layers)
	opts := &engine.ForwardOptions{LastOnly: true,
		CaptureKV: func(layer int, kl, _ []float32) { k[layer] = append([]float32(nil), kl...) },
		LayerInput: func(layer int, a []float32) {
			if layer == l {
				x = append(x, a...)
			}
		}}
	_, err = e.Forward(ids, e.NewCache(len(ids)), opts)
	return x, k, err
}

// scoreSample adds one sample's rows: qo, ko the original layer's queries
// and own keys ([T × Heads·d], [T × KVHeads·d]), qc, kc the converted
// model's queries and source keys (kvc K/V heads). Head h adds its rows to
// perHead[h] (features A_j then B_j) and, when shared is not nil, its A_j to
// shared.
func scoreSample(c model.Config, perHead []*scoreStats, shared *scoreStats, qo, ko, qc, kc []float32, kvc int) {
	H, d, half := c.Heads, c.HeadDim, c.HeadDim/2
	qd, kdo, kdc := H*d, c.KVHeads*d, kvc*d
	t := len(qo) / qd
	y, p := make([]float64, t), make([]float64, t)
	f := make([]float64, t*d)
	mean := make([]float64, d)
	row := make([]float32, d)
	for h := 0; h < H; h++ {
		gOwn, gSrc := h/(H/c.KVHeads), h/(H/kvc)
		for i := 1; i < t; i++ {
			qcv := qc[i*qd+h*d : i*qd+(h+1)*d]
			ybar := attnWeights(y, p, qo[i*qd+h*d:i*qd+(h+1)*d], ko, kdo, gOwn*d, i)
			clear(mean)
			for j := 0; j <= i; j++ {
				k := kc[j*kdc+gSrc*d : j*kdc+(gSrc+1)*d]
				fr := f[j*d : (j+1)*d]
				for a := 0; a < half; a++ {
					fr[a] = float64(qcv[a]*k[a] + qcv[a+half]*k[a+half])
					fr[half+a] = float64(qcv[a+half]*k[a] - qcv[a]*k[a+half])
				}
				for a, x := range fr {
					mean[a] += p[j] * x
				}
			}
			for j := 0; j <= i; j++ {
				if p[j] < 1e-7 {
					continue
				}
				w := math.Sqrt(p[j])
				for a := range row {
					row[a] = float32(w * (f[j*d+a] - mean[a]))
				}
				yv := float32(w * (y[j] - ybar))
				perHead[h].row(row, yv)
				if shared != nil {
					shared.row(row[:half], yv)
				}
			}
		}
	}
}

// attnWeights writes query q's scores against keys 0..i (column offset off
// of rows of ld values) to y and their causal softmax (scale 1/√d) to p, and
// returns the p-weighted mean score.
func attnWeights(y, p []float64, q, k []float32, ld, off, i int) float64 {
	d := len(q)
	scale := 1 / math.Sqrt(float64(d))
	mx := math.Inf(-1)
	for j := 0; j <= i; j++ {
		y[j] = float64(sgemm.Dot(q, k[j*ld+off:j*ld+off+d]))
		mx = max(mx, y[j]*scale)
	}
	var z, ybar float64
	for j := 0; j <= i; j++ {
		p[j] = math.Exp(y[j]*scale - mx)
		z += p[j]
	}
	for j := 0; j <= i; j++ {
		p[j] /= z
		ybar += p[j] * y[j]
	}
	return ybar
}

// scoreData is what one calibration sample gives the score fit of a layer.
type scoreData struct {
	qo, ko, xc, kc []float32
	held           bool
}

// moments returns, over the samples (held or not), with s the scores of the
// queries qw makes from the converted residual stream against the source
// keys and y the original scores, the p-weighted centred Σ s̃², Σ s̃ỹ, Σ ỹ².
func moments(c model.Config, qw *qWeights, data []scoreData, held bool, kvc int) (ss, sy, yy float64) {
	H, d := c.Heads, c.HeadDim
	qd, kdo, kdc := H*d, c.KVHeads*d, kvc*d
	type sums struct{ ss, sy, yy float64 }
	part := make([]sums, len(data))
	chunks(len(data), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			sd := data[n]
			if sd.held != held {
				continue
			}
			q := qw.query(c, sd.xc)
			t := len(q) / qd
			y, p, s := make([]float64, t), make([]float64, t), make([]float64, t)
			r := &part[n]
			for h := 0; h < H; h++ {
				gOwn, gSrc := h/(H/c.KVHeads), h/(H/kvc)
				for i := 1; i < t; i++ {
					ybar := attnWeights(y, p, sd.qo[i*qd+h*d:i*qd+(h+1)*d], sd.ko, kdo, gOwn*d, i)
					qv := q[i*qd+h*d : i*qd+(h+1)*d]
					var sbar float64
					for j := 0; j <= i; j++ {
						s[j] = float64(sgemm.Dot(qv, sd.kc[j*kdc+gSrc*d:j*kdc+(gSrc+1)*d]))
						sbar += p[j] * s[j]
					}
					for j := 0; j <= i; j++ {
						a, b := s[j]-sbar, y[j]-ybar
						r.ss, r.sy, r.yy = r.ss+p[j]*a*a, r.sy+p[j]*a*b, r.yy+p[j]*b*b
					}
				}
			}
		}
	})
	for _, r := range part { // in sample order: the sums do not depend on the threads
		ss, sy, yy = ss+r.ss, sy+r.sy, yy+r.yy
	}
	return ss, sy, yy
}

// scoreChunks is how many fixed blocks of samples the score fit splits its
// work into (independent of the thread count, so results are too).
const scoreChunks = 16

// chunks runs f on scoreChunks consecutive blocks of [0, n), in parallel on
// up to GOMAXPROCS goroutines.
func chunks(n int, f func(lo, hi int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for c := 0; c < scoreChunks; c++ {
		lo, hi := c*n/scoreChunks, (c+1)*n/scoreChunks
		if lo == hi {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			f(lo, hi)
			<-sem
		}()
	}
	wg.Wait()
}

// candidate is one K map for a layer as the query weights it makes.
type candidate struct {
	name string
	qw   *qWeights
}

// fitScores refits layer l's K map on attention scores (see above) and puts
// the chosen map's query weights into e.Set; cur is the energy fit already
// folded. Candidates: cold, the energy fit, the score fit of the exact fold
// (Qwen2: complex scale per pair and query head into q_proj; Qwen3: real
// scale per pair shared by the heads into q_norm) and, on Qwen3, the
// per-head complex score fit folded into q_proj rows through q_norm's
// weight (M = D⁻¹·R·D per pair, D its two weights), which is exact up to a
// per-token factor of each head's RMS normalisation, with a layer-wide scale
// on q_norm fitted on the calibration samples. Held-out samples choose by
// the true score error of each candidate's queries.
func fitScores(orig []origRun, m *model.Model, e *transforms.Edit, l, src int, cur kMap, env transforms.Env) (ScoreFit, error) {
	c := m.Config
	out := ScoreFit{Layer: l}
	cm, err := e.Result(m)
	if err != nil {
		return out, err
	}
	conv, err := engine.New(cm)
	if err != nil {
		return out, err
	}
	qw, err := loadQ(m, l)
	if err != nil {
		return out, err
	}
	kvc := cm.Config.KVHeads
	mk := func(n, nf int) []*scoreStats {
		s := make([]*scoreStats, n)
		for i := range s {
			s[i] = newScoreStats(nf)
		}
		return s
	}
	ph, phHeld := mk(c.Heads, c.HeadDim), mk(c.Heads, c.HeadDim)
	var sh, shHeld *scoreStats
	if c.QKNorm {
		sh, shHeld = newScoreStats(c.HeadDim/2), newScoreStats(c.HeadDim/2)
	}
	data := make([]scoreData, len(env.Calib))
	xcs := make([][]float32, len(env.Calib))
	for i, ids := range env.Calib {
		if err := env.Ctx().Err(); err != nil {
			return out, fmt.Errorf("align: cancelled at layer %d sample %d: %w", l, i, err)
		}
		xc, kc, err := run(conv, ids, l)
		if err != nil {
			return out, err
		}
		data[i] = scoreData{ko: orig[i].k[l], xc: xc, kc: kc[src], held: i%holdEvery == holdEvery-1}
		xcs[i] = xc
	}
	type part struct {
		ph, phHeld []*scoreStats
		sh, shHeld *scoreStats
	}
	parts := make([]*part, len(data))
	chunks(len(data), func(lo, hi int) {
		pt := &part{ph: mk(c.Heads, c.HeadDim), phHeld: mk(c.Heads, c.HeadDim)}
		if c.QKNorm {
			pt.sh, pt.shHeld = newScoreStats(c.HeadDim/2), newScoreStats(c.HeadDim/2)
		}
		for i := lo; i < hi; i++ {
			sd := &data[i]
			sd.qo = qw.query(c, orig[i].x[l])
			p, s := pt.ph, pt.sh
			if sd.held {
				p, s = pt.phHeld, pt.shHeld
			}
			scoreSample(c, p, s, sd.qo, sd.ko, qw.query(c, xcs[i]), sd.kc, kvc)
		}
		parts[lo] = pt
	})
	for _, pt := range parts { // in sample order
		if pt == nil {
			continue
		}
		for h := range ph {
			ph[h].merge(pt.ph[h])
			phHeld[h].merge(pt.phHeld[h])
		}
		if c.QKNorm {
			sh.merge(pt.sh)
			shHeld.merge(pt.shHeld)
		}
	}
	energy := cur.coefs(c.Heads)
	cands := []candidate{{"cold", qw}, {"energy", cur.apply(qw, c)}}
	phFit, err := chooseRidge(ph, phHeld, energy)
	if err != nil {
		return out, fmt.Errorf("align: score fit of layer %d: %w", l, err)
	}
	var shFit []float64
	if c.QKNorm {
		s0 := cur.shared
		fit, err := chooseRidge([]*scoreStats{sh}, []*scoreStats{shHeld}, [][]float64{s0})
		if err != nil {
			return out, fmt.Errorf("align: score fit of layer %d: %w", l, err)
		}
		shFit = fit[0]
		cands = append(cands, candidate{"scores, real scale per pair shared by the heads (exact fold into q_norm)", kMap{shared: shFit}.apply(qw, c)})
		if a := approxFold(qw, c, phFit); a != nil {
			// A layer-wide scale on q_norm.weight, fitted on the samples not held out.
			ss, sy, _ := moments(c, a, data, false, kvc)
			if ss > 0 && sy > 0 {
				for i := range a.qNorm {
					a.qNorm[i] *= float32(sy / ss)
				}
				cands = append(cands, candidate{fmt.Sprintf("scores, complex scale per pair and head (folded into q_proj through q_norm's weight, approximate; layer scale %.3f)", sy/ss), a})
			}
		}
	} else {
		cands = append(cands, candidate{"scores, complex scale per pair and query head (exact fold into q_proj)", kMap{re: split(phFit, 0), im: split(phFit, 1), heads: c.Heads, kvHeads: c.Heads}.apply(qw, c)})
	}
	best, bestRes, yy := -1, math.Inf(1), 0.0
	for i, cd := range cands {
		ss, sy, y2 := moments(c, cd.qw, data, true, kvc)
		r := ss - 2*sy + y2
		yy = y2
		if r < bestRes {
			best, bestRes = i, r
		}
		switch i {
		case 0:
			out.Cold = explained(r, y2)
		case 1:
			out.Energy = explained(r, y2)
		}
	}
	out.Fit = explained(bestRes, yy)
	out.Chosen = cands[best].name
	setQ(m, e, l, qw, cands[best].qw)
	env.Logf("align: layer %d K score fit: %s, held-out score variance explained %.3f (energy fit %.3f, cold %.3f)", l, out.Chosen, out.Fit, out.Energy, out.Cold)
	return out, nil
}

// chooseRidge solves each fit with every ridge toward c0, picks the ridge
// with the least held-out residual (summed over the fits) and returns the
// fit on all samples with it.
func chooseRidge(fit, held []*scoreStats, c0 [][]float64) ([][]float64, error) {
	for i := range fit {
		fit[i].flush()
		held[i].flush()
	}
	best, bestRes := scoreRidges[0], math.Inf(1)
	for _, r := range scoreRidges {
		var res float64
		for i, s := range fit {
			cs, err := s.solve(c0[i], r)
			if err != nil {
				return nil, err
			}
			res += held[i].residual(cs)
		}
		if res < bestRes {
			best, bestRes = r, res
		}
	}
	out := make([][]float64, len(fit))
	for i, s := range fit {
		s.merge(held[i])
		var err error
		if out[i], err = s.solve(c0[i], best); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// split returns the first (part 0: real) or second (part 1: imaginary) half
// of each head's coefficients.
func split(cs [][]float64, part int) [][]float64 {
	out := make([][]float64, len(cs))
	for i, c := range cs {
		h := len(c) / 2
		out[i] = c[part*h : (part+1)*h]
	}
	return out
}

// kMap is a K map of one layer: the shared real scale per pair (Qwen3's
// exact fold) or a complex scale per pair and map (re/im indexed by query
// head / (heads/kvHeads)).
type kMap struct {
	shared  []float64
	re, im  [][]float64
	heads   int // query heads
	kvHeads int // maps (K/V heads, or query heads for one map per head)
}

// coefs lays the complex map out per query head (re then im); the shared
// map has no imaginary part.
func (k kMap) coefs(heads int) [][]float64 {
	cs := make([][]float64, heads)
	for h := range cs {
		if k.shared != nil {
			cs[h] = append(append([]float64(nil), k.shared...), make([]float64, len(k.shared))...)
			continue
		}
		g := h / (k.heads / k.kvHeads)
		cs[h] = append(append([]float64(nil), k.re[g]...), k.im[g]...)
	}
	return cs
}

// apply returns the query weights with the map folded exactly (shared: into
// q_norm; complex: into q_proj rows and bias).
func (k kMap) apply(qw *qWeights, c model.Config) *qWeights {
	out := *qw
	if k.shared != nil {
		out.qNorm = append([]float32(nil), qw.qNorm...)
		scalePairs(out.qNorm, k.shared)
		return &out
	}
	out.wq = append([]float32(nil), qw.wq...)
	rotateRows(out.wq, c.Hidden, c.HeadDim, c.Heads, k.heads/k.kvHeads, k.re, k.im, nil)
	if qw.bq != nil {
		out.bq = append([]float32(nil), qw.bq...)
		rotateRows(out.bq, 1, c.HeadDim, c.Heads, k.heads/k.kvHeads, k.re, k.im, nil)
	}
	return &out
}

// approxFold folds per-head complex scales (cs: re then im per query head)
// into q_proj's rows through Qwen3's q_norm weight w: per pair the rows get
// M = D⁻¹·R·D (D = diag(w_j, w_{j+d/2}), R the map's 2×2), so w⊙M·u = R·(w⊙u)
// and only the RMS normalisation's per-token factor differs. nil when a
// weight is too small to divide by.
func approxFold(qw *qWeights, c model.Config, cs [][]float64) *qWeights {
	var wmax float64
	for _, x := range qw.qNorm {
		wmax = max(wmax, math.Abs(float64(x)))
	}
	for _, x := range qw.qNorm {
		if math.Abs(float64(x)) < 1e-3*wmax {
			return nil
		}
	}
	out := *qw
	out.wq = append([]float32(nil), qw.wq...)
	out.qNorm = append([]float32(nil), qw.qNorm...)
	rotateRows(out.wq, c.Hidden, c.HeadDim, c.Heads, 1, split(cs, 0), split(cs, 1), qw.qNorm)
	return &out
}

// setQ puts layer l's query weights qw (q_proj weight and bias, q_norm) into
// e.Set in place of the folds there: each tensor that differs from the
// original's (orig) or that e.Set already replaces.
func setQ(m *model.Model, e *transforms.Edit, l int, orig, qw *qWeights) {
	c := m.Config
	put := func(suffix string, v, o []float32, shape []int) {
		if v == nil {
			return
		}
		name := model.BlockName(l, suffix)
		nt := transforms.NewTensor{Name: name, Shape: shape, Build: func() ([]float32, error) { return append([]float32(nil), v...), nil }}
		for i := range e.Set {
			if e.Set[i].Name == name {
				e.Set[i] = nt
				return
			}
		}
		if &v[0] != &o[0] {
			e.Set = append(e.Set, nt)
		}
	}
	put("self_attn.q_proj.weight", qw.wq, orig.wq, []int{c.Heads * c.HeadDim, c.Hidden})
	put("self_attn.q_proj.bias", qw.bq, orig.bq, []int{c.Heads * c.HeadDim})
	put("self_attn.q_norm.weight", qw.qNorm, orig.qNorm, []int{c.HeadDim})
}

package align

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

// fold solves every layer's maps and adds the folded tensors to e.
func fold(m *model.Model, e *transforms.Edit, stats []*layerStats) ([]Fit, error) {
	c := m.Config
	var fits []Fit
	for _, st := range stats {
		f := Fit{Layer: st.layer, Source: st.source}
		bs := make([][]float64, len(st.v))
		var vres, vcold, vtot float64
		for g, vs := range st.v {
			b, res, err := vs.solve()
			if err != nil {
				return nil, fmt.Errorf("layer %d head %d: %w", st.layer, g, err)
			}
			bs[g] = b
			vres, vcold, vtot = vres+res, vcold+vs.cold(), vtot+vs.tt
		}
		f.VFit, f.VCold = explained(vres, vtot), explained(vcold, vtot)

		ktot := sum(st.k, (*kStats).total)
		f.KCold = explained(sum(st.k, (*kStats).cold), ktot)
		re, im := make([][]float64, len(st.k)), make([][]float64, len(st.k))
		var kres float64
		for g, ks := range st.k {
			var r float64
			re[g], im[g], r = ks.complexFit()
			kres += r
		}
		f.KFit = explained(kres, ktot)
		st.kmap = kMap{heads: c.Heads, kvHeads: c.KVHeads}
		if c.QKNorm {
			s := sharedScale(st.k)
			f.KFolded = explained(sum(st.k, func(k *kStats) float64 { return k.realResidual(s) }), ktot)
			e.Set = append(e.Set, qNormFold(m, st.layer, s))
			st.kmap.shared = s
		} else {
			f.KFolded = f.KFit
			e.Set = append(e.Set, qProjFold(m, st.layer, re, im, c.Heads/c.KVHeads)...)
			st.kmap.re, st.kmap.im = re, im
		}
		e.Set = append(e.Set, oProjFold(m, st.layer, bs))
		for _, x := range []float64{f.KCold, f.KFit, f.KFolded, f.VCold, f.VFit} {
			if !finite(x) {
				return nil, fmt.Errorf("layer %d: the fit is not finite (calibration K/V overflow?)", st.layer)
			}
		}
		fits = append(fits, f)
		e.Notes = append(e.Notes, fmt.Sprintf("align layer %d ← %d: K explained %.3f folded (%.3f per-head 2×2 fit, cold %.3f), V explained %.3f (cold %.3f)",
			f.Layer, f.Source, f.KFolded, f.KFit, f.KCold, f.VFit, f.VCold))
	}
	if c.QKNorm {
		e.Notes = append(e.Notes, "align K fold (Qwen3): a rotation within a rotary pair does not commute with q_norm's per-dimension weight, and a per-head scale cancels in its RMS normalisation; the K map is folded exactly as a real scale per rotary pair shared by the layer's heads, into q_norm.weight (the per-head 2×2 fit is reported, not folded)")
	} else {
		e.Notes = append(e.Notes, "align K fold (Qwen2): the per-head 2×2 rotation-and-scale per rotary pair is folded exactly into q_proj rows and bias (conjugate, query side)")
	}
	e.Notes = append(e.Notes, "align V fold: the least-squares map per K/V head is folded exactly into o_proj's columns of the head's queries; explained = 1 − ‖own − fit‖²/‖own‖² on the calibration tokens")
	return fits, nil
}

// sharedScale fits one real scale per rotary pair over every head:
// s_j = Σ_g Re Σ conj(z_src)·z_own / Σ_g Σ|z_src|².
func sharedScale(ks []*kStats) []float64 {
	s := make([]float64, ks[0].half)
	for j := range s {
		var num, den float64
		for _, k := range ks {
			num, den = num+k.re[j], den+k.zz[j]
		}
		s[j] = 1
		if den > 0 {
			s[j] = num / den
		}
	}
	return s
}

// qNormFold scales q_norm.weight's pair (j, j+d/2) by s_j.
func qNormFold(m *model.Model, l int, s []float64) transforms.NewTensor {
	name := model.BlockName(l, "self_attn.q_norm.weight")
	return transforms.NewTensor{Name: name, Shape: []int{2 * len(s)}, Build: func() ([]float32, error) {
		w, err := read(m, name)
		if err != nil {
			return nil, err
		}
		scalePairs(w, s)
		return w, nil
	}}
}

// scalePairs multiplies w's pair (j, j+d/2) by s_j.
func scalePairs(w []float32, s []float64) {
	h := len(s)
	for j, x := range s {
		w[j] *= float32(x)
		w[j+h] *= float32(x)
	}
}

// qProjFold multiplies each query head's rotary pairs by conj(c) of its map
// (entry hd/grp: grp = Heads/KVHeads for one map per K/V head, 1 for one
// per query head), in q_proj's rows and bias (see rotateRows).
func qProjFold(m *model.Model, l int, re, im [][]float64, grp int) []transforms.NewTensor {
	c := m.Config
	var out []transforms.NewTensor
	for _, suf := range []string{"self_attn.q_proj.weight", "self_attn.q_proj.bias"} {
		name := model.BlockName(l, suf)
		t := m.Tensor(name)
		if t == nil {
			continue
		}
		cols := 1
		if len(t.Shape) == 2 {
			cols = t.Shape[1]
		}
		out = append(out, transforms.NewTensor{Name: name, Shape: append([]int(nil), t.Shape...), Build: func() ([]float32, error) {
			v, err := read(m, name)
			if err != nil {
				return nil, err
			}
			rotateRows(v, cols, c.HeadDim, c.Heads, grp, re, im, nil)
			return v, nil
		}})
	}
	return out
}

// rotateRows applies to v (heads·d rows of cols values) each query head's
// per-pair map c = a + ib (entry hd/grp of re, im) on the query side:
// rows (j, j+d/2) ← (a·r_j + b·r_{j+d/2}, −b·r_j + a·r_{j+d/2}), i.e. the
// query pair times conj(c). With w (Qwen3's q_norm weight, applied after
// these rows) the map is D⁻¹·R·D with D = diag(w_j, w_{j+d/2}), so that
// after the weight the pair is R times the original's:
// (a·r_j + b·(w_{j+d/2}/w_j)·r_{j+d/2}, −b·(w_j/w_{j+d/2})·r_j + a·r_{j+d/2}).
func rotateRows(v []float32, cols, d, heads, grp int, re, im [][]float64, w []float32) {
	h := d / 2
	for hd := 0; hd < heads; hd++ {
		g := hd / grp
		for j := 0; j < h; j++ {
			a, b := float32(re[g][j]), float32(im[g][j])
			b1, b2 := b, b
			if w != nil {
				b1, b2 = b*w[j+h]/w[j], b*w[j]/w[j+h]
			}
			r1 := v[(hd*d+j)*cols : (hd*d+j+1)*cols]
			r2 := v[(hd*d+j+h)*cols : (hd*d+j+h+1)*cols]
			for x := range r1 {
				p, q := r1[x], r2[x]
				r1[x], r2[x] = a*p+b1*q, -b2*p+a*q
			}
		}
	}
}

// oProjFold replaces each query head's o_proj columns W_h by W_h·Bᵀ, with B
// its K/V head's value map.
func oProjFold(m *model.Model, l int, bs [][]float64) transforms.NewTensor {
	c := m.Config
	d := c.HeadDim
	grp := c.Heads / c.KVHeads
	name := model.BlockName(l, "self_attn.o_proj.weight")
	return transforms.NewTensor{Name: name, Shape: []int{c.Hidden, c.Heads * d}, Build: func() ([]float32, error) {
		w, err := read(m, name)
		if err != nil {
			return nil, err
		}
		qd := c.Heads * d
		if len(w) != c.Hidden*qd {
			return nil, fmt.Errorf("%s has %d values, want %d×%d", name, len(w), c.Hidden, qd)
		}
		row := make([]float64, d)
		for r := 0; r < c.Hidden; r++ {
			for hd := 0; hd < c.Heads; hd++ {
				b := bs[hd/grp]
				seg := w[r*qd+hd*d : r*qd+(hd+1)*d]
				for j, x := range seg {
					row[j] = float64(x)
				}
				for i := range seg { // (W_h·Bᵀ)[r][i] = Σ_j W_h[r][j]·B[i][j]
					var s float64
					for j, x := range row {
						s += x * b[i*d+j]
					}
					seg[i] = float32(s)
				}
			}
		}
		return w, nil
	}}
}

func read(m *model.Model, name string) ([]float32, error) {
	t := m.Tensor(name)
	if t == nil {
		return nil, fmt.Errorf("tensor %q is missing", name)
	}
	return t.Float32()
}

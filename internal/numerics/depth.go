package numerics

import "github.com/retrofit-llm/retrofit/sgemm"

// GroupMean writes the mean of KV group g's query heads (grp heads of dim d,
// heads g·grp.. of row) to dst: the query Depth-Attention scores with.
func GroupMean(dst, row []float32, g, grp, d int) {
	copy(dst, row[g*grp*d:(g*grp+1)*d])
	for hd := 1; hd < grp; hd++ {
		q := row[(g*grp+hd)*d : (g*grp+hd+1)*d]
		for x := range dst {
			dst[x] += q[x]
		}
	}
	inv := 1 / float32(grp)
	for x := range dst {
		dst[x] *= inv
	}
}

// GroupMeanBack adds dqbar/grp to each of KV group g's query heads in drow.
func GroupMeanBack(drow, dqbar []float32, g, grp, d int) {
	inv := 1 / float32(grp)
	for hd := g * grp; hd < (g+1)*grp; hd++ {
		sgemm.Axpy(inv, dqbar, drow[hd*d:(hd+1)*d])
	}
}

// Depth is one layer's Depth-Attention inputs at one (position, KV head):
// the candidate set (layers that store K/V, each once: model.Layout.
// DepthCandidates), their keys and stored values K[j][Off:Off+d],
// V[j][Off:Off+d] (rows of the cache or of the training tape, indexed by
// layer), and the layer's own key and value (docs/methods.md). SelfBias is
// added to the own score after scaling: the warm start's constant, large at
// conversion (α_self = 1, v' = v: the original model) and annealed to 0 (plain
// Depth-Attention) while uptraining; a constant, so it has no gradient.
type Depth struct {
	Cands      []int
	K, V       [][]float32
	Off        int
	Key, Value []float32
	SelfBias   float32
}

// Mix writes Σ_j α_j·V'_j + α_self·v to dst (which must not alias d.Value)
// and the weights α (candidates, then self; len(Cands)+1) to alpha, where α
// = softmax(scale·qbar·k) over the candidates' keys and the own key, the own
// score plus SelfBias.
func (d *Depth) Mix(dst, alpha, qbar []float32, scale float32) {
	n, nc := len(qbar), len(d.Cands)
	for j, c := range d.Cands {
		alpha[j] = sgemm.Dot(qbar, d.K[c][d.Off:d.Off+n]) * scale
	}
	alpha[nc] = sgemm.Dot(qbar, d.Key)*scale + d.SelfBias
	Softmax(alpha[:nc+1])
	clear(dst[:n])
	for j, c := range d.Cands {
		sgemm.Axpy(alpha[j], d.V[c][d.Off:d.Off+n], dst)
	}
	sgemm.Axpy(alpha[nc], d.Value, dst)
}

// MixBack back-propagates dmix, the gradient of the mixed value, given the
// alpha and qbar of Mix (SelfBias enters only through alpha): it adds to the candidates' dK and dV (indexed like
// K and V, at Off), to dkey (the own key's gradient) and to dqbar, then
// scales dmix in place into the gradient of the own value (α_self·dmix).
// da is scratch of len(Cands)+1.
func (d *Depth) MixBack(dmix, da []float32, dK, dV [][]float32, dkey, dqbar, alpha, qbar []float32, scale float32) {
	n, nc, off := len(qbar), len(d.Cands), d.Off
	for j, c := range d.Cands {
		da[j] = sgemm.Dot(dmix, d.V[c][off:off+n])
	}
	da[nc] = sgemm.Dot(dmix, d.Value)
	SoftmaxBack(da[:nc+1], alpha[:nc+1], scale)
	for j, c := range d.Cands {
		sgemm.Axpy(alpha[j], dmix, dV[c][off:off+n])
		sgemm.Axpy(da[j], d.K[c][off:off+n], dqbar)
		sgemm.Axpy(da[j], qbar, dK[c][off:off+n])
	}
	sgemm.Axpy(da[nc], d.Key, dqbar)
	sgemm.Axpy(da[nc], qbar, dkey)
	sgemm.Scale(alpha[nc], dmix)
}

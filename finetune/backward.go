package finetune

import (
	"runtime"

	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/sgemm"
)

// Backward propagates the logit gradient held in tp.Logits() (written by
// Loss) through the net of the last Forward, adding to every trainable
// parameter's G.
func (n *Net) Backward(tp *Tape, ids []int) {
	c := n.Cfg
	N := tp.B * tp.T
	h, V := c.Hidden, c.VocabSize
	dl := tp.logits
	sgemm.Gemm(false, false, N, h, V, 1, dl, V, n.head.W, h, 0, tp.dxn, h)
	if g := tp.hiddenGrad(c.Layers - 1); g != nil {
		sgemm.Axpy(1, g, tp.dxn[:N*h])
	}
	if n.head.Train {
		sgemm.Gemm(true, false, V, h, N, 1, dl, V, tp.xnf, h, 1, n.head.G, h)
	}
	clear(tp.dx)
	eps := float32(c.RMSEps)
	_ = eps
	for i := 0; i < N; i++ {
		numerics.RMSNormBack(tp.dx[i*h:(i+1)*h], gradOf(n.finalNorm), tp.dxn[i*h:(i+1)*h], tp.xf[i*h:(i+1)*h], n.finalNorm.W, tp.invf[i])
	}
	for l := range tp.dk {
		if tp.dk[l] != nil {
			clear(tp.dk[l])
			clear(tp.dv[l])
		}
	}
	for l := c.Layers - 1; l >= 0; l-- {
		if g := tp.hiddenGrad(l); g != nil && l < c.Layers-1 {
			sgemm.Axpy(1, g, tp.dx[:N*h])
		}
		n.layerBackward(tp, l)
	}
	if n.embed.Train {
		for i, id := range ids {
			sgemm.Axpy(1, tp.dx[i*h:(i+1)*h], n.embed.G[id*h:(id+1)*h])
		}
	}
}

// hiddenGrad returns the layer-wise loss gradient w.r.t. layer l's output,
// or nil.
func (t *Tape) hiddenGrad(l int) []float32 {
	if t.hgrad == nil {
		return nil
	}
	return t.hgrad[l]
}

// gradOf returns p.G when p trains, else nil.
func gradOf(p *Param) []float32 {
	if p == nil || !p.Train {
		return nil
	}
	return p.G
}

// layerBackward turns tp.dx (the gradient of layer l's output) into the
// gradient of its input, adding parameter gradients and the K/V gradients of
// the layers it reads.
func (n *Net) layerBackward(tp *Tape, l int) {
	c := n.Cfg
	b := n.blocks[n.Layout.LayerMap[l]]
	lt := &tp.layers[l]
	T := tp.T
	N := tp.B * T
	h, d, im := c.Hidden, c.HeadDim, c.Intermediate
	qd, kvd := c.Heads*d, c.KVHeads*d
	half := d / 2

	// MLP: x = xmid + act·downᵀ.
	linearBack(tp.dact, 0, tp.dx, lt.act, b.down, nil, N)
	rowsParallel(N, func(r int) {
		o := r * im
		numerics.SiLUMulBack(tp.dgate[o:o+im], tp.dup[o:o+im], tp.dact[o:o+im], lt.gate[o:o+im], lt.up[o:o+im])
	})
	linearBack(tp.dxn, 0, tp.dgate, lt.xn2, b.gate, nil, N)
	linearBack(tp.dxn, 1, tp.dup, lt.xn2, b.up, nil, N)
	for i := 0; i < N; i++ {
		numerics.RMSNormBack(tp.dx[i*h:(i+1)*h], gradOf(b.mlpNorm), tp.dxn[i*h:(i+1)*h], lt.xmid[i*h:(i+1)*h], b.mlpNorm.W, lt.inv2[i])
	}

	// Attention output projection.
	linearBack(tp.datt, 0, tp.dx, lt.att, b.o, nil, N)
	n.attentionBackward(tp, l)
	if len(n.cands[l]) > 0 {
		n.depthMixBackward(tp, l)
	}
	eps := float32(c.RMSEps)
	_ = eps
	dq := tp.dq
	for i := 0; i < N; i++ {
		t := i % T
		cs, sn := tp.cos[t*half:(t+1)*half], tp.sin[t*half:(t+1)*half]
		for hd := 0; hd < c.Heads; hd++ {
			o := i*qd + hd*d
			g := dq[o : o+d]
			numerics.RopeBack(g, cs, sn)
			if b.qNorm != nil {
				normBackInPlace(g, gradOf(b.qNorm), lt.qpre[o:o+d], b.qNorm.W, lt.qinv[i*c.Heads+hd], tp.small[:d])
			}
		}
	}
	linearBack(tp.dxn, 0, dq, lt.xn1, b.q, b.qb, N)
	if n.Layout.StoresKV(l) {
		dk := tp.dk[l]
		for i := 0; i < N; i++ {
			t := i % T
			cs, sn := tp.cos[t*half:(t+1)*half], tp.sin[t*half:(t+1)*half]
			for g := 0; g < c.KVHeads; g++ {
				o := i*kvd + g*d
				gr := dk[o : o+d]
				numerics.RopeBack(gr, cs, sn)
				if b.kNorm != nil {
					normBackInPlace(gr, gradOf(b.kNorm), lt.kpre[o:o+d], b.kNorm.W, lt.kinv[i*c.KVHeads+g], tp.small[:d])
				}
			}
		}
		linearBack(tp.dxn, 1, dk, lt.xn1, b.k, b.kb, N)
		linearBack(tp.dxn, 1, tp.dv[l], lt.xn1, b.v, b.vb, N)
	}
	for i := 0; i < N; i++ {
		numerics.RMSNormBack(tp.dx[i*h:(i+1)*h], gradOf(b.attnNorm), tp.dxn[i*h:(i+1)*h], lt.xin[i*h:(i+1)*h], b.attnNorm.W, lt.inv1[i])
	}
}

// normBackInPlace replaces g (the gradient of numerics.RMSNorm(x)) by the gradient of x.
func normBackInPlace(g, dw, x, w []float32, r float32, tmp []float32) {
	copy(tmp, g)
	clear(g)
	numerics.RMSNormBack(g, dw, tmp, x, w, r)
}

// attentionBackward turns tp.datt into tp.dq (assigned) and adds to the
// source layer's dk/dv.
func (n *Net) attentionBackward(tp *Tape, l int) {
	c := n.Cfg
	lt := &tp.layers[l]
	src := n.Layout.KVSource[l]
	K, V := tp.k[src], tp.v[src]
	dK, dV := tp.dk[src], tp.dv[src]
	B, T, d := tp.B, tp.T, c.HeadDim
	qd, kvd := c.Heads*d, c.KVHeads*d
	grp := c.Heads / c.KVHeads
	scale := numerics.ScoreScale(d)
	workers := min(runtime.GOMAXPROCS(0), len(tp.workers))
	parallel(B*c.KVHeads, workers, func(task, w int) {
		bb, g := task/c.KVHeads, task%c.KVHeads
		dp := tp.workers[w][:T*T]
		base := bb * T
		kg, vg := K[base*kvd+g*d:], V[base*kvd+g*d:]
		dkg, dvg := dK[base*kvd+g*d:], dV[base*kvd+g*d:]
		for hd := g * grp; hd < (g+1)*grp; hd++ {
			p := lt.p[(bb*c.Heads+hd)*T*T : (bb*c.Heads+hd+1)*T*T]
			do := tp.datt[base*qd+hd*d:]
			sgemm.Gemm(false, true, T, T, d, 1, do, qd, vg, kvd, 0, dp, T)
			sgemm.Gemm(true, false, T, d, T, 1, p, T, do, qd, 1, dvg, kvd)
			for i := 0; i < T; i++ {
				dr := dp[i*T : (i+1)*T]
				numerics.SoftmaxBack(dr, p[i*T:i*T+i+1], scale)
				clear(dr[i+1:])
			}
			sgemm.Gemm(false, false, T, d, T, 1, dp, T, kg, kvd, 0, tp.dq[base*qd+hd*d:], qd)
			sgemm.Gemm(true, false, T, d, T, 1, dp, T, lt.q[base*qd+hd*d:], qd, 1, dkg, kvd)
		}
	})
}

// depthMixBackward back-propagates V'_l = Σ α_j V'_j + α_l v_l: it adds to
// dq, dk of l and of the candidates (layers that store K/V), dv of the
// candidates, and replaces dv[l] by the gradient of l's own v.
func (n *Net) depthMixBackward(tp *Tape, l int) {
	c := n.Cfg
	lt := &tp.layers[l]
	d, kvd, qd := c.HeadDim, c.KVHeads*c.HeadDim, c.Heads*c.HeadDim
	grp := c.Heads / c.KVHeads
	nc := len(n.cands[l]) + 1
	scale := numerics.ScoreScale(d)
	buf := tp.small[d:]
	qbar, dqbar, da := buf[:d], buf[d:2*d], buf[2*d:2*d+nc]
	dm := numerics.Depth{Cands: n.cands[l], K: tp.k, V: tp.v}
	for i := 0; i < tp.B*tp.T; i++ {
		for g := 0; g < c.KVHeads; g++ {
			numerics.GroupMean(qbar, lt.q[i*qd:], g, grp, d)
			o := i*kvd + g*d
			dm.Off, dm.Key, dm.Value = o, tp.k[l][o:o+d], lt.vraw[o:o+d]
			clear(dqbar)
			dm.MixBack(tp.dv[l][o:o+d], da, tp.dk, tp.dv, tp.dk[l][o:o+d], dqbar, lt.alpha[(i*c.KVHeads+g)*nc:(i*c.KVHeads+g+1)*nc], qbar, scale)
			numerics.GroupMeanBack(tp.dq[i*qd:], dqbar, g, grp, d)
		}
	}
}

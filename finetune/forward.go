package finetune

import (
	"fmt"
	"runtime"

	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/sgemm"
)

// Forward runs B sequences of T tokens (ids, row-major [B×T]) through the
// net, keeping the activations in tp, and leaves the logits [B·T × vocab] in
// tp.Logits().
func (n *Net) Forward(tp *Tape, ids []int, B, T int) error {
	c := n.Cfg
	if len(ids) != B*T || B <= 0 || T <= 0 {
		return fmt.Errorf("finetune: forward: %d ids for %d×%d", len(ids), B, T)
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("finetune: forward: token %d (index %d) outside the vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	tp.ensure(n, B, T)
	h := c.Hidden
	for i, id := range ids {
		copy(tp.x[i*h:(i+1)*h], n.embed.W[id*h:(id+1)*h])
	}
	for l := 0; l < c.Layers; l++ {
		n.layerForward(tp, l)
	}
	N := B * T
	copy(tp.xf, tp.x)
	eps := float32(c.RMSEps)
	rowsParallel(N, func(i int) {
		tp.invf[i] = numerics.RMSNorm(tp.xnf[i*h:(i+1)*h], tp.xf[i*h:(i+1)*h], n.finalNorm.W, eps)
	})
	sgemm.Gemm(false, true, N, c.VocabSize, h, 1, tp.xnf, h, n.head.W, h, 0, tp.logits, c.VocabSize)
	return nil
}

// Logits returns the logits of the last Forward, [B·T × vocab].
func (t *Tape) Logits() []float32 { return t.logits }

func (n *Net) layerForward(tp *Tape, l int) {
	c := n.Cfg
	b := n.blocks[n.Layout.LayerMap[l]]
	lt := &tp.layers[l]
	B, T := tp.B, tp.T
	N := B * T
	h, d := c.Hidden, c.HeadDim
	qd, kvd := c.Heads*d, c.KVHeads*d
	half := d / 2
	eps := float32(c.RMSEps)
	copy(lt.xin, tp.x)
	rowsParallel(N, func(i int) {
		lt.inv1[i] = numerics.RMSNorm(lt.xn1[i*h:(i+1)*h], lt.xin[i*h:(i+1)*h], b.attnNorm.W, eps)
	})
	linear(lt.qpre, lt.xn1, b.q, b.qb, N)
	copy(lt.q, lt.qpre)
	rowsParallel(N, func(i int) {
		t := i % T
		cs, sn := tp.cos[t*half:(t+1)*half], tp.sin[t*half:(t+1)*half]
		for hd := 0; hd < c.Heads; hd++ {
			q := lt.q[i*qd+hd*d : i*qd+(hd+1)*d]
			if b.qNorm != nil {
				lt.qinv[i*c.Heads+hd] = numerics.RMSNorm(q, q, b.qNorm.W, eps)
			}
			numerics.Rope(q, cs, sn)
		}
	})
	if n.Layout.StoresKV(l) {
		linear(lt.kpre, lt.xn1, b.k, b.kb, N)
		k := tp.k[l]
		copy(k, lt.kpre)
		rowsParallel(N, func(i int) {
			t := i % T
			cs, sn := tp.cos[t*half:(t+1)*half], tp.sin[t*half:(t+1)*half]
			for g := 0; g < c.KVHeads; g++ {
				kr := k[i*kvd+g*d : i*kvd+(g+1)*d]
				if b.kNorm != nil {
					lt.kinv[i*c.KVHeads+g] = numerics.RMSNorm(kr, kr, b.kNorm.W, eps)
				}
				numerics.Rope(kr, cs, sn)
			}
		})
		if len(n.cands[l]) > 0 {
			linear(lt.vraw, lt.xn1, b.v, b.vb, N)
			n.depthMixForward(tp, l)
		} else {
			linear(tp.v[l], lt.xn1, b.v, b.vb, N)
		}
	}
	n.attentionForward(tp, l)
	copy(lt.xmid, tp.x)
	sgemm.Gemm(false, true, N, h, qd, 1, lt.att, qd, b.o.W, qd, 1, lt.xmid, h)
	rowsParallel(N, func(i int) {
		lt.inv2[i] = numerics.RMSNorm(lt.xn2[i*h:(i+1)*h], lt.xmid[i*h:(i+1)*h], b.mlpNorm.W, eps)
	})
	linear(lt.gate, lt.xn2, b.gate, nil, N)
	linear(lt.up, lt.xn2, b.up, nil, N)
	im := c.Intermediate
	rowsParallel(N, func(r int) {
		numerics.SiLUMul(lt.act[r*im:(r+1)*im], lt.gate[r*im:(r+1)*im], lt.up[r*im:(r+1)*im])
	})
	copy(tp.x, lt.xmid)
	sgemm.Gemm(false, true, N, h, c.Intermediate, 1, lt.act, c.Intermediate, b.down.W, c.Intermediate, 1, tp.x, h)
}

// depthMixForward writes layer l's stored value V'_l from its own value and
// the candidates' keys and stored values (docs/methods.md; the own score
// raised by the layout's warm-start DepthSelfBias), saving α.
func (n *Net) depthMixForward(tp *Tape, l int) {
	c := n.Cfg
	lt := &tp.layers[l]
	d, kvd, qd := c.HeadDim, c.KVHeads*c.HeadDim, c.Heads*c.HeadDim
	grp := c.Heads / c.KVHeads
	nc := len(n.cands[l]) + 1
	scale := numerics.ScoreScale(d)
	qbar := tp.small[:d]
	dm := numerics.Depth{Cands: n.cands[l], K: tp.k, V: tp.v, SelfBias: float32(n.Layout.DepthSelfBias)}
	for i := 0; i < tp.B*tp.T; i++ {
		for g := 0; g < c.KVHeads; g++ {
			numerics.GroupMean(qbar, lt.q[i*qd:], g, grp, d)
			dm.Off = i*kvd + g*d
			dm.Key, dm.Value = tp.k[l][dm.Off:dm.Off+d], lt.vraw[dm.Off:dm.Off+d]
			dm.Mix(tp.v[l][dm.Off:dm.Off+d], lt.alpha[(i*c.KVHeads+g)*nc:(i*c.KVHeads+g+1)*nc], qbar, scale)
		}
	}
}

// attentionForward computes causal GQA attention of layer l with the K/V of
// its source layer; probabilities are kept for backward.
func (n *Net) attentionForward(tp *Tape, l int) {
	c := n.Cfg
	lt := &tp.layers[l]
	src := n.Layout.KVSource[l]
	K, V := tp.k[src], tp.v[src]
	B, T, d := tp.B, tp.T, c.HeadDim
	qd, kvd := c.Heads*d, c.KVHeads*d
	grp := c.Heads / c.KVHeads
	scale := numerics.ScoreScale(d)
	parallel(B*c.KVHeads, runtime.GOMAXPROCS(0), func(task, _ int) {
		bb, g := task/c.KVHeads, task%c.KVHeads
		kg := K[bb*T*kvd+g*d:]
		vg := V[bb*T*kvd+g*d:]
		for hd := g * grp; hd < (g+1)*grp; hd++ {
			p := lt.p[(bb*c.Heads+hd)*T*T : (bb*c.Heads+hd+1)*T*T]
			qh := lt.q[bb*T*qd+hd*d:]
			sgemm.Gemm(false, true, T, T, d, scale, qh, qd, kg, kvd, 0, p, T)
			for i := 0; i < T; i++ {
				numerics.SoftmaxCausal(p[i*T:(i+1)*T], i+1)
			}
			sgemm.Gemm(false, false, T, d, T, 1, p, T, vg, kvd, 0, lt.att[bb*T*qd+hd*d:], qd)
		}
	})
}

package finetune

import (
	"math"
	"runtime"
)

// LossStats are the summed losses of one batch (divide by Tokens for means).
type LossStats struct {
	CE, KD float64
	LH     float64 // layer-wise loss (mean over the distilled layers), summed over tokens
	Tokens int
}

// Loss computes the loss of the logits in tp against targets (−1 = not
// predicted) and, if teacher is not nil ([rows × vocab] logits), the
// distillation term; it overwrites the logits with d(loss)/d(logits), where
// loss = Σ_tokens [(1−w)·CE + w·T²·KL(p_teacher,T ‖ p_student,T)] · norm.
// Pass w = 0 without a teacher. Rows run in parallel; the per-row sums are
// added in row order, so the result does not depend on the thread count.
func (tp *Tape) Loss(targets []int, teacher []float32, w, temp float64, norm float32) LossStats {
	N := len(targets)
	V := len(tp.logits) / N
	if teacher == nil {
		w = 0
	}
	ce, kd := grow(tp.rowCE, N), grow(tp.rowKD, N)
	tp.rowCE, tp.rowKD = ce, kd
	workers := runtime.GOMAXPROCS(0)
	if len(tp.lossScratch) < workers {
		tp.lossScratch = make([][]float64, workers)
	}
	parallel(N, workers, func(i, wk int) {
		z := tp.logits[i*V : (i+1)*V]
		y := targets[i]
		ce[i], kd[i] = 0, 0
		if y < 0 {
			clear(z)
			return
		}
		if len(tp.lossScratch[wk]) < 2*V {
			tp.lossScratch[wk] = make([]float64, 2*V)
		}
		if w == 0 {
			ce[i] = lmRow(z, y, norm, tp.lossScratch[wk][:V])
		} else {
			ce[i], kd[i] = distillRow(z, teacher[i*V:(i+1)*V], y, w, temp, norm, tp.lossScratch[wk])
		}
	})
	var out LossStats
	for i, y := range targets {
		if y >= 0 {
			out.Tokens++
			out.CE += ce[i]
			out.KD += kd[i]
		}
	}
	return out
}

// Value returns the blended mean loss.
func (s LossStats) Value(w float64) float64 {
	if s.Tokens == 0 {
		return 0
	}
	return ((1-w)*s.CE + w*s.KD) / float64(s.Tokens)
}

// expRow64 writes exp(z − max z) to es in float64 and returns max z and the
// sum.
func expRow64(es []float64, z []float32) (float32, float64) {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for j, v := range z {
		e := math.Exp(float64(v - m))
		es[j] = e
		s += e
	}
	return m, s
}

// lmRow returns one row's cross-entropy for target y and overwrites the
// logits z with norm·(softmax(z) − onehot(y)). es is scratch of len(z).
func lmRow(z []float32, y int, norm float32, es []float64) float64 {
	m, s := expRow64(es, z)
	ce := float64(m) + math.Log(s) - float64(z[y])
	inv := float64(norm) / s
	for j := range z {
		z[j] = float32(es[j] * inv)
	}
	z[y] -= norm
	return ce
}

// distillRow returns one row's cross-entropy and T²·KL(teacher_T ‖
// student_T) against the teacher logits u, and overwrites z with the
// gradient of norm·[(1−w)·CE + w·T²·KL]. scratch holds 2·len(z) values.
func distillRow(z, u []float32, y int, w, temp float64, norm float32, scratch []float64) (ce, kd float64) {
	V := len(z)
	es, et := scratch[:V], scratch[V:2*V]
	m, s := expRow64(es, z)
	ce = float64(m) + math.Log(s) - float64(z[y])
	inv := 1 / temp
	mt := float64(u[0]) * inv
	for _, v := range u {
		mt = max(mt, float64(v)*inv)
	}
	var st float64
	for j, v := range u {
		e := math.Exp(float64(v)*inv - mt)
		et[j] = e
		st += e
	}
	lst := mt + math.Log(st)
	// Student at temperature T (shares es when T = 1).
	ms := float64(m) * inv
	shared := temp == 1
	ss := s
	if !shared {
		ss = 0
		for _, v := range z {
			ss += math.Exp(float64(v)*inv - ms)
		}
	}
	lss := ms + math.Log(ss)
	a, b := (1-w)*float64(norm), w*temp*float64(norm)
	var kl float64
	for j := range z {
		lpt := float64(u[j])*inv - lst
		lps := float64(z[j])*inv - lss
		pt := et[j] / st
		var ps float64
		if shared {
			ps = es[j] / ss
		} else {
			ps = math.Exp(lps)
		}
		if pt > 0 {
			kl += pt * (lpt - lps)
		}
		g := a*es[j]/s + b*(ps-pt)
		if j == y {
			g -= a
		}
		z[j] = float32(g)
	}
	return ce, kl * temp * temp
}

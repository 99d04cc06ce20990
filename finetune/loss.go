package finetune

import (
	"math"
)

// LossStats are the summed losses of one batch (divide by Tokens for means).
type LossStats struct {
	CE, KD float64
	Tokens int
}

// Loss computes the loss of the logits in tp against targets (−1 = not
// predicted) and, if teacher is not nil ([rows × vocab] logits), the
// distillation term; it overwrites the logits with d(loss)/d(logits), where
// loss = Σ_tokens [(1−w)·CE + w·T²·KL(p_teacher,T ‖ p_student,T)] · norm.
// Pass w = 0 without a teacher.
func (tp *Tape) Loss(targets []int, teacher []float32, w, temp float64, norm float32) LossStats {
	V := len(tp.logits) / len(targets)
	var st LossStats
	for i, y := range targets {
		z := tp.logits[i*V : (i+1)*V]
		if y < 0 {
			clear(z)
			continue
		}
		st.Tokens++
		// Student softmax at T=1 (log-sum-exp in float64).
		m := z[0]
		for _, v := range z {
			m = max(m, v)
		}
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v - m))
		}
		lse := float64(m) + math.Log(s)
		st.CE += lse - float64(z[y])
		if teacher == nil || w == 0 {
			for j, v := range z {
				z[j] = float32(math.Exp(float64(v)-lse)) * norm
			}
			z[y] -= norm
			continue
		}
		u := teacher[i*V : (i+1)*V]
		// Tempered distributions.
		inv := 1 / temp
		ms, mt := float64(m)*inv, math.Inf(-1)
		for _, v := range u {
			mt = max(mt, float64(v)*inv)
		}
		var ss, stt float64
		for j := range z {
			ss += math.Exp(float64(z[j])*inv - ms)
			stt += math.Exp(float64(u[j])*inv - mt)
		}
		lss, lst := ms+math.Log(ss), mt+math.Log(stt)
		var kl float64
		a, bw := (1-w)*float64(norm), w*temp*float64(norm)
		for j := range z {
			lpt := float64(u[j])*inv - lst
			lps := float64(z[j])*inv - lss
			pt := math.Exp(lpt)
			kl += pt * (lpt - lps)
			p1 := math.Exp(float64(z[j]) - lse)
			g := a*p1 + bw*(math.Exp(lps)-pt)
			if j == y {
				g -= a
			}
			z[j] = float32(g)
		}
		st.KD += kl * temp * temp
	}
	return st
}

// Value returns the blended mean loss.
func (s LossStats) Value(w float64) float64 {
	if s.Tokens == 0 {
		return 0
	}
	return ((1-w)*s.CE + w*s.KD) / float64(s.Tokens)
}

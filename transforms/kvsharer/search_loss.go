package kvsharer

import (
	"fmt"
	"math"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/transforms"
)

// lossSearch is search=loss: a.target rounds, each measuring the calibration
// NLL of every layout that replaces one more layer — a layer i ≥ 1 that
// still computes its own K/V and does not mix across depth, reading an
// earlier layer j that stores K/V (chains resolved) — and keeping the
// lowest. A candidate resumes at layer i from the accepted layout's saved
// run of the samples. It returns the kv_source map, the layers replaced and
// the candidates measured.
func (s *search) lossSearch(a args, env transforms.Env) (kv []int, replaced, tried int, err error) {
	kv = append([]int(nil), s.layout.KVSource...)
	nll0, err := s.calibNLL(kv, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	env.Logf("kvsharer: search=loss: calibration NLL %.4f before any replacement", nll0)
	for replaced < a.target {
		var best []int
		bestNLL, bi, bj := math.Inf(1), 0, 0
		for i := 1; i < s.cfg.Layers; i++ {
			if kv[i] != i || s.layout.DepthMix[i] {
				continue
			}
			for j := 0; j < i; j++ {
				if kv[j] != j {
					continue
				}
				if err := env.Ctx().Err(); err != nil {
					return nil, 0, 0, fmt.Errorf("search cancelled after %d candidates: %w", tried, err)
				}
				cand := append([]int(nil), kv...)
				cand[i] = j
				cand = transforms.ResolveKV(cand)
				nll, err := s.calibNLL(cand, i)
				if err != nil {
					return nil, 0, 0, err
				}
				tried++
				env.Logf("kvsharer: round %d: layer %d ← %d  calibration NLL %.4f", replaced+1, i, j, nll)
				if nll < bestNLL {
					best, bestNLL, bi, bj = cand, nll, i, j
				}
			}
		}
		if best == nil {
			break
		}
		from := firstChange(kv, best)
		kv = best
		replaced++
		env.Logf("kvsharer: round %d: layer %d ← %d accepted  calibration NLL %.4f (+%.4f)  → kv_source %v", replaced, bi, bj, bestNLL, bestNLL-nll0, kv)
		if replaced < a.target {
			if err := s.accept(kv, from); err != nil {
				return nil, 0, 0, err
			}
		}
	}
	return kv, replaced, tried, nil
}

// calibNLL runs the samples under kv_source kv (through search.mean) and
// returns the mean NLL of each sample's next tokens (t−1 per sample). Logits
// come in blocks (engine OnLogits), so memory stays bounded for any
// vocabulary.
func (s *search) calibNLL(kv []int, from int) (float64, error) {
	t := len(s.samples[0])
	v := s.cfg.VocabSize
	mean, err := s.mean(kv, from, func(e *engine.Engine) scoreFunc {
		cache := e.NewCache(t)
		return func(i int, resume *engine.Resume) (float64, error) {
			cache.Reset()
			ids, sum := s.samples[i], 0.0
			opts := &engine.ForwardOptions{Resume: resume, OnLogits: func(row0 int, logits []float32) {
				for r := 0; r*v < len(logits) && row0+r+1 < t; r++ {
					sum += numerics.NLL(logits[r*v:(r+1)*v], ids[row0+r+1])
				}
			}}
			_, err := e.Forward(ids, cache, opts)
			return sum, err
		}
	})
	return mean / float64(t-1), err
}

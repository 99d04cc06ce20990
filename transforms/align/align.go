// Package align computes the calibrated initialisation of K/V sharing
// (init=align for cla, mlkv and kvsharer). A layer that stops using its own
// K/V reads another layer's; from calibration text align fits, per K/V head,
// the linear maps that best carry the source's K/V onto the layer's own, and
// folds them into the layer's remaining weights without adding parameters:
//
//   - values: a least-squares map B (v_own ≈ v_src·B). Attention is linear in
//     V, so each query head's output becomes (Σ a·v_src)·B and B folds exactly
//     into that head's o_proj columns (W_o,h ← W_o,h·Bᵀ).
//   - keys: a general map would not commute with RoPE, but a complex scale c
//     on each rotary pair (a 2×2 rotation and scale) does. Since
//     q·(c∘k) = (c̄∘q)·k, c̄ folds into the query: into q_proj's rows and bias
//     where nothing sits between q_proj and RoPE (Qwen2), exactly. Qwen3's
//     q_norm (RMS norm, then a per-dimension weight shared by every head)
//     sits in between: a rotation commutes with the RMS normalisation but
//     not with a weight that differs between the pair's two dimensions, and
//     a scale that differs per head cancels in the normalisation; what folds
//     exactly is a real scale per rotary pair shared by the layer's heads,
//     into q_norm.weight. align fits that restricted map directly and
//     reports both.
//
// Then, layer by layer in order from the first aligned layer (each step
// sees every earlier fold in place, in the converted model):
//
//   - K score fit (aligned layers, scores.go): the K map is refitted on the
//     attention scores rather than on K, least squares weighted by the
//     original attention probabilities and centred per query; candidates
//     (cold, the K-energy fit, the exact folds, and on Qwen3 a per-head
//     complex scale folded approximately into q_proj through q_norm's
//     weight) are chosen by their true score error on held-out samples.
//   - o_proj refit (every layer): least squares (ridge toward the current
//     weight, chosen on one calibration sample in four held out; not
//     applied when no ridge beats the current weight there) so that the
//     layer's attention contribution in the converted model matches the
//     original layer's plus the drift of the residual stream entering the
//     layer (original − converted): it also absorbs what the restricted K
//     map and per-head V map miss.
//   - down_proj refit (every layer, mlp.go): the same for the MLP's output
//     on the converted model's MLP activations, against the original MLP's
//     output plus the drift of the residual stream after attention.
//
// The refits' parameters are whole matrices, so they want more calibration
// than the per-head maps: o_proj runs only with at least refitTokensPerDim
// tokens per attention-output dimension (e.g. 128 samples × 256 tokens on
// qwen3-micro), down_proj with half that per MLP dimension.
//
// Explained fractions are 1 − ‖target − fit‖² / ‖target‖² over the
// calibration tokens (uncentred, so RoPE leaves them unchanged); "cold" is
// the same measure for the unaligned conversion (the source used as is).
package align

import (
	"fmt"
	"math"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

// refitTokensPerDim is how many calibration tokens per attention-output
// dimension (Heads·HeadDim) the o_proj refit needs; with fewer it overfits
// (qwen3-micro CLA2 with 30 × 64 tokens: 5.2× the original's ppl with the
// refit, 4.6× without) and is skipped.
const refitTokensPerDim = 32

// Fit is what align measured for one layer that reads other K/V.
type Fit struct {
	Layer, Source int
	// Explained fractions of the layer's own K and V energy.
	KCold, KFit, KFolded float64 // KFit: per-head complex scale; KFolded: the map folded
	VCold, VFit          float64
	Scores               ScoreFit // the K map refitted on attention scores
}

// layerStats accumulates calibration statistics of one aligned layer.
type layerStats struct {
	layer, source int
	v             []*vStats // per original K/V head
	k             []*kStats
	kmap          kMap // the K map fitted on K (energy), folded first
}

// Apply fits the maps for every layer of the edit e (computed on m) whose K/V
// source changed and adds the folded tensors (o_proj, q_proj or q_norm) to
// e.Set, with one note per layer. It refuses looped models (a block shared by
// several logical layers cannot take one fold per layer).
func Apply(m *model.Model, e *transforms.Edit, env transforms.Env) ([]Fit, error) {
	c := m.Config
	old := m.Layout
	for l, p := range old.LayerMap {
		if p != l || old.Blocks() != c.Layers {
			return nil, fmt.Errorf("init=align folds maps into each layer's own weights; this model runs shared blocks (layer_map %v)", old.LayerMap)
		}
	}
	if len(env.Calib) == 0 {
		return nil, fmt.Errorf("init=align needs calibration text (convert --calib FILE; e.g. --calib-samples 32 --calib-ctx 256)")
	}
	pool := e.Config.KVHeads != c.KVHeads
	var stats []*layerStats
	for l := 0; l < c.Layers; l++ {
		src := e.Layout.KVSource[l]
		if !old.StoresKV(l) || (src == l && !pool) {
			continue
		}
		st := &layerStats{layer: l, source: src}
		for g := 0; g < c.KVHeads; g++ {
			st.v = append(st.v, newVStats(c.HeadDim))
			st.k = append(st.k, newKStats(c.HeadDim))
		}
		stats = append(stats, st)
	}
	if len(stats) == 0 {
		return nil, nil
	}
	if err := calibrate(m, e, pool, stats, env); err != nil {
		return nil, err
	}
	fits, err := fold(m, e, stats)
	if err != nil {
		return nil, err
	}
	tokens := 0
	for _, s := range env.Calib {
		tokens += len(s)
	}
	refit := tokens >= refitTokensPerDim*c.Heads*c.HeadDim
	if !refit {
		e.Notes = append(e.Notes, fmt.Sprintf("align o_proj refit skipped: %d calibration tokens, it needs %d (%d per attention-output dimension; e.g. --calib-samples 128 --calib-ctx 256)", tokens, refitTokensPerDim*c.Heads*c.HeadDim, refitTokensPerDim))
	}
	oe, err := engine.New(m)
	if err != nil {
		return nil, err
	}
	orig, err := runOrig(oe, env.Calib, stats[0].layer, env)
	if err != nil {
		return nil, err
	}
	byLayer := map[int]int{}
	for i, st := range stats {
		byLayer[st.layer] = i
	}
	// Layer by layer in order from the first aligned layer, so each fit sees
	// the earlier layers aligned.
	for l := stats[0].layer; l < c.Layers; l++ {
		i, aligned := byLayer[l]
		if aligned {
			st := stats[i]
			sf, err := fitScores(orig, m, e, st.layer, st.source, st.kmap, env)
			if err != nil {
				return nil, err
			}
			fits[i].Scores = sf
			e.Notes = append(e.Notes, fmt.Sprintf("align layer %d K score fit: %s; held-out score variance explained (under the original attention weights) %.3f (energy fit %.3f, cold %.3f)", sf.Layer, sf.Chosen, sf.Fit, sf.Energy, sf.Cold))
		}
		if !refit {
			continue
		}
		o, ps, err := refitLayer(orig, m, e, l, true, env)
		if err != nil {
			return nil, err
		}
		e.Notes = append(e.Notes, refitNote(o, "o_proj", "attention output", aligned))
		if need := refitTokensPerDim * c.Intermediate / 2; tokens < need {
			if l == stats[0].layer {
				e.Notes = append(e.Notes, fmt.Sprintf("align down_proj refit skipped: %d calibration tokens, it needs %d (%d per MLP dimension)", tokens, need, refitTokensPerDim/2))
			}
			continue
		}
		o, err = refitMLP(m, e, l, ps, env)
		if err != nil {
			return nil, err
		}
		e.Notes = append(e.Notes, refitNote(o, "down_proj", "MLP output", false))
	}
	return fits, nil
}

// refitNote describes one refit for the plan.
func refitNote(o OutFit, what, of string, aligned bool) string {
	from := "current weight"
	if aligned {
		from = "V-map fold"
	}
	if o.Ridge == 0 {
		return fmt.Sprintf("align layer %d %s refit: not applied (no ridge beat the %s on held-out calibration samples; %s explained %.3f)", o.Layer, what, from, of, o.VFold)
	}
	return fmt.Sprintf("align layer %d %s refit (ridge %g, chosen on held-out samples): %s explained %.3f (%s) → %.3f", o.Layer, what, o.Ridge, of, o.VFold, from, o.Refitted)
}

// calibrate runs the samples through the original model (targets) and, when
// heads are pooled, through the unaligned conversion (sources), and
// accumulates the statistics. Without pooling a source layer keeps its own
// weights, so the original model's run gives the sources too.
func calibrate(m *model.Model, e *transforms.Edit, pool bool, stats []*layerStats, env transforms.Env) error {
	orig, err := engine.New(m)
	if err != nil {
		return err
	}
	var conv *engine.Engine
	if pool {
		cm, err := e.Result(m)
		if err != nil {
			return err
		}
		if conv, err = engine.New(cm); err != nil {
			return err
		}
	}
	c := m.Config
	for i, ids := range env.Calib {
		if err := env.Ctx().Err(); err != nil {
			return fmt.Errorf("align: cancelled after %d calibration samples: %w", i, err)
		}
		tk, tv, err := capture(orig, ids)
		if err != nil {
			return fmt.Errorf("align: calibration sample %d: %w", i, err)
		}
		sk, sv, sheads := tk, tv, c.KVHeads
		if pool {
			if sk, sv, err = capture(conv, ids); err != nil {
				return fmt.Errorf("align: calibration sample %d (converted model): %w", i, err)
			}
			sheads = e.Config.KVHeads
		}
		for _, st := range stats {
			st.add(sk[st.source], sv[st.source], sheads, tk[st.layer], tv[st.layer], c.KVHeads, c.HeadDim, len(ids))
		}
	}
	env.Logf("align: %d calibration samples, %d layers fitted", len(env.Calib), len(stats))
	return nil
}

// capture runs ids through e and returns copies of every storing layer's K
// (after k_norm and RoPE) and V, [tokens × KVHeads·HeadDim].
func capture(e *engine.Engine, ids []int) (k, v [][]float32, err error) {
	n := e.Config().Layers
	k, v = make([][]float32, n), make([][]float32, n)
	opts := &engine.ForwardOptions{LastOnly: true, CaptureKV: func(l int, kl, vl []float32) {
		k[l] = append([]float32(nil), kl...)
		v[l] = append([]float32(nil), vl...)
	}}
	_, err = e.Forward(ids, e.NewCache(len(ids)), opts)
	return k, v, err
}

// add accumulates one sample: source K/V with sheads heads, target with
// theads (original head g reads pooled head g·sheads/theads).
func (st *layerStats) add(sk, sv []float32, sheads int, tk, tv []float32, theads, d, t int) {
	for g := 0; g < theads; g++ {
		sg := g * sheads / theads
		st.v[g].add(sv, sheads*d, sg*d, tv, theads*d, g*d, t)
		st.k[g].add(sk, sheads*d, sg*d, tk, theads*d, g*d, t)
	}
}

// explained is 1 − residual/total, or 0 when there is no energy.
func explained(res, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return 1 - res/total
}

// sum adds up f over the heads.
func sum[T any](xs []T, f func(T) float64) float64 {
	var s float64
	for _, x := range xs {
		s += f(x)
	}
	return s
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ProducerInit maps a transform's init option to transforms.KVShare.Init:
// align keeps the producers' own weights (the maps are fitted onto them).
func ProducerInit(init string) string {
	if init == "align" {
		return "keep"
	}
	return init
}

// Package kvsharer registers the "kvsharer" transform: KVSharer (Yang et
// al., 2024), a training-free search for layers that can read an earlier,
// dissimilar layer's K/V. It runs calibration samples through the engine,
// ranks layer pairs by the distance of their averaged K/V caches, and keeps
// each replacement whose final hidden states stay close to the original's;
// or (search=loss) keeps, round by round, the replacement with the lowest
// measured calibration NLL.
package kvsharer

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
	"github.com/retrofit-llm/retrofit/transforms/align"
)

func init() {
	transforms.Register(transforms.New(transforms.Spec{
		Name:    "kvsharer",
		Summary: "KVSharer: training-free search for layers that reuse an earlier layer's K/V (needs --calib)",
		Options: []transforms.Option{
			{Name: "share", Default: "0.25", Help: "fraction of layers to replace (0.25 or 1/3; rounded down, at least 1)"},
			{Name: "threshold", Default: "0.5", Help: "keep a replacement when the cosine similarity of final hidden states stays above this"},
			{Name: "order", Default: "dissimilar", Help: "visit layer pairs most dissimilar first (the paper) or similar first"},
			{Name: "search", Default: "distance", Help: "distance: the paper's K/V-distance order and similarity threshold; loss: each round keeps the replacement with the lowest measured calibration NLL (order and threshold unused)"},
			{Name: "init", Default: "keep", Help: "keep: replaced layers change nothing else (the paper); align: fit each replaced layer's K/V maps onto its source and fold them into its q/o weights"},
		},
		Edit: edit,
	}))
}

// Pair is one candidate replacement: layer I reads layer J's K/V.
type Pair struct {
	I, J     int
	Distance float64
}

func edit(m *model.Model, o transforms.Values, env transforms.Env) (*transforms.Edit, error) {
	a, err := parseArgs(m, o)
	if err != nil {
		return nil, err
	}
	samples, err := calibration(env.Calib, m.Config.VocabSize)
	if err != nil {
		return nil, err
	}
	s, err := newSearch(m, samples)
	if err != nil {
		return nil, err
	}
	pairs := s.pairs()
	if a.order == "dissimilar" {
		sort.SliceStable(pairs, func(x, y int) bool { return pairs[x].Distance > pairs[y].Distance })
	} else {
		sort.SliceStable(pairs, func(x, y int) bool { return pairs[x].Distance < pairs[y].Distance })
	}
	n := m.Config.Layers
	env.Logf("kvsharer: %d samples × %d tokens, %d pairs, order=%s, replacing %d of %d layers, threshold %g",
		len(samples), len(samples[0]), len(pairs), a.order, a.target, n, a.threshold)
	var kv []int
	var replaced, tried int
	if a.search == "loss" {
		kv, replaced, tried, err = s.lossSearch(a, env)
	} else {
		kv, replaced, tried, err = s.greedy(pairs, a, env)
	}
	if err != nil {
		return nil, err
	}
	env.Logf("kvsharer: kv_source %v (%d of %d layers replaced, %d pairs tried)", kv, replaced, n, tried)
	e, err := transforms.ShareKV(m, transforms.KVShare{KVSource: kv, Init: "keep"})
	if err != nil {
		return nil, err
	}
	if a.init == "align" {
		if _, err := align.Apply(m, e, env); err != nil {
			return nil, err
		}
	}
	e.Notes = append(e.Notes, fmt.Sprintf("search: %d pairs tried on %d samples × %d tokens, %d of %d layers replaced",
		tried, len(samples), len(samples[0]), replaced, a.target))
	if replaced < a.target {
		e.Notes = append(e.Notes, fmt.Sprintf("only %d of the %d layers asked for kept the similarity above %g", replaced, a.target, a.threshold))
	}
	return e, nil
}

// args are the checked options: how many layers to replace, the similarity
// to keep, and the order pairs are visited in.
type args struct {
	target    int
	threshold float64
	order     string
	search    string
	init      string
}

func parseArgs(m *model.Model, o transforms.Values) (args, error) {
	n := m.Config.Layers
	share, err := o.Fraction("share")
	if err != nil {
		return args{}, err
	}
	threshold, err := o.Fraction("threshold")
	if err != nil {
		return args{}, err
	}
	order, err := o.Choice("order", "dissimilar", "similar")
	if err != nil {
		return args{}, err
	}
	init, err := o.Choice("init", "keep", "align")
	if err != nil {
		return args{}, err
	}
	search, err := o.Choice("search", "distance", "loss")
	if err != nil {
		return args{}, err
	}
	if share <= 0 || share >= 1 {
		return args{}, fmt.Errorf("share=%s: want a fraction of the %d layers in (0, 1), e.g. 0.25 or 1/3", o["share"], n)
	}
	if threshold < -1 || threshold > 1 {
		return args{}, fmt.Errorf("threshold=%s: a cosine similarity, want -1 ≤ threshold ≤ 1", o["threshold"])
	}
	target := max(1, int(math.Floor(share*float64(n)+1e-9)))
	replaceable := 0
	for l := 1; l < n; l++ {
		if m.Layout.StoresKV(l) && !m.Layout.DepthMix[l] {
			replaceable++
		}
	}
	if target > replaceable {
		return args{}, fmt.Errorf("share=%s asks for %d of %d layers, but only %d can still be replaced (layers ≥ 1 that compute their own K/V and do not mix across depth); use share ≤ %d/%d",
			o["share"], target, n, replaceable, replaceable, n)
	}
	return args{target, threshold, order, search, init}, nil
}

// greedy visits the pairs in order and keeps each replacement whose final
// hidden states stay above the threshold, until a.target layers are
// replaced; it returns the kv_source map, the layers replaced and the pairs
// tried.
func (s *search) greedy(pairs []Pair, a args, env transforms.Env) (kv []int, replaced, tried int, err error) {
	kv = append([]int(nil), s.layout.KVSource...)
	for _, p := range pairs {
		if replaced == a.target {
			break
		}
		if err := env.Ctx().Err(); err != nil {
			return nil, 0, 0, fmt.Errorf("search cancelled after %d pairs: %w", tried, err)
		}
		if kv[p.I] != p.I {
			continue
		}
		cand := append([]int(nil), kv...)
		cand[p.I] = p.J
		cand = transforms.ResolveKV(cand)
		from := firstChange(kv, cand)
		sim, err := s.similarity(cand, from)
		if err != nil {
			return nil, 0, 0, err
		}
		tried++
		verdict := "rejected"
		if sim > a.threshold {
			kv = cand
			replaced++
			verdict = "accepted"
			if replaced < a.target {
				if err := s.accept(kv, from); err != nil {
					return nil, 0, 0, err
				}
			}
		}
		env.Logf("kvsharer: layer %d ← %d  distance %.4f  similarity %.4f  %s", p.I, p.J, p.Distance, sim, verdict)
	}
	return kv, replaced, tried, nil
}

// calibration checks the samples and truncates them to a common length.
func calibration(calib [][]int, vocab int) ([][]int, error) {
	if len(calib) == 0 {
		return nil, fmt.Errorf("kvsharer needs calibration samples (convert --calib FILE; the reproduction uses 30 samples of 64 tokens)")
	}
	t := math.MaxInt
	for i, s := range calib {
		if len(s) < 2 {
			return nil, fmt.Errorf("calibration sample %d has %d tokens; want at least 2", i, len(s))
		}
		for _, id := range s {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("calibration sample %d: token %d outside the vocabulary [0, %d)", i, id, vocab)
			}
		}
		t = min(t, len(s))
	}
	out := make([][]int, len(calib))
	for i, s := range calib {
		out[i] = s[:t]
	}
	return out, nil
}

// search holds the original model's calibration results.
type search struct {
	base    *engine.Engine
	samples [][]int
	hidden  [][]float32 // final normed hidden states per sample
	k, v    [][]float32 // per layer: K and V averaged over samples (nil when the layer stores none)
	cfg     model.Config
	layout  model.Layout

	// The accepted layout's run of every sample, so a candidate that changes
	// layers ≥ i resumes at the last checkpoint layer ≤ i instead of
	// recomputing the prefix (nil when the samples are too long to resume,
	// or no checkpoint fits in the budget).
	accepted []snapshot
	every    int // checkpoint layers are every, 2·every, … (< Layers)
}

// snapshot is one sample's run under the accepted layout: the residual
// stream entering each checkpoint layer (nil at the others) and the K/V
// cache.
type snapshot struct {
	inputs [][]float32
	cache  *engine.Cache
}

// streamBudget bounds the bytes of residual streams a search keeps (all
// samples, fp32): at Qwen3-0.6B's width, 32 samples × 512 tokens take 64 MB
// per layer, as much as their K/V, so keeping every layer's would double
// the search's memory.
const streamBudget = 96 << 20

// checkpointStep returns the smallest step k such that the streams entering
// layers k, 2k, … (< layers), perLayer bytes each, fit in budget; layers
// when not even one fits. Resuming at the checkpoint below the first
// changed layer recomputes at most k−1 unchanged layers, bit for bit as the
// accepted run computed them, so the search's results do not depend on k.
func checkpointStep(layers int, perLayer, budget int64) int {
	for k := 1; k < layers; k++ {
		if int64((layers-1)/k)*perLayer <= budget {
			return k
		}
	}
	return layers
}

// resumeAt returns the checkpoint layer a candidate whose first changed
// layer is from resumes at; 0 means a full pass.
func (s *search) resumeAt(from int) int {
	if s.accepted == nil {
		return 0
	}
	return from - from%s.every
}

// resumable reports whether samples of t tokens can resume mid-network (the
// engine resumes within one 512-token chunk).
func resumable(t int) bool { return t <= 512 }

// capture returns a ForwardOptions.LayerInput callback that records the
// residual stream entering every checkpoint layer from `from` on into snap.
// When the run resumes from snap's own inputs[from], the engine has already
// copied that input, so overwriting it with the same values is safe.
func (snap *snapshot) capture(from, every int) func(l int, x []float32) {
	return func(l int, x []float32) {
		if l >= from && l > 0 && l%every == 0 {
			snap.inputs[l] = append(snap.inputs[l][:0], x...)
		}
	}
}

// accept records kv as the accepted layout: every sample is re-run from the
// checkpoint at or below layer `from` (the first layer it changes) and its
// snapshot replaced. The replaced caches are collected sample by sample, so
// the new ones reuse their memory instead of the heap growing by all of them.
func (s *search) accept(kv []int, from int) error {
	if s.accepted == nil {
		return nil
	}
	l := s.layout.Clone()
	l.KVSource = kv
	e, err := s.base.WithLayout(l)
	if err != nil {
		return err
	}
	t := len(s.samples[0])
	at := s.resumeAt(from)
	for i, ids := range s.samples {
		old := s.accepted[i]
		next := snapshot{inputs: old.inputs, cache: e.NewCache(t)}
		opts := &engine.ForwardOptions{LastOnly: true, LayerInput: next.capture(at, s.every)}
		if at > 0 {
			opts.Resume = &engine.Resume{Layer: at, Input: old.inputs[at], Cache: old.cache}
		}
		if _, err := e.Forward(ids, next.cache, opts); err != nil {
			return err
		}
		s.accepted[i] = next
		runtime.GC()
	}
	return nil
}

func newSearch(m *model.Model, samples [][]int) (*search, error) {
	return newSearchBudget(m, samples, streamBudget)
}

// newSearchBudget is newSearch keeping at most budget bytes of residual
// streams.
func newSearchBudget(m *model.Model, samples [][]int, budget int64) (*search, error) {
	e, err := engine.New(m)
	if err != nil {
		return nil, err
	}
	c := m.Config
	s := &search{base: e, samples: samples, cfg: c, layout: m.Layout.Clone(),
		k: make([][]float32, c.Layers), v: make([][]float32, c.Layers)}
	t := len(samples[0])
	s.every = checkpointStep(c.Layers, int64(len(samples))*int64(t)*int64(c.Hidden)*4, budget)
	if resumable(t) && s.every < c.Layers {
		s.accepted = make([]snapshot, len(samples))
	}
	for si, ids := range samples {
		h := make([]float32, t*c.Hidden)
		cache := e.NewCache(t)
		opts := &engine.ForwardOptions{LastOnly: true, Hidden: h}
		capture := func(l int, k, v []float32) {
			if s.k[l] == nil {
				s.k[l] = make([]float32, len(k))
				s.v[l] = make([]float32, len(v))
			}
			for i := range k {
				s.k[l][i] += k[i]
				s.v[l][i] += v[i]
			}
		}
		opts.CaptureKV = capture
		if s.accepted != nil {
			s.accepted[si] = snapshot{inputs: make([][]float32, c.Layers), cache: cache}
			opts.LayerInput = s.accepted[si].capture(0, s.every)
		}
		if _, err := e.Forward(ids, cache, opts); err != nil {
			return nil, fmt.Errorf("calibration: %w", err)
		}
		s.hidden = append(s.hidden, h)
	}
	inv := 1 / float32(len(samples))
	for l := range s.k {
		for i := range s.k[l] {
			s.k[l][i] *= inv
			s.v[l][i] *= inv
		}
	}
	return s, nil
}

// distance is the mean over positions and heads of the L2 norm over the head
// dimension of a − b.
func (s *search) distance(a, b []float32) float64 {
	d := s.cfg.HeadDim
	var sum float64
	for o := 0; o < len(a); o += d {
		var sq float64
		for x := o; x < o+d; x++ {
			diff := float64(a[x]) - float64(b[x])
			sq += diff * diff
		}
		sum += math.Sqrt(sq)
	}
	return sum / float64(len(a)/d)
}

// pairs lists every i > j where both layers store K/V and i may be
// replaced, in (i, j) order, with distance (dK + dV) / 2.
func (s *search) pairs() []Pair {
	var out []Pair
	for i := 1; i < s.cfg.Layers; i++ {
		if s.k[i] == nil || s.layout.DepthMix[i] {
			continue
		}
		for j := 0; j < i; j++ {
			if s.k[j] == nil {
				continue
			}
			out = append(out, Pair{I: i, J: j, Distance: (s.distance(s.k[i], s.k[j]) + s.distance(s.v[i], s.v[j])) / 2})
		}
	}
	return out
}

// similarity runs the samples under kv_source kv and returns the cosine
// similarity of the flattened final hidden states with the original's,
// averaged over samples.
func (s *search) similarity(kv []int, from int) (float64, error) {
	t := len(s.samples[0])
	return s.mean(kv, from, func(e *engine.Engine) scoreFunc {
		h := make([]float32, t*s.cfg.Hidden)
		cache := e.NewCache(t)
		return func(i int, resume *engine.Resume) (float64, error) {
			cache.Reset()
			opts := &engine.ForwardOptions{LastOnly: true, Hidden: h, Resume: resume}
			if _, err := e.Forward(s.samples[i], cache, opts); err != nil {
				return 0, err
			}
			return cosine(h, s.hidden[i]), nil
		}
	})
}

// scoreFunc scores sample i on one engine, resuming at resume when non-nil.
type scoreFunc func(i int, resume *engine.Resume) (float64, error)

// mean scores every sample under kv_source kv and returns the scores' mean.
// Samples run concurrently on engines sharing the weights (one per CPU, each
// with the scorer newScorer makes for it); the mean is summed in sample
// order, so the result does not depend on scheduling. Layers below from are
// the accepted layout's: their results are reused from the checkpoint at or
// below from (resumeAt), not recomputed. The candidate's engines and
// buffers are collected before it returns, so the heap does not grow by
// one candidate's garbage after another.
func (s *search) mean(kv []int, from int, newScorer func(e *engine.Engine) scoreFunc) (float64, error) {
	l := s.layout.Clone()
	l.KVSource = kv
	scores := make([]float64, len(s.samples))
	workers := min(runtime.GOMAXPROCS(0), len(s.samples))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			e, err := s.base.WithLayout(l)
			if err != nil {
				errs[w] = err
				return
			}
			score := newScorer(e)
			for i := w; i < len(s.samples); i += workers {
				var resume *engine.Resume
				if at := s.resumeAt(from); at > 0 {
					resume = &engine.Resume{Layer: at, Input: s.accepted[i].inputs[at], Cache: s.accepted[i].cache}
				}
				if scores[i], err = score(i, resume); err != nil {
					errs[w] = err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	runtime.GC()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	var sum float64
	for _, x := range scores {
		sum += x
	}
	return sum / float64(len(s.samples)), nil
}

// firstChange returns the first layer whose K/V source differs.
func firstChange(a, b []int) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

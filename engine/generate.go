package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampler picks the next token from a row of logits.
type Sampler interface {
	Sample(logits []float32) int
}

// Greedy returns the sampler that picks the arg-max (the lowest id on ties).
func Greedy() Sampler { return greedy{} }

type greedy struct{}

func (greedy) Sample(logits []float32) int { return argmax(logits) }

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TopP samples from softmax(logits/temperature) restricted to the nucleus:
// the most likely tokens whose probabilities sum to at least P. A
// non-positive Temperature is greedy. The RNG is math/rand/v2's PCG seeded
// with Seed, so a run is reproducible.
type TopP struct {
	Temperature float64
	P           float64
	rng         *rand.Rand
	probs       []float64
	idx         []int32
}

// NewSampler returns a temperature/top-p sampler (topP ≥ 1 or ≤ 0 keeps the
// whole distribution).
func NewSampler(temperature, topP float64, seed uint64) *TopP {
	return &TopP{Temperature: temperature, P: topP, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Sample draws one token id.
func (s *TopP) Sample(logits []float32) int {
	if s.Temperature <= 0 {
		return argmax(logits)
	}
	n := len(logits)
	if cap(s.probs) < n {
		s.probs = make([]float64, n)
		s.idx = make([]int32, 0, n)
	}
	p := s.probs[:n]
	m := float64(logits[argmax(logits)])
	var sum float64
	for i, l := range logits {
		v := math.Exp((float64(l) - m) / s.Temperature)
		p[i] = v
		sum += v
	}
	for i := range p {
		p[i] /= sum
	}
	if s.P <= 0 || s.P >= 1 {
		return draw(p, s.rng.Float64(), nil)
	}
	// Tokens below (1-P)/n cannot be in the nucleus: together they hold
	// less than 1-P of the mass, so the tokens above them already reach P.
	cut := (1 - s.P) / float64(n) * 0.999
	idx := s.idx[:0]
	for i, v := range p {
		if v > cut {
			idx = append(idx, int32(i))
		}
	}
	slices.SortFunc(idx, func(a, b int32) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return int(a - b)
	})
	var mass float64
	for k, i := range idx {
		mass += p[i]
		if mass >= s.P {
			idx = idx[:k+1]
			break
		}
	}
	s.idx = idx
	return draw(p, s.rng.Float64()*mass, idx)
}

// draw returns the token where the running sum of p (over idx, or all ids)
// passes r.
func draw(p []float64, r float64, idx []int32) int {
	if idx == nil {
		for i, v := range p {
			r -= v
			if r < 0 {
				return i
			}
		}
		return len(p) - 1
	}
	for _, i := range idx {
		r -= p[i]
		if r < 0 {
			return int(i)
		}
	}
	return int(idx[len(idx)-1])
}

// Generate runs prompt through a fresh cache and samples up to maxNew tokens,
// one at a time through the cache. It stops after an id in eos (which is
// returned and reported) or when onToken returns false, and returns the
// generated ids.
func (e *Engine) Generate(ctx context.Context, prompt []int, maxNew int, eos []int, s Sampler, onToken func(id int) bool) ([]int, error) {
	cache := e.NewCache(len(prompt) + maxNew)
	return e.GenerateCache(ctx, cache, prompt, maxNew, eos, s, onToken)
}

// GenerateCache is Generate continuing from what cache already holds (a
// conversation), appending prompt and the generated tokens to it.
func (e *Engine) GenerateCache(ctx context.Context, cache *Cache, prompt []int, maxNew int, eos []int, s Sampler, onToken func(id int) bool) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("engine: Generate: empty prompt")
	}
	if s == nil {
		s = Greedy()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	opts := &ForwardOptions{LastOnly: true}
	logits, err := e.Forward(prompt, cache, opts)
	if err != nil {
		return nil, err
	}
	opts.Logits = logits
	out := make([]int, 0, maxNew)
	tok := []int{0}
	for len(out) < maxNew {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		id := s.Sample(logits)
		out = append(out, id)
		if onToken != nil && !onToken(id) || slices.Contains(eos, id) || len(out) == maxNew {
			break
		}
		tok[0] = id
		if logits, err = e.Forward(tok, cache, opts); err != nil {
			return out, err
		}
	}
	return out, nil
}

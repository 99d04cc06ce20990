package engine

import (
	"math"
	"testing"
)

func TestSamplers(t *testing.T) {
	logits := []float32{0, 3, 1, 2.5, -1}
	if got := Greedy().Sample(logits); got != 1 {
		t.Errorf("greedy: %d, want 1", got)
	}
	if got := NewSampler(0, 0.9, 1).Sample(logits); got != 1 {
		t.Errorf("temperature 0: %d, want 1", got)
	}
	// Top-p 0.5 keeps tokens 1 (p≈.53) only; top-p 0.8 keeps 1 and 3.
	p := make([]float64, len(logits))
	var z float64
	for i, l := range logits {
		p[i] = math.Exp(float64(l))
		z += p[i]
	}
	tests := []struct {
		topP    float64
		allowed map[int]bool
	}{
		{0.5, map[int]bool{1: true}},
		{0.8, map[int]bool{1: true, 3: true}},
		{1, map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true}},
	}
	for _, tt := range tests {
		s := NewSampler(1, tt.topP, 42)
		counts := map[int]int{}
		const draws = 4000
		for range draws {
			counts[s.Sample(logits)]++
		}
		for id, c := range counts {
			if !tt.allowed[id] {
				t.Errorf("top-p %g drew token %d (%d times) outside the nucleus", tt.topP, id, c)
			}
		}
		if tt.topP == 1 {
			// Frequencies follow the softmax.
			for id := range logits {
				f := float64(counts[id]) / draws
				if d := math.Abs(f - p[id]/z); d > 0.03 {
					t.Errorf("token %d drawn with frequency %.3f, softmax %.3f", id, f, p[id]/z)
				}
			}
		}
		// The same seed reproduces the draws.
		a, b := NewSampler(0.7, tt.topP, 7), NewSampler(0.7, tt.topP, 7)
		for i := range 50 {
			if x, y := a.Sample(logits), b.Sample(logits); x != y {
				t.Fatalf("seeded samplers diverge at draw %d: %d vs %d", i, x, y)
			}
		}
	}
}

func TestGenerateStops(t *testing.T) {
	e := microEngine(t, "qwen3-micro")
	prompt := []int{10, 20, 30}
	all, err := e.Generate(t.Context(), prompt, 8, nil, Greedy(), nil)
	if err != nil || len(all) != 8 {
		t.Fatalf("Generate: %v, %d tokens", err, len(all))
	}
	// An eos id stops generation after it is emitted.
	got, err := e.Generate(t.Context(), prompt, 8, []int{all[3]}, Greedy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := 0
	for all[stop] != all[3] {
		stop++
	}
	if len(got) != stop+1 {
		t.Errorf("with eos %d: %v, want the first %d of %v", all[3], got, stop+1, all)
	}
	// onToken returning false stops too.
	n := 0
	got, err = e.Generate(t.Context(), prompt, 8, nil, Greedy(), func(int) bool { n++; return n < 2 })
	if err != nil || len(got) != 2 {
		t.Errorf("onToken stop: %v, %v", got, err)
	}
}

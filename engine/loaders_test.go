package engine

import (
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
)

// TestLoadedFormats runs the checkpoints the loaders read (lazy, memory
// mapped) and compares logits_a with the transformers references.
func TestLoadedFormats(t *testing.T) {
	tests := []struct {
		fixture, refs string
		tol           float64
	}{
		{"qwen3-micro", "qwen3-micro", 1e-3},
		{"qwen2-micro", "qwen2-micro", 1e-3},
		{"qwen3-micro-bf16.gguf", "qwen3-micro", 1e-3},
		{"qwen2-micro-f16.gguf", "qwen2-micro", 1e-3}, // bf16 values fit f16 here
		// Quantized weights: close, not exact (measured 0.157).
		{"qwen3-micro-q8_0.gguf", "qwen3-micro", 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			m, err := loaders.Load(testutil.Fixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			e, err := New(m)
			if err != nil {
				t.Fatal(err)
			}
			refs := reftest.Load(t, tt.refs)
			ids := refs.I32["ids_a"]
			got, err := e.Forward(ids, e.NewCache(len(ids)), nil)
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(got, refs.F32["logits_a"])
			t.Logf("%s: max |Δlogit| = %.3g", tt.fixture, d)
			if d > tt.tol {
				t.Errorf("max |Δlogit| = %g > %g", d, tt.tol)
			}
		})
	}
}

package finetune

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
)

// TestRunStopsOnNonFinite: a learning rate that blows the weights up makes
// a later step's loss NaN or Inf; training stops with an error naming the
// step before that update, and the last checkpoint saved is intact and
// resumable. Weights that are NaN from the start are refused before any step.
func TestRunStopsOnNonFinite(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyRunConfig(t, dir, 50)
	cfg.LR, cfg.MinLR, cfg.Warmup, cfg.Clip, cfg.SaveEvery, cfg.EvalEvery = 1e37, 1e37, -1, -1, 1, 0
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "stopped before the update") || !strings.Contains(err.Error(), "last good checkpoint") {
		t.Fatalf("error %v", err)
	}
	n, _ := NewNet(cfg.Model)
	st, lerr := LoadCheckpoint(filepath.Join(dir, CheckpointName), n)
	if lerr != nil {
		t.Fatalf("the kept checkpoint does not load: %v", lerr)
	}
	if !strings.Contains(err.Error(), "step ") || st.Step < 1 {
		t.Errorf("error %v, checkpoint at step %d", err, st.Step)
	}
	t.Logf("%v (checkpoint at step %d)", err, st.Step)

	bad := tinyRunConfig(t, t.TempDir(), 5)
	norm := bad.Model.Tensor(model.FinalNormName)
	v := make([]float32, norm.Elements())
	v[0] = float32(math.NaN())
	bad.Model.SetTensor(model.FromFloat32(norm.Name, norm.Shape, v))
	if _, err := Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "before training") {
		t.Errorf("NaN weights: error %v", err)
	}
}

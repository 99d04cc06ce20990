package engine

import (
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
)

// TestResume checks that a forward pass resumed at layer 3 from a previous
// run's residual stream and cache equals the full pass bit for bit, for a
// layout that changes only layers ≥ 3 (what the KVSharer search evaluates).
func TestResume(t *testing.T) {
	m := reftest.Model(t, "qwen3-micro")
	ref := reftest.Load(t, "qwen3-micro")
	ids := ref.I32["ids_a"]
	base, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	const at = 3
	var input []float32
	baseCache := base.NewCache(len(ids))
	if _, err := base.Forward(ids, baseCache, &ForwardOptions{LayerInput: func(l int, x []float32) {
		if l == at {
			input = append([]float32(nil), x...)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	l := base.Layout()
	l.KVSource[3], l.KVSource[5] = 1, 4
	cand, err := base.WithLayout(l)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Config.Hidden
	wantHidden := make([]float32, len(ids)*h)
	want, err := cand.Forward(ids, cand.NewCache(len(ids)), &ForwardOptions{Hidden: wantHidden})
	if err != nil {
		t.Fatal(err)
	}
	gotHidden := make([]float32, len(ids)*h)
	got, err := cand.Forward(ids, cand.NewCache(len(ids)), &ForwardOptions{Hidden: gotHidden,
		Resume: &Resume{Layer: at, Input: input, Cache: baseCache}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: resumed %v, full pass %v", i, got[i], want[i])
		}
	}
	for i := range wantHidden {
		if gotHidden[i] != wantHidden[i] {
			t.Fatalf("hidden %d: resumed %v, full pass %v", i, gotHidden[i], wantHidden[i])
		}
	}
	var diff float32
	orig := mustForward(t, base, ids)
	for i := range want {
		diff = max(diff, abs32(want[i]-orig[i]))
	}
	if diff == 0 {
		t.Fatal("the changed layout gives the original logits; the test would not notice a resume that ignores the new layout")
	}

	bad := []struct {
		name string
		r    *Resume
		want string
	}{
		{"layer", &Resume{Layer: 99, Input: input, Cache: baseCache}, "Resume.Layer"},
		{"input", &Resume{Layer: at, Input: input[:h], Cache: baseCache}, "Resume.Input"},
		{"cache", &Resume{Layer: at, Input: input, Cache: base.NewCache(4)}, "Resume.Cache"},
	}
	for _, tc := range bad {
		_, err := cand.Forward(ids, cand.NewCache(len(ids)), &ForwardOptions{Resume: tc.r})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want mention of %s", tc.name, err, tc.want)
		}
	}
	// A layout that differs below the resume layer is refused.
	l2 := base.Layout()
	l2.KVSource[1] = 0
	early, err := base.WithLayout(l2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := early.Forward(ids, early.NewCache(len(ids)), &ForwardOptions{Resume: &Resume{Layer: at, Input: input, Cache: baseCache}}); err == nil {
		t.Error("resuming above a layer whose K/V storage changed was accepted")
	}
}

func mustForward(t *testing.T, e *Engine, ids []int) []float32 {
	t.Helper()
	out, err := e.Forward(ids, e.NewCache(len(ids)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

package all_test

import (
	"testing"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

// TestInitNumerics checks the values new tensors get, on a synthetic 4-layer
// model (2 K/V heads of dim 2, hidden 8) whose block p holds 100·p + i at
// index i of every tensor.
func TestInitNumerics(t *testing.T) {
	type want struct {
		tensor string
		shape  []int
		value  func(i int) float32
	}
	affine := func(a float32) func(int) float32 { return func(i int) float32 { return a + float32(i) } }
	kp := func(p int) string { return model.BlockName(p, "self_attn.k_proj.weight") }
	vp := func(p int) string { return model.BlockName(p, "self_attn.v_proj.weight") }
	kb := func(p int) string { return model.BlockName(p, "self_attn.k_proj.bias") }
	kn := func(p int) string { return model.BlockName(p, "self_attn.k_norm.weight") }
	qp := func(p int) string { return model.BlockName(p, "self_attn.q_proj.weight") }
	down := func(p int) string { return model.BlockName(p, "mlp.down_proj.weight") }
	cases := []struct {
		desc, name string
		opts       map[string]string
		checks     []want
		absent     []string
	}{
		{"cla mean", "cla", map[string]string{"init": "mean"}, []want{
			{kp(0), []int{4, 8}, affine(50)}, {vp(0), []int{4, 8}, affine(50)}, {kb(0), []int{4}, affine(50)},
			{kn(0), []int{2}, affine(50)}, {kp(2), []int{4, 8}, affine(250)}, {qp(1), []int{8, 8}, affine(100)},
		}, []string{kp(1), vp(3), kb(1), kn(3)}},
		{"cla keep", "cla", nil, []want{{kp(0), []int{4, 8}, affine(0)}, {kp(2), []int{4, 8}, affine(200)}}, []string{kp(1)}},
		{"cla3 partial mean", "cla", map[string]string{"factor": "3", "init": "mean"}, []want{
			{kp(0), []int{4, 8}, affine(100)}, {kp(3), []int{4, 8}, affine(300)},
		}, []string{kp(1), kp(2)}},
		// (((L0 + L1)/2 + L2)/2 + L3)/2 = L0/8 + L1/8 + L2/4 + L3/2 → 12.5 + 50 + 150 = 212.5.
		{"mlkv running", "mlkv", map[string]string{"kv_layers": "1", "init": "running"}, []want{
			{kp(0), []int{4, 8}, affine(212.5)}, {kn(0), []int{2}, affine(212.5)}, {kb(0), []int{4}, affine(212.5)},
		}, []string{kp(1), kp(2), kp(3)}},
		{"mlkv mean", "mlkv", map[string]string{"kv_layers": "1", "init": "mean"}, []want{{vp(0), []int{4, 8}, affine(150)}}, nil},
		// KV layers [0 2], each the mean of two layers, then heads (rows 0-1, 2-3) pooled:
		// a weight row r averages rows r and r+2 (index +16), a bias entry i entries i and i+2.
		{"mlkv heads", "mlkv", map[string]string{"kv_layers": "2", "kv_heads": "1"}, []want{
			{kp(0), []int{2, 8}, affine(50 + 8)}, {vp(2), []int{2, 8}, affine(250 + 8)},
			{kb(2), []int{2}, affine(250 + 1)}, {kn(0), []int{2}, affine(50)},
		}, []string{kp(1), kp(3)}},
		{"mlkv heads keep", "mlkv", map[string]string{"kv_layers": "4", "kv_heads": "1"}, []want{
			{kp(1), []int{2, 8}, affine(100 + 8)}, {kn(1), []int{2}, affine(100)},
		}, nil},
		{"looped average", "looped", map[string]string{"block": "2"}, []want{
			{qp(0), []int{8, 8}, affine(100)}, {down(1), []int{8, 8}, affine(200)}, {kp(1), []int{4, 8}, affine(200)},
		}, []string{qp(2), kp(3)}},
		{"looped stepwise", "looped", map[string]string{"block": "2", "init": "stepwise"}, []want{
			{qp(0), []int{8, 8}, affine(0)}, {qp(1), []int{8, 8}, affine(200)}, {kn(1), []int{2}, affine(200)},
		}, []string{qp(2), kp(3)}},
		{"looped lower", "looped", map[string]string{"block": "2", "init": "lower"}, []want{
			{qp(1), []int{8, 8}, affine(100)},
		}, []string{qp(2), kp(3)}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			m := synthetic(t, 4, 2, true, true)
			apply(t, m, tc.name, tc.opts, transforms.Env{})
			for _, w := range tc.checks {
				tn := m.Tensor(w.tensor)
				if tn == nil {
					t.Fatalf("no tensor %q", w.tensor)
				}
				if !equalInts(tn.Shape, w.shape) {
					t.Errorf("%s: shape %v, want %v", w.tensor, tn.Shape, w.shape)
				}
				v := values(t, m, w.tensor)
				for i, x := range v {
					if x != w.value(i) {
						t.Fatalf("%s[%d] = %g, want %g", w.tensor, i, x, w.value(i))
					}
				}
			}
			for _, n := range tc.absent {
				if m.Tensor(n) != nil {
					t.Errorf("tensor %q should be dropped", n)
				}
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

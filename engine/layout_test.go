package engine

import (
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
)

// testLayouts returns the layouts the decode tests run on an n-layer model.
func testLayouts(n int) map[string]model.Layout {
	out := map[string]model.Layout{"default": model.DefaultLayout(n)}

	kv := model.DefaultLayout(n)
	for l := 1; l < n; l += 2 {
		kv.KVSource[l] = l - 1
	}
	out["kvsource-cla2"] = kv

	loop := model.DefaultLayout(n)
	for l := range loop.LayerMap {
		loop.LayerMap[l] = l % (n / 2)
	}
	out["layermap-cycle"] = loop

	for _, stride := range []int{3, 1} {
		dm := model.DefaultLayout(n)
		for l := range dm.DepthMix {
			dm.DepthMix[l] = true
		}
		dm.DepthStride = stride
		out["depthmix-stride"+string(rune('0'+stride))] = dm
	}

	// Depth-Attention over candidates that read another layer's cache.
	mixed := kv.Clone()
	for l := 2; l < n; l += 2 {
		mixed.DepthMix[l] = true
	}
	mixed.DepthStride = 1
	out["cla2+depthmix"] = mixed
	return out
}

// TestDecodeEqualsPrefill decodes ids_b one token at a time (after a short
// prefill) and compares every row with a single prefill, for every layout.
func TestDecodeEqualsPrefill(t *testing.T) {
	testutil.SkipIfEmulated(t, "token-by-token decode of every layout; the same engine code is checked natively, TestResume and TestLayoutRefs still run")
	for _, name := range microModels {
		base := microEngine(t, name)
		refs := reftest.Load(t, name)
		ids := refs.I32["ids_b"]
		v := base.Config().VocabSize
		def, err := base.Forward(ids, base.NewCache(len(ids)), nil)
		if err != nil {
			t.Fatal(err)
		}
		for lname, layout := range testLayouts(base.Config().Layers) {
			t.Run(name+"/"+lname, func(t *testing.T) {
				e, err := base.WithLayout(layout)
				if err != nil {
					t.Fatal(err)
				}
				want, err := e.Forward(ids, e.NewCache(len(ids)), nil)
				if err != nil {
					t.Fatal(err)
				}
				if layout.IsDefault() {
					if d := maxAbsDiff(want, def); d != 0 {
						t.Fatalf("WithLayout(default) changed the logits by %g", d)
					}
				} else if d := maxAbsDiff(want, def); d < 1e-2 {
					t.Fatalf("layout changed the logits by only %g: is it applied?", d)
				}
				const pre = 7
				cache := e.NewCache(len(ids))
				got, err := e.Forward(ids[:pre], cache, nil)
				if err != nil {
					t.Fatal(err)
				}
				opts := &ForwardOptions{LastOnly: true}
				for i := pre; i < len(ids); i++ {
					row, err := e.Forward(ids[i:i+1], cache, opts)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, row...)
				}
				d := maxAbsDiff(got, want)
				t.Logf("decode vs prefill: max |Δlogit| = %.3g over %d×%d", d, len(ids), v)
				if d > 1e-4 {
					t.Errorf("decode vs prefill: max |Δlogit| = %g > 1e-4", d)
				}
				wantBytes := int64(layout.KVLayers()*2*e.Config().KVHeads*e.Config().HeadDim*4) * int64(len(ids))
				if cache.Len() != len(ids) || cache.Bytes() != wantBytes {
					t.Errorf("cache: %d tokens, %d bytes; want %d, %d", cache.Len(), cache.Bytes(), len(ids), wantBytes)
				}
				if 2*e.KVBytesPerToken()*int64(len(ids)) != wantBytes {
					t.Errorf("KVBytesPerToken %d is not half the fp32 cache bytes per token %d", e.KVBytesPerToken(), wantBytes/int64(len(ids)))
				}
			})
		}
	}
}

// TestDroppedKVTensors runs a model whose sharing layers have lost their K/V
// tensors, as a transform leaves it, and checks it matches WithLayout.
func TestDroppedKVTensors(t *testing.T) {
	m := reftest.Model(t, "qwen3-micro")
	base := microEngine(t, "qwen3-micro")
	layout := testLayouts(m.Config.Layers)["kvsource-cla2"]
	for l := 1; l < m.Config.Layers; l += 2 {
		for _, s := range []string{"k_proj.weight", "v_proj.weight", "k_norm.weight"} {
			if !m.RemoveTensor(model.BlockName(l, "self_attn."+s)) {
				t.Fatalf("no tensor %s in block %d", s, l)
			}
		}
	}
	if _, err := New(m); err == nil || !strings.Contains(err.Error(), "model.layers.1.self_attn.k_") {
		t.Fatalf("New with the default layout and dropped K/V: err = %v, want one naming layer 1's k tensors", err)
	}
	m.Layout = layout
	e, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := base.WithLayout(layout)
	if err != nil {
		t.Fatal(err)
	}
	ids := reftest.Load(t, "qwen3-micro").I32["ids_a"]
	a, err := e.Forward(ids, e.NewCache(len(ids)), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := shared.Forward(ids, shared.NewCache(len(ids)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(a, b); d != 0 {
		t.Errorf("dropped-tensor model differs from WithLayout by %g", d)
	}
	_, err = e.WithLayout(model.DefaultLayout(m.Config.Layers))
	if err == nil || !strings.Contains(err.Error(), `"model.layers.1.self_attn.k_proj.weight"`) {
		t.Errorf("WithLayout(default) on dropped K/V: err = %v, want one naming model.layers.1.self_attn.k_proj.weight", err)
	}
}

func TestBadInput(t *testing.T) {
	e := microEngine(t, "qwen3-micro")
	n := e.Config().Layers
	other, err := e.WithLayout(testLayouts(n)["kvsource-cla2"])
	if err != nil {
		t.Fatal(err)
	}
	badDepth := testLayouts(n)["kvsource-cla2"]
	badDepth.DepthMix[1] = true
	badDepth.DepthStride = 1
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"token out of range", func() error { _, err := e.Forward([]int{1, 8192}, e.NewCache(4), nil); return err }, "token 8192 (index 1)"},
		{"negative token", func() error { _, err := e.Forward([]int{-1}, e.NewCache(4), nil); return err }, "token -1"},
		{"no tokens", func() error { _, err := e.Forward(nil, e.NewCache(4), nil); return err }, "no tokens"},
		{"cache full", func() error { _, err := e.Forward([]int{1, 2, 3}, e.NewCache(2), nil); return err }, "at most 2 tokens"},
		{"cache of another layout", func() error { _, err := e.Forward([]int{1}, other.NewCache(2), nil); return err }, "another layout"},
		{"layout too short", func() error { _, err := e.WithLayout(model.DefaultLayout(n - 1)); return err }, "entries for 6 layers"},
		{"depth mix without own K/V", func() error { _, err := e.WithLayout(badDepth); return err }, "depth_mix[1]"},
		{"small Hidden", func() error {
			_, err := e.Forward([]int{1, 2}, e.NewCache(2), &ForwardOptions{Hidden: make([]float32, 3)})
			return err
		}, "Hidden holds 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestOptions checks LastOnly, LogitsFrom, Hidden, CaptureKV and Truncate
// against a plain prefill.
func TestOptions(t *testing.T) {
	e := microEngine(t, "qwen3-micro")
	c := e.Config()
	ids := reftest.Load(t, "qwen3-micro").I32["ids_a"]
	n, v := len(ids), c.VocabSize
	all, err := e.Forward(ids, e.NewCache(n), nil)
	if err != nil {
		t.Fatal(err)
	}
	last, err := e.Forward(ids, e.NewCache(n), &ForwardOptions{LastOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(last, all[(n-1)*v:]); len(last) != v || d > 1e-4 {
		t.Errorf("LastOnly: %d values, max |Δ| %g", len(last), d)
	}
	hidden := make([]float32, n*c.Hidden)
	captured := 0
	cache := e.NewCache(n)
	tail, err := e.Forward(ids, cache, &ForwardOptions{LogitsFrom: 10, Hidden: hidden, CaptureKV: func(l int, k, v []float32) {
		captured++
		if len(k) != n*c.KVHeads*c.HeadDim || len(v) != len(k) {
			t.Errorf("CaptureKV layer %d: %d keys, %d values", l, len(k), len(v))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(tail, all[10*v:]); len(tail) != (n-10)*v || d > 1e-4 {
		t.Errorf("LogitsFrom: %d values, max |Δ| %g", len(tail), d)
	}
	if captured != c.Layers {
		t.Errorf("CaptureKV called %d times, want %d", captured, c.Layers)
	}
	// The head applied to Hidden gives the logits back.
	var dot float64
	head5 := make([]float32, c.Hidden)
	e.w.head.widen(head5, 5, 6)
	for j := 0; j < c.Hidden; j++ {
		dot += float64(hidden[(n-1)*c.Hidden+j]) * float64(head5[j])
	}
	if d := dot - float64(all[(n-1)*v+5]); d > 1e-4 || d < -1e-4 {
		t.Errorf("Hidden·head = %g, logit %g", dot, all[(n-1)*v+5])
	}
	// Truncate, then re-run the tail: the same logits again.
	cache.Truncate(20)
	again, err := e.Forward(ids[20:], cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(again, all[20*v:]); d > 1e-4 {
		t.Errorf("after Truncate(20): max |Δ| %g", d)
	}
}

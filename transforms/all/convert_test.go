package all_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

// Parameter counts derived by hand from the configs.
//
// qwen3-micro: embed 8192·256 = 2,097,152 (tied), norm 256, and per block
// norms 512 + q 65,536 + o 65,536 + MLP 3·196,608 + q_norm 32 = 721,440
// without K/V, plus K/V 2·64·256 + k_norm 32 = 32,800: 754,240 per block,
// 6,622,848 in all; KV cache 2·6 layers·2 heads·32·2 B = 1,536 B/token.
//
// qwen2-micro: embed and head 2·8192·192 = 3,145,728, norm 192, per block
// norms 384 + q 36,864 + q bias 192 + o 36,864 + MLP 3·98,304 = 369,216
// without K/V, plus K/V 2·64·192 + biases 128 = 24,704: 393,920 per block,
// 4,721,600 in all; KV cache 2·4·2·32·2 = 1,024 B/token.
const (
	q3Params, q3KV, q3Block, q3KVPart = 6622848, 1536, 754240, 32800
	q2Params, q2KV, q2Block, q2KVPart = 4721600, 1024, 393920, 24704
)

func TestConvertFixtures(t *testing.T) {
	type step struct {
		name string
		opts map[string]string
	}
	cases := []struct {
		desc, fixture string
		steps         []step
		params, kv    int64
		kvSource      []int
		layerMap      []int
		kvHeads       int
	}{
		{"cla2", "qwen3-micro", []step{{"cla", nil}}, q3Params - 3*q3KVPart, q3KV / 2, []int{0, 0, 2, 2, 4, 4}, nil, 2},
		{"cla2 mean", "qwen3-micro", []step{{"cla", map[string]string{"init": "mean"}}}, q3Params - 3*q3KVPart, q3KV / 2, []int{0, 0, 2, 2, 4, 4}, nil, 2},
		{"cla3 mean", "qwen3-micro", []step{{"cla", map[string]string{"factor": "3", "init": "mean", "strict": "true"}}}, q3Params - 4*q3KVPart, q3KV / 3, []int{0, 0, 0, 3, 3, 3}, nil, 2},
		{"cla4 partial", "qwen3-micro", []step{{"cla", map[string]string{"factor": "4"}}}, q3Params - 4*q3KVPart, 512, []int{0, 0, 0, 0, 4, 4}, nil, 2},
		{"cla2 qwen2", "qwen2-micro", []step{{"cla", nil}}, q2Params - 2*q2KVPart, q2KV / 2, []int{0, 0, 2, 2}, nil, 2},
		{"mlkv 3", "qwen3-micro", []step{{"mlkv", map[string]string{"kv_layers": "3"}}}, q3Params - 3*q3KVPart, 768, []int{0, 0, 2, 2, 4, 4}, nil, 2},
		// 2 KV layers [0 3], each pooled to 1 head: K/V rows 64 → 32 lose 2·32·256 per block.
		{"mlkv 2 heads 1", "qwen3-micro", []step{{"mlkv", map[string]string{"kv_layers": "2", "kv_heads": "1"}}}, q3Params - 4*q3KVPart - 2*2*32*256, 256, []int{0, 0, 0, 3, 3, 3}, nil, 1},
		// 1 KV layer pooled to 1 head: rows and biases halve (2·32·192 + 2·32).
		{"mlkv 1 heads 1 running", "qwen2-micro", []step{{"mlkv", map[string]string{"kv_layers": "1", "kv_heads": "1", "init": "running"}}}, q2Params - 3*q2KVPart - 2*32*192 - 2*32, 128, []int{0, 0, 0, 0}, nil, 1},
		{"mlkv heads only", "qwen2-micro", []step{{"mlkv", map[string]string{"kv_layers": "4", "kv_heads": "1"}}}, q2Params - 4*(2*32*192+2*32), 512, []int{0, 1, 2, 3}, nil, 1},
		{"looped 3 average", "qwen3-micro", []step{{"looped", map[string]string{"block": "3"}}}, q3Params - 3*q3Block, q3KV, nil, []int{0, 1, 2, 0, 1, 2}, 2},
		{"looped 2 stepwise", "qwen2-micro", []step{{"looped", map[string]string{"block": "2", "init": "stepwise"}}}, q2Params - 2*q2Block, q2KV, nil, []int{0, 1, 0, 1}, 2},
		{"looped 1 lower", "qwen2-micro", []step{{"looped", map[string]string{"block": "1", "init": "lower"}}}, q2Params - 3*q2Block, q2KV, nil, []int{0, 0, 0, 0}, 2},
		{"depthattn", "qwen3-micro", []step{{"depthattn", nil}}, q3Params, q3KV, nil, nil, 2},
		// looped then cla: every block still runs a layer that stores K/V.
		{"looped→cla", "qwen3-micro", []step{{"looped", map[string]string{"block": "3"}}, {"cla", map[string]string{"init": "mean"}}}, q3Params - 3*q3Block, q3KV / 2, []int{0, 0, 2, 2, 4, 4}, []int{0, 1, 2, 0, 1, 2}, 2},
		// cla then looped: block 1 runs layers 1 (reads 0) and 4 (stores), so its K/V come from layer 4.
		{"cla→looped", "qwen3-micro", []step{{"cla", nil}, {"looped", map[string]string{"block": "3"}}}, q3Params - 3*q3Block, q3KV / 2, []int{0, 0, 2, 2, 4, 4}, []int{0, 1, 2, 0, 1, 2}, 2},
		// cla2 then looped 2: block 1 runs layers 1, 3, 5, all readers: it loses K/V.
		{"cla→looped 2", "qwen3-micro", []step{{"cla", nil}, {"looped", map[string]string{"block": "2"}}}, q3Params - 4*q3Block - q3KVPart, q3KV / 2, []int{0, 0, 2, 2, 4, 4}, []int{0, 1, 0, 1, 0, 1}, 2},
		// looped 3 then mlkv 2 (KV layers 0, 3, both run by block 0): blocks 1 and 2 lose K/V.
		{"looped→mlkv", "qwen3-micro", []step{{"looped", map[string]string{"block": "3"}}, {"mlkv", map[string]string{"kv_layers": "2"}}}, q3Params - 3*q3Block - 2*q3KVPart, 512, []int{0, 0, 0, 3, 3, 3}, []int{0, 1, 2, 0, 1, 2}, 2},
		{"cla→depthattn", "qwen3-micro", []step{{"cla", nil}, {"depthattn", nil}}, q3Params - 3*q3KVPart, q3KV / 2, []int{0, 0, 2, 2, 4, 4}, nil, 2},
		// mlkv [0 2 4] then cla3: group (3 4 5) starts at layer 3, which reads 2, which now reads 0.
		{"mlkv→cla", "qwen3-micro", []step{{"mlkv", map[string]string{"kv_layers": "3"}}, {"cla", map[string]string{"factor": "3"}}}, q3Params - 5*q3KVPart, 256, []int{0, 0, 0, 0, 0, 0}, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			m := load(t, tc.fixture)
			base := map[string]int64{"qwen3-micro": q3Params, "qwen2-micro": q2Params}[tc.fixture]
			baseKV := map[string]int64{"qwen3-micro": q3KV, "qwen2-micro": q2KV}[tc.fixture]
			if m.ParamCount() != base || m.KVBytesPerToken() != baseKV {
				t.Fatalf("fixture has %d params, %d KV bytes; derived %d, %d", m.ParamCount(), m.KVBytesPerToken(), base, baseKV)
			}
			var first, last *transforms.Plan
			for _, s := range tc.steps {
				last = apply(t, m, s.name, s.opts, transforms.Env{})
				if first == nil {
					first = last
				}
			}
			if first.ParamsBefore != base || first.KVBytesBefore != baseKV {
				t.Errorf("plan before: %d params, %d KV bytes; want %d, %d", first.ParamsBefore, first.KVBytesBefore, base, baseKV)
			}
			if last.ParamsAfter != tc.params || last.KVBytesAfter != tc.kv {
				t.Errorf("after: %d params, %d KV bytes/token; want %d, %d", last.ParamsAfter, last.KVBytesAfter, tc.params, tc.kv)
			}
			n := m.Config.Layers
			want := model.DefaultLayout(n)
			if tc.kvSource != nil {
				want.KVSource = tc.kvSource
			}
			if tc.layerMap != nil {
				want.LayerMap = tc.layerMap
			}
			if !reflect.DeepEqual(m.Layout.KVSource, want.KVSource) || !reflect.DeepEqual(m.Layout.LayerMap, want.LayerMap) {
				t.Errorf("layout kv_source %v layer_map %v; want %v %v", m.Layout.KVSource, m.Layout.LayerMap, want.KVSource, want.LayerMap)
			}
			if m.Config.KVHeads != tc.kvHeads {
				t.Errorf("KV heads %d, want %d", m.Config.KVHeads, tc.kvHeads)
			}
			if len(m.Provenance) != len(tc.steps) {
				t.Errorf("provenance %+v", m.Provenance)
			}
		})
	}
}

func TestIdentityTransforms(t *testing.T) {
	for _, tc := range []struct {
		fixture, name string
		opts          map[string]string
	}{
		{"qwen3-micro", "cla", map[string]string{"factor": "1", "init": "mean"}},
		{"qwen2-micro", "cla", map[string]string{"factor": "1"}},
		{"qwen3-micro", "looped", map[string]string{"block": "6"}},
		{"qwen2-micro", "looped", map[string]string{"block": "4", "init": "average"}},
		{"qwen2-micro", "looped", map[string]string{"block": "4", "init": "stepwise"}},
		{"qwen3-micro", "mlkv", map[string]string{"kv_layers": "6", "init": "running"}},
	} {
		t.Run(tc.fixture+" "+tc.name, func(t *testing.T) {
			m := load(t, tc.fixture)
			before := snapshot(t, m)
			p := apply(t, m, tc.name, tc.opts, transforms.Env{})
			if !m.Layout.IsDefault() {
				t.Errorf("layout %+v is not the identity", m.Layout)
			}
			if len(p.Dropped)+len(p.Added)+len(p.Replaced) != 0 || p.ParamsAfter != p.ParamsBefore {
				t.Errorf("plan changes tensors: %v", p)
			}
			if after := snapshot(t, m); !reflect.DeepEqual(before, after) {
				t.Error("tensors are not bit-identical")
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		steps   []string // earlier transforms, default options
		name    string
		opts    map[string]string
		want    string
	}{
		{"qwen3-micro", nil, "cla", map[string]string{"factor": "4", "strict": "true"}, "factor=4 does not divide 6 layers; strict=true needs one of 1, 2, 3, 6"},
		{"qwen3-micro", nil, "cla", map[string]string{"factor": "0"}, "factor=0: want 1 ≤ factor ≤ 6"},
		{"qwen3-micro", nil, "cla", map[string]string{"factor": "two"}, `factor="two" is not an integer`},
		{"qwen3-micro", nil, "cla", map[string]string{"init": "running"}, `init="running": want one of keep, mean`},
		{"qwen3-micro", nil, "cla", map[string]string{"strict": "maybe"}, `strict="maybe": want true or false`},
		{"qwen3-micro", nil, "cla", map[string]string{"fator": "2"}, "unknown option fator (options: factor, init, strict)"},
		{"qwen3-micro", nil, "mlkv", nil, "kv_layers=N is required (1 ≤ N ≤ 6"},
		{"qwen3-micro", nil, "mlkv", map[string]string{"kv_layers": "7"}, "kv_layers=7: want 1 ≤ kv_layers ≤ 6"},
		{"qwen3-micro", nil, "mlkv", map[string]string{"kv_layers": "3", "kv_heads": "3"}, "kv_heads=3 does not divide num_key_value_heads=2; use one of 1, 2"},
		{"qwen3-micro", []string{"cla"}, "mlkv", map[string]string{"kv_layers": "3"}, "already shares K/V across layers"},
		{"qwen3-micro", nil, "looped", map[string]string{"block": "4"}, "block=4 does not divide 6 layers; use one of 1, 2, 3, 6"},
		{"qwen3-micro", nil, "looped", nil, "block=B is required (a divisor of 6 layers: 1, 2, 3, 6)"},
		{"qwen3-micro", nil, "looped", map[string]string{"block": "3", "init": "top"}, `init="top": want one of average, stepwise, lower`},
		{"qwen3-micro", []string{"cla"}, "looped", map[string]string{"block": "3", "init": "lower"}, "block 1 must compute K/V (a layer it runs stores K/V), but init=lower takes it from layer(s) 1"},
		{"qwen3-micro", []string{"looped3"}, "looped", map[string]string{"block": "1"}, "already looped"},
		{"qwen3-micro", nil, "depthattn", map[string]string{"stride": "6"}, "stride=6: want 0 ≤ stride < 6"},
		{"qwen3-micro", nil, "depthattn", map[string]string{"stride": "0"}, "stride=0 and window=0 leave no candidates"},
		{"qwen3-micro", nil, "depthattn", map[string]string{"from": "0"}, "from=0: want 1 ≤ from < 6"},
		{"qwen3-micro", nil, "depthattn", map[string]string{"layers": "0,2"}, `layers="0,2": want all or a comma-separated list`},
		{"qwen3-micro", []string{"cla"}, "depthattn", map[string]string{"layers": "2,3"}, "layer 3 reads layer 2's K/V and has no value of its own to mix"},
		{"qwen3-micro", []string{"depthattn"}, "cla", nil, "layer 1 mixes values across depth (depthattn) and must keep its own K/V"},
		{"qwen3-micro", nil, "kvsharer", nil, "kvsharer needs calibration samples"},
		{"qwen3-micro", nil, "kvsharer", map[string]string{"share": "1"}, "share=1: want a fraction of the 6 layers in (0, 1)"},
		{"qwen3-micro", nil, "kvsharer", map[string]string{"share": "x"}, `share="x": want a number such as 0.25 or a ratio such as 1/3`},
		{"qwen3-micro", nil, "kvsharer", map[string]string{"order": "random"}, `order="random": want one of dissimilar, similar`},
		{"qwen3-micro", []string{"cla"}, "kvsharer", map[string]string{"share": "0.9"}, "share=0.9 asks for 5 of 6 layers, but only 2 can still be replaced"},
	} {
		t.Run(tc.name+" "+tc.want, func(t *testing.T) {
			m := load(t, tc.fixture)
			for _, s := range tc.steps {
				opts := map[string]string(nil)
				if s == "looped3" {
					s, opts = "looped", map[string]string{"block": "3"}
				}
				apply(t, m, s, opts, transforms.Env{})
			}
			before := snapshot(t, m)
			layout := m.Layout.Clone()
			tr, err := transforms.Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			for _, call := range []func(*model.Model, map[string]string, transforms.Env) (*transforms.Plan, error){tr.Plan, tr.Apply} {
				_, err := call(m, tc.opts, transforms.Env{})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
			}
			if !reflect.DeepEqual(snapshot(t, m), before) || !reflect.DeepEqual(m.Layout, layout) {
				t.Error("a refused transform changed the model")
			}
		})
	}
}

func TestLookup(t *testing.T) {
	var got []string
	for _, tr := range transforms.All() {
		got = append(got, tr.Name())
		if tr.Summary() == "" || len(tr.Options()) == 0 {
			t.Errorf("%s: no summary or options", tr.Name())
		}
	}
	if want := []string{"cla", "depthattn", "kvsharer", "looped", "mlkv"}; !reflect.DeepEqual(got, want) {
		t.Errorf("All() = %v, want %v", got, want)
	}
	_, err := transforms.Lookup("yoco")
	if err == nil || err.Error() != `unknown transform "yoco" (known: cla, depthattn, kvsharer, looped, mlkv)` {
		t.Errorf("Lookup(yoco) error %v", err)
	}
}

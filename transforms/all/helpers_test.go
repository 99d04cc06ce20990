package all_test

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"testing"

	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
)

// load opens a fixture model; it is closed when the test ends.
func load(t testing.TB, name string) *model.Model {
	t.Helper()
	m, err := loaders.Load(testutil.Fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// synthetic builds a tiny Qwen model in memory whose tensor values encode
// their block and position: block p's tensor holds 100·p + i at index i.
func synthetic(t *testing.T, layers, kvHeads int, bias, qkNorm bool) *model.Model {
	t.Helper()
	c := model.Config{Family: "qwen3", VocabSize: 16, Hidden: 8, Intermediate: 8, Layers: layers,
		Heads: 4, KVHeads: kvHeads, HeadDim: 2, RMSEps: 1e-6, RopeTheta: 1e4, TiedEmbeddings: true,
		AttnBias: bias, QKNorm: qkNorm, BOS: -1, EOS: -1, PAD: -1}
	m := &model.Model{Path: "synthetic", Config: c, Layout: model.DefaultLayout(layers)}
	shapes := model.ExpectedShapes(c, m.Layout)
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		base := float32(0)
		var p int
		if _, err := fmt.Sscanf(n, "model.layers.%d.", &p); err == nil {
			base = float32(100 * p)
		}
		v := make([]float32, model.Elements(shapes[n]))
		for i := range v {
			v[i] = base + float32(i)
		}
		m.Tensors = append(m.Tensors, model.FromFloat32(n, shapes[n], v))
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func values(t *testing.T, m *model.Model, name string) []float32 {
	t.Helper()
	tn := m.Tensor(name)
	if tn == nil {
		t.Fatalf("no tensor %q", name)
	}
	v, err := tn.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// snapshot records every tensor's dtype, shape and bytes.
type snap struct {
	dtype model.DType
	shape []int
	raw   []byte
}

func snapshot(t *testing.T, m *model.Model) map[string]snap {
	t.Helper()
	out := map[string]snap{}
	for _, tn := range m.Tensors {
		b, err := tn.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out[tn.Name] = snap{tn.DType, append([]int(nil), tn.Shape...), bytes.Clone(b)}
	}
	return out
}

func names(m *model.Model) map[string]bool {
	out := map[string]bool{}
	for _, t := range m.Tensors {
		out[t.Name] = true
	}
	return out
}

// apply runs Plan, checks that it left the model alone, carries the plan
// out (Plan.Apply, as Transform.Apply does) and checks the plan against the
// rewritten model.
func apply(t *testing.T, m *model.Model, name string, opts map[string]string, env transforms.Env) *transforms.Plan {
	t.Helper()
	tr, err := transforms.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	before := names(m)
	layoutBefore := m.Layout.Clone()
	got, err := tr.Plan(m, opts, env)
	if err != nil {
		t.Fatalf("%s %v: plan: %v", name, opts, err)
	}
	if !reflect.DeepEqual(names(m), before) || !reflect.DeepEqual(m.Layout, layoutBefore) {
		t.Fatalf("%s: Plan changed the model", name)
	}
	nprov := len(m.Provenance)
	if err := got.Apply(m); err != nil {
		t.Fatalf("%s %v: apply: %v", name, opts, err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("%s: applied model does not validate: %v", name, err)
	}
	if got.ParamsAfter != m.ParamCount() || got.KVBytesAfter != m.KVBytesPerToken() {
		t.Errorf("%s: plan says %d params, %d KV bytes; model has %d, %d", name, got.ParamsAfter, got.KVBytesAfter, m.ParamCount(), m.KVBytesPerToken())
	}
	if !reflect.DeepEqual(got.Layout, m.Layout) || !reflect.DeepEqual(got.Config, m.Config) {
		t.Errorf("%s: plan layout/config %+v differ from the model's %+v", name, got.Layout, m.Layout)
	}
	after := names(m)
	want := map[string]bool{}
	for n := range before {
		want[n] = true
	}
	for _, n := range got.Dropped {
		delete(want, n)
	}
	for _, n := range got.Added {
		want[n] = true
	}
	if !reflect.DeepEqual(after, want) {
		t.Errorf("%s: tensors after apply differ from before − dropped + added", name)
	}
	for _, n := range got.Replaced {
		if !after[n] || !before[n] {
			t.Errorf("%s: replaced tensor %q missing before or after", name, n)
		}
	}
	if len(m.Provenance) != nprov+1 || m.Provenance[nprov].Transform != name ||
		!reflect.DeepEqual(m.Provenance[nprov].Options, got.Options) {
		t.Errorf("%s: provenance %+v, want a step with options %v", name, m.Provenance, got.Options)
	}
	for _, o := range tr.Options() {
		if _, ok := got.Options[o.Name]; !ok {
			t.Errorf("%s: option %s missing from the plan's options %v", name, o.Name, got.Options)
		}
	}
	return got
}

// Package layoutrefs reads the transformed-layout references (testdata's
// layout-refs.*, trimmed from ../shared/fixtures by
// scripts/trim_layout_refs.py) and builds each case's model the way the
// references' json says `retrofit convert` builds it. The references come
// from an independent numpy forward, so the engine, the training forward and
// the remote code are each checked against it, not against each other.
package layoutrefs

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all" // the transforms the cases name
)

// Tolerances of the issue: per-token NLL and logits against the reference.
const (
	NLLTol    = 1e-4
	LogitsTol = 1e-3
)

// Meta is layout-refs.json: the window length, the positions whose logits
// are stored, and the cases by "<model>/<case>".
type Meta struct {
	T         int             `json:"T"`
	Positions []int           `json:"positions"`
	Cases     map[string]Spec `json:"cases"`
}

// Spec is how one case is built: `retrofit convert` options, or a KVSharer
// result given as a kv_source map.
type Spec struct {
	Layout struct {
		KVSource []int `json:"kv_source"`
	} `json:"layout"`
	Convert string  `json:"retrofit"`
	PPL     float64 `json:"ppl"`
}

// ReadMeta reads a layout-refs json.
func ReadMeta(path string) (*Meta, error) {
	blob, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(blob, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.T <= 0 || len(m.Positions) == 0 || len(m.Cases) == 0 {
		return nil, fmt.Errorf("%s: T %d, %d positions, %d cases: want all positive", path, m.T, len(m.Positions), len(m.Cases))
	}
	return &m, nil
}

// Case is one reference: a model and a layout, with the NLL of
// ids[1:T+1] given ids[0:T] and the logits rows at Positions.
type Case struct {
	Spec
	Name      string // "<model>/<case>"
	Model     string // fixture name, e.g. "qwen3-micro"
	T         int
	Positions []int
	NLL       []float32 // [T]
	Logits    []float32 // [len(Positions) × vocab]
}

// Load returns every case of testdata's layout-refs, sorted by name.
func Load(t testing.TB) []Case {
	t.Helper()
	meta, err := ReadMeta(testutil.Fixture(t, "layout-refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	arrays := reftest.LoadArrays(t, "layout-refs.safetensors")
	var out []Case
	for name, spec := range meta.Cases {
		mdl, _, _ := strings.Cut(name, "/")
		k := Case{Spec: spec, Name: name, Model: mdl, T: meta.T, Positions: meta.Positions,
			NLL: arrays[name+"/nll"], Logits: arrays[name+"/logits"]}
		if len(k.NLL) != k.T || len(k.Logits) == 0 || len(k.Logits)%len(k.Positions) != 0 {
			t.Fatalf("layout-refs: case %s: nll has %d values (want %d), logits %d", name, len(k.NLL), k.T, len(k.Logits))
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IDs returns the case's T+1 token ids (ids_docs_val[0:T+1] of the model's
// transformers references).
func (c Case) IDs(t testing.TB) []int {
	t.Helper()
	ids := reftest.Load(t, c.Model).I32["ids_docs_val"]
	if len(ids) < c.T+1 {
		t.Fatalf("%s-refs: ids_docs_val has %d ids, want %d", c.Model, len(ids), c.T+1)
	}
	return ids[:c.T+1]
}

// Build loads the fixture and applies the case's transforms.
func (c Case) Build(t testing.TB) *model.Model {
	t.Helper()
	m := reftest.Model(t, c.Model)
	if err := c.Apply(m); err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return m
}

// Apply applies the spec's transforms to m, the fixture model.
func (s Spec) Apply(m *model.Model) error {
	steps, err := s.steps()
	if err != nil {
		return err
	}
	for _, st := range steps {
		if _, err := st.tr.Apply(m, st.opts, transforms.Env{}); err != nil {
			return fmt.Errorf("%s %v: %w", st.tr.Name(), st.opts, err)
		}
	}
	return nil
}

type step struct {
	tr   transforms.Transform
	opts map[string]string
}

// steps parses "--to a --to b --opt [a.]k=v ...". A KVSharer result (no
// options, a kv_source map in the layout) is applied as that map with the
// producers' own K/V, which is what the kvsharer transform writes.
func (s Spec) steps() ([]step, error) {
	if strings.HasPrefix(s.Convert, "a KVSharer result") {
		kv := s.Layout.KVSource
		tr := transforms.New(transforms.Spec{Name: "kvsharer-map",
			Edit: func(m *model.Model, _ transforms.Values, _ transforms.Env) (*transforms.Edit, error) {
				return transforms.ShareKV(m, transforms.KVShare{KVSource: kv, Init: "keep"})
			}})
		return []step{{tr, nil}}, nil
	}
	var steps []step
	f := strings.Fields(s.Convert)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("convert options %q: odd number of fields", s.Convert)
	}
	for i := 0; i < len(f); i += 2 {
		switch f[i] {
		case "--to":
			tr, err := transforms.Lookup(f[i+1])
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{tr, map[string]string{}})
		case "--opt":
			k, v, ok := strings.Cut(f[i+1], "=")
			if !ok || len(steps) == 0 {
				return nil, fmt.Errorf("convert options %q: bad --opt %q", s.Convert, f[i+1])
			}
			target := steps[len(steps)-1]
			if name, key, ok := strings.Cut(k, "."); ok {
				k, target = key, step{}
				for _, st := range steps {
					if st.tr.Name() == name {
						target = st
					}
				}
				if target.tr == nil {
					return nil, fmt.Errorf("convert options %q: --opt %s names no --to", s.Convert, f[i+1])
				}
			}
			target.opts[k] = v
		default:
			return nil, fmt.Errorf("convert options %q: unexpected %q", s.Convert, f[i])
		}
	}
	return steps, nil
}

// Diff compares logits [T × vocab] of ids[0:T] with the case: it returns
// the largest |ΔNLL| over the T targets ids[1:T+1] and the largest |Δlogit|
// over the reference rows.
func (c Case) Diff(logits []float32, ids []int) (dNLL, dLogits float64) {
	v := len(logits) / c.T
	for i := 0; i < c.T; i++ {
		dNLL = max(dNLL, math.Abs(numerics.NLL(logits[i*v:(i+1)*v], ids[i+1])-float64(c.NLL[i])))
	}
	for r, p := range c.Positions {
		got, want := logits[p*v:(p+1)*v], c.Logits[r*v:(r+1)*v]
		for j := range want {
			dLogits = max(dLogits, math.Abs(float64(got[j])-float64(want[j])))
		}
	}
	return dNLL, dLogits
}

// Check fails t when Diff exceeds the tolerances, and logs the figures.
func (c Case) Check(t testing.TB, logits []float32, ids []int) {
	t.Helper()
	dn, dl := c.Diff(logits, ids)
	t.Logf("%s: max |ΔNLL| %.2e, max |Δlogits| %.2e", c.Name, dn, dl)
	if dn > NLLTol || dl > LogitsTol {
		t.Errorf("%s (%s): max |ΔNLL| %.3g (tolerance %g), max |Δlogits| %.3g (tolerance %g) against layout-refs",
			c.Name, c.Convert, dn, NLLTol, dl, LogitsTol)
	}
}

// Warm is a Depth-Attention case converted twice more: with the warm start
// (Warm: `--opt depthattn.warm=on`), which must reproduce Base, the case of
// the same K/V layout without depth mixing (the original model for a plain
// depthattn case); and with an explicit zero bias (Zero:
// `--opt depthattn.warm=0`), which must reproduce the case itself.
type Warm struct {
	Warm, Zero, Base Case
}

// WarmCases returns a Warm for every case of cases that converts with
// depthattn and has a base case among cases.
func WarmCases(cases []Case) []Warm {
	var out []Warm
	for _, c := range cases {
		if !strings.Contains(c.Convert, "--to depthattn") {
			continue
		}
		for _, b := range cases {
			if b.Model == c.Model && !strings.Contains(b.Convert, "depthattn") && !strings.Contains(b.Convert, "looped") &&
				slices.Equal(b.Layout.KVSource, c.Layout.KVSource) {
				out = append(out, Warm{Warm: c.withOpt("depthattn.warm=on"), Zero: c.withOpt("depthattn.warm=0"), Base: b})
				break
			}
		}
	}
	return out
}

// withOpt returns c converted with one more option (the references stay c's).
func (c Case) withOpt(kv string) Case {
	c.Convert += " --opt " + kv
	c.Name += " " + kv
	return c
}

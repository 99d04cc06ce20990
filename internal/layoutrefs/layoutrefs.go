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
	"sort"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/engine/reftest"
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

// Case is one reference: a model and a layout, with the NLL of
// ids[1:T+1] given ids[0:T] and the logits rows at Positions.
type Case struct {
	Name      string // "<model>/<case>"
	Model     string // fixture name, e.g. "qwen3-micro"
	Convert   string // the json's `retrofit convert` options (or a note)
	KVSource  []int  // the json's layout kv_source, when given
	PPL       float64
	T         int
	Positions []int
	NLL       []float32 // [T]
	Logits    []float32 // [len(Positions) × vocab]
}

// Load returns every case of testdata's layout-refs, sorted by name.
func Load(t testing.TB) []Case {
	t.Helper()
	blob, err := os.ReadFile(testutil.Fixture(t, "layout-refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		T         int   `json:"T"`
		Positions []int `json:"positions"`
		Cases     map[string]struct {
			Layout struct {
				KVSource []int `json:"kv_source"`
			} `json:"layout"`
			Retrofit string  `json:"retrofit"`
			PPL      float64 `json:"ppl"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(blob, &meta); err != nil {
		t.Fatalf("layout-refs.json: %v", err)
	}
	arrays := reftest.LoadArrays(t, "layout-refs.safetensors")
	var out []Case
	for name, c := range meta.Cases {
		mdl, _, _ := strings.Cut(name, "/")
		k := Case{Name: name, Model: mdl, Convert: c.Retrofit, KVSource: c.Layout.KVSource, PPL: c.PPL,
			T: meta.T, Positions: meta.Positions, NLL: arrays[name+"/nll"], Logits: arrays[name+"/logits"]}
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
	steps, err := c.steps()
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	for _, s := range steps {
		if _, err := s.tr.Apply(m, s.opts, transforms.Env{}); err != nil {
			t.Fatalf("%s: %s %v: %v", c.Name, s.tr.Name(), s.opts, err)
		}
	}
	return m
}

type step struct {
	tr   transforms.Transform
	opts map[string]string
}

// steps parses "--to a --to b --opt [a.]k=v ...". A KVSharer result (no
// options, a kv_source map in the layout) is applied as that map with the
// producers' own K/V, which is what the kvsharer transform writes.
func (c Case) steps() ([]step, error) {
	if strings.HasPrefix(c.Convert, "a KVSharer result") {
		tr := transforms.New(transforms.Spec{Name: "kvsharer-map",
			Edit: func(m *model.Model, _ transforms.Values, _ transforms.Env) (*transforms.Edit, error) {
				return transforms.ShareKV(m, transforms.KVShare{KVSource: c.KVSource, Init: "keep"})
			}})
		return []step{{tr, nil}}, nil
	}
	var steps []step
	f := strings.Fields(c.Convert)
	for i := 0; i+1 < len(f); i += 2 {
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
				return nil, fmt.Errorf("convert options %q: bad --opt %q", c.Convert, f[i+1])
			}
			target := steps[len(steps)-1]
			if name, key, ok := strings.Cut(k, "."); ok {
				k, target = key, step{}
				for _, s := range steps {
					if s.tr.Name() == name {
						target = s
					}
				}
				if target.tr == nil {
					return nil, fmt.Errorf("convert options %q: --opt %s names no --to", c.Convert, f[i+1])
				}
			}
			target.opts[k] = v
		default:
			return nil, fmt.Errorf("convert options %q: unexpected %q", c.Convert, f[i])
		}
	}
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("convert options %q: odd number of fields", c.Convert)
	}
	return steps, nil
}

// Diff compares logits [T × vocab] of ids[0:T] with the case: it returns
// the largest |ΔNLL| over the T targets ids[1:T+1] and the largest |Δlogit|
// over the reference rows.
func (c Case) Diff(logits []float32, ids []int) (dNLL, dLogits float64) {
	v := len(logits) / c.T
	for i := 0; i < c.T; i++ {
		dNLL = max(dNLL, math.Abs(RowNLL(logits[i*v:(i+1)*v], ids[i+1])-float64(c.NLL[i])))
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

// RowNLL is −log softmax(z)[y], in float64.
func RowNLL(z []float32, y int) float64 {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v - m))
	}
	return float64(m) + math.Log(s) - float64(z[y])
}

// Package transforms rewrites a model's attention layout in place: the
// plugin interface, the registry, option parsing and the Plan a transform
// reports. The methods live in subpackages (cla, mlkv, looped, depthattn,
// kvsharer) that register themselves; import transforms/all to get them all.
//
// A method is written as an Edit function (New adapts it to Transform): it
// validates the options against the model and returns what it would change
// — the new config and layout, tensors to drop, and tensors to set (built
// lazily) — without touching the model. Plan reports the Edit; Apply builds
// the new tensors, then rewrites the model and records a provenance step.
package transforms

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/model"
)

// Option describes one key=value option of a transform.
type Option struct {
	Name, Default, Help string
}

// Env carries what a transform may need beyond the model and its options.
type Env struct {
	// Calib holds tokenized calibration samples (kvsharer).
	Calib [][]int
	// Log receives progress lines of a search (nil: discarded).
	Log io.Writer
	// Context cancels a long search (nil: context.Background()).
	Context context.Context
}

// Logf writes one progress line to e.Log when set.
func (e Env) Logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// Ctx returns e.Context, or context.Background() when unset.
func (e Env) Ctx() context.Context {
	if e.Context == nil {
		return context.Background()
	}
	return e.Context
}

// Transform is one model-surgery method.
type Transform interface {
	Name() string
	Summary() string
	Options() []Option
	// Plan validates opts against the model and says what Apply will do,
	// without changing m. The plan's own Apply then carries it out on m
	// without computing it again (a KVSharer search runs once).
	Plan(m *model.Model, opts map[string]string, env Env) (*Plan, error)
	// Apply rewrites m in place per the plan (tensors dropped, pooled or
	// tied; Layout; Config) and appends a model.Step to m.Provenance. On
	// error m is unchanged.
	Apply(m *model.Model, opts map[string]string, env Env) (*Plan, error)
}

var registry = map[string]Transform{}

// Register makes a transform available to Lookup. It panics on a duplicate
// name (a programming error in an init function).
func Register(t Transform) {
	if _, dup := registry[t.Name()]; dup {
		panic("transforms: Register called twice for " + t.Name())
	}
	registry[t.Name()] = t
}

// Lookup returns the named transform.
func Lookup(name string) (Transform, error) {
	if t, ok := registry[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown transform %q (known: %s)", name, strings.Join(names(), ", "))
}

// All returns the registered transforms sorted by name.
func All() []Transform {
	var out []Transform
	for _, n := range names() {
		out = append(out, registry[n])
	}
	return out
}

func names() []string {
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

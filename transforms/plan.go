package transforms

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/retrofit-llm/retrofit/model"
)

// Plan says what a transform does (or did) to a model.
type Plan struct {
	Transform string
	Options   map[string]string // every option, defaults filled in
	Config    model.Config      // the config after the transform
	Layout    model.Layout      // the layout after the transform
	// Tensor names, sorted: removed, new, and rewritten in place (new values
	// or shape under an existing name).
	Dropped, Added, Replaced    []string
	ParamsBefore, ParamsAfter   int64
	KVBytesBefore, KVBytesAfter int64 // per token, fp16 cache (model.KVBytesPerToken)
	Notes                       []string

	// What Apply needs to carry the plan out without computing the edit
	// again (a KVSharer search runs once for Plan + Apply).
	edit   *Edit
	target snapshot
}

// snapshot identifies the state of a model a plan was made for.
type snapshot struct {
	m          *model.Model
	config     model.Config
	layout     model.Layout
	tensors    []*model.Tensor
	provenance int
}

func snap(m *model.Model) snapshot {
	return snapshot{m, m.Config, m.Layout.Clone(), append([]*model.Tensor(nil), m.Tensors...), len(m.Provenance)}
}

// same reports whether m is still the model, in the state, of the snapshot.
func (s snapshot) same(m *model.Model) bool {
	return m == s.m && reflect.DeepEqual(m.Config, s.config) && reflect.DeepEqual(m.Layout, s.layout) &&
		len(m.Provenance) == s.provenance && slices.Equal(m.Tensors, s.tensors)
}

// Apply carries the plan out on m, the model Plan was given, without running
// the transform's analysis again: it builds the new tensors, rewrites m and
// appends a provenance step. It fails, leaving m unchanged, when m is
// another model or has changed since Plan, or when the plan was returned by
// Transform.Apply (already carried out).
func (p *Plan) Apply(m *model.Model) error {
	if p.edit == nil {
		return fmt.Errorf("%s: this plan was already applied", p.Transform)
	}
	if !p.target.same(m) {
		return fmt.Errorf("%s: the model changed since the plan was made (or is another model); plan again", p.Transform)
	}
	if err := p.edit.apply(m); err != nil {
		return err
	}
	p.edit, p.target = nil, snapshot{}
	m.Provenance = append(m.Provenance, model.Step{Transform: p.Transform, Options: maps.Clone(p.Options)})
	return nil
}

// maxNames is how many tensor names String lists per category.
const maxNames = 6

// String is a readable multi-line summary (for `convert --plan`).
func (p *Plan) String() string {
	var b strings.Builder
	keys := make([]string, 0, len(p.Options))
	for k := range p.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "%s:", p.Transform)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, p.Options[k])
	}
	b.WriteString("\n")
	l := p.Layout
	fmt.Fprintf(&b, "  kv_source   %v (%d of %d layers store K/V)\n", l.KVSource, l.KVLayers(), len(l.KVSource))
	if l.Blocks() != len(l.LayerMap) || !identity(l.LayerMap) {
		fmt.Fprintf(&b, "  layer_map   %v (%d physical blocks)\n", l.LayerMap, l.Blocks())
	}
	for _, d := range l.DepthMix {
		if d {
			fmt.Fprintf(&b, "  depth_mix   %v stride %d window %d\n", mixString(l.DepthMix), l.DepthStride, l.DepthWindow)
			if l.DepthSelfBias != 0 {
				fmt.Fprintf(&b, "  warm start  self-score bias %g (finetune anneals it to 0)\n", l.DepthSelfBias)
			}
			break
		}
	}
	fmt.Fprintf(&b, "  KV heads    %d, head dim %d\n", p.Config.KVHeads, p.Config.HeadDim)
	fmt.Fprintf(&b, "  params      %d → %d (%s)\n", p.ParamsBefore, p.ParamsAfter, change(p.ParamsBefore, p.ParamsAfter))
	fmt.Fprintf(&b, "  KV cache    %d → %d bytes/token fp16 (%s)\n", p.KVBytesBefore, p.KVBytesAfter, change(p.KVBytesBefore, p.KVBytesAfter))
	list := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		shown := names
		more := ""
		if len(shown) > maxNames {
			shown = shown[:maxNames]
			more = fmt.Sprintf(", and %d more", len(names)-maxNames)
		}
		fmt.Fprintf(&b, "  %-11s %d tensors: %s%s\n", what, len(names), strings.Join(shown, ", "), more)
	}
	list("dropped", p.Dropped)
	list("added", p.Added)
	list("replaced", p.Replaced)
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func identity(xs []int) bool {
	for i, x := range xs {
		if x != i {
			return false
		}
	}
	return true
}

func mixString(d []bool) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range d {
		if i > 0 {
			b.WriteByte(' ')
		}
		if x {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	b.WriteByte(']')
	return b.String()
}

func change(before, after int64) string {
	if before == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*float64(after-before)/float64(before))
}

package transforms

import (
	"fmt"
	"maps"
	"sort"

	"github.com/retrofit-llm/retrofit/model"
)

// Edit is what a transform would do to a model, computed without changing
// it. Tensors named in Set are built only by Apply.
type Edit struct {
	Config model.Config
	Layout model.Layout
	Remove []string    // tensors to drop
	Set    []NewTensor // tensors to add, or to replace when the name exists
	Notes  []string
}

// NewTensor is a tensor an Edit adds or replaces. Either From is set (an
// existing tensor stored again under Name, bytes shared and dtype kept) or
// Build computes F32 values of Shape. Build must read only tensors of the
// model as it was before the edit.
type NewTensor struct {
	Name  string
	Shape []int
	From  *model.Tensor
	Build func() ([]float32, error)
}

// Spec declares a transform built from an Edit function.
type Spec struct {
	Name, Summary string
	Options       []Option
	// Edit validates the options (defaults filled in) against m and returns
	// the edit; it must not change m.
	Edit func(m *model.Model, opts Values, env Env) (*Edit, error)
}

// New adapts a Spec to the Transform interface.
func New(s Spec) Transform { return spec{s} }

type spec struct{ s Spec }

func (t spec) Name() string      { return t.s.Name }
func (t spec) Summary() string   { return t.s.Summary }
func (t spec) Options() []Option { return append([]Option(nil), t.s.Options...) }

func (t spec) edit(m *model.Model, opts map[string]string, env Env) (*Edit, Values, error) {
	v, err := ParseOptions(t.s.Options, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Layout.Validate(m.Config.Layers); err != nil {
		return nil, nil, fmt.Errorf("the model's own layout is invalid: %w", err)
	}
	e, err := t.s.Edit(m, v, env)
	if err != nil {
		return nil, nil, err
	}
	if err := e.check(m); err != nil {
		return nil, nil, err
	}
	return e, v, nil
}

func (t spec) Plan(m *model.Model, opts map[string]string, env Env) (*Plan, error) {
	e, v, err := t.edit(m, opts, env)
	if err != nil {
		return nil, err
	}
	p := e.plan(m, t.s.Name, v)
	p.edit, p.target = e, snap(m)
	return p, nil
}

func (t spec) Apply(m *model.Model, opts map[string]string, env Env) (*Plan, error) {
	p, err := t.Plan(m, opts, env)
	if err != nil {
		return nil, err
	}
	if err := p.Apply(m); err != nil {
		return nil, err
	}
	return p, nil
}

// plan describes the edit against m.
func (e *Edit) plan(m *model.Model, name string, v Values) *Plan {
	p := &Plan{
		Transform:     name,
		Options:       maps.Clone(map[string]string(v)),
		Layout:        e.Layout.Clone(),
		Config:        e.Config,
		ParamsBefore:  m.ParamCount(),
		KVBytesBefore: m.KVBytesPerToken(),
		KVBytesAfter:  model.KVBytesPerToken(e.Config, e.Layout),
		Notes:         append([]string(nil), e.Notes...),
	}
	after := p.ParamsBefore
	for _, n := range e.Remove {
		if t := m.Tensor(n); t != nil {
			after -= t.Elements()
			p.Dropped = append(p.Dropped, n)
		}
	}
	for _, s := range e.Set {
		if t := m.Tensor(s.Name); t != nil {
			after -= t.Elements()
			p.Replaced = append(p.Replaced, s.Name)
		} else {
			p.Added = append(p.Added, s.Name)
		}
		after += model.Elements(s.Shape)
	}
	p.ParamsAfter = after
	sort.Strings(p.Dropped)
	sort.Strings(p.Added)
	sort.Strings(p.Replaced)
	return p
}

// shadow returns a model with e's config, layout and tensor list, sharing
// m's tensors; entries of Set are shape-only placeholders unless built is
// given.
func (e *Edit) shadow(m *model.Model, built []*model.Tensor) *model.Model {
	s := &model.Model{Path: m.Path, Format: m.Format, Config: e.Config, Layout: e.Layout.Clone(),
		Tensors: append([]*model.Tensor(nil), m.Tensors...)}
	for _, n := range e.Remove {
		s.RemoveTensor(n)
	}
	for i, t := range e.Set {
		if built != nil {
			s.SetTensor(built[i])
		} else {
			s.SetTensor(&model.Tensor{Name: t.Name, DType: model.F32, Shape: t.Shape})
		}
	}
	return s
}

// check validates the model the edit would produce (shapes only).
func (e *Edit) check(m *model.Model) error {
	if err := e.shadow(m, nil).Validate(); err != nil {
		return fmt.Errorf("the result would not be a valid model (a bug in the transform): %w", err)
	}
	return nil
}

// Result returns the model the edit produces, built from m without changing
// it (tensors not in Set are shared with m).
func (e *Edit) Result(m *model.Model) (*model.Model, error) {
	built := make([]*model.Tensor, len(e.Set))
	for i, s := range e.Set {
		if s.From != nil {
			if model.Elements(s.From.Shape) != model.Elements(s.Shape) {
				return nil, fmt.Errorf("tensor %q: source %q has shape %v, want %v", s.Name, s.From.Name, s.From.Shape, s.Shape)
			}
			t := s.From.Renamed(s.Name)
			t.Shape = append([]int(nil), s.Shape...)
			built[i] = t
			continue
		}
		v, err := s.Build()
		if err != nil {
			return nil, fmt.Errorf("building tensor %q: %w", s.Name, err)
		}
		if int64(len(v)) != model.Elements(s.Shape) {
			return nil, fmt.Errorf("building tensor %q: %d values for shape %v", s.Name, len(v), s.Shape)
		}
		built[i] = model.FromFloat32(s.Name, s.Shape, v)
	}
	s := e.shadow(m, built)
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("the result is not a valid model (a bug in the transform): %w", err)
	}
	return s, nil
}

// apply builds every new tensor from the unchanged model, then rewrites it.
func (e *Edit) apply(m *model.Model) error {
	s, err := e.Result(m)
	if err != nil {
		return err
	}
	m.Tensors = s.Tensors
	m.Config = e.Config
	m.Layout = e.Layout.Clone()
	return nil
}

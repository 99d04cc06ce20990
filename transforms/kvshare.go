package transforms

import (
	"fmt"

	"github.com/retrofit-llm/retrofit/model"
)

// ResolveKV follows chains in a proposed kv_source map (kv[l] ≤ l): a layer
// reading a layer that itself reads another ends up reading the layer that
// stores the K/V.
func ResolveKV(kv []int) []int {
	out := make([]int, len(kv))
	for l, s := range kv {
		if s == l {
			out[l] = l
		} else {
			out[l] = out[s]
		}
	}
	return out
}

// KV tensor suffixes per block, in a fixed order.
func kvSuffixes(c model.Config) []string {
	s := []string{"self_attn.k_proj.weight", "self_attn.v_proj.weight"}
	if c.AttnBias {
		s = append(s, "self_attn.k_proj.bias", "self_attn.v_proj.bias")
	}
	if c.QKNorm {
		s = append(s, "self_attn.k_norm.weight")
	}
	return s
}

// KVShare describes layers that stop computing K/V and read another's.
type KVShare struct {
	// KVSource is the proposed kv_source map; chains are resolved.
	KVSource []int
	// Init sets the K/V weights of a producing layer: "keep" its own,
	// "mean" of the layers now reading it (those that had K/V of their own),
	// or "running" pairwise average of them in layer order.
	Init string
	// KVHeads, when nonzero and different from Config.KVHeads, pools
	// consecutive K/V heads of every layer into this many.
	KVHeads int
}

// ShareKV returns the edit that makes s.KVSource the model's kv_source:
// layers that stop storing K/V lose their K/V projections (and k_norm and
// biases); producers are initialised per s.Init; heads are pooled per
// s.KVHeads. Looped models are handled per physical block: a block keeps
// K/V tensors while some logical layer running it stores K/V, and a
// producing block's init pools over every block its readers run.
func ShareKV(m *model.Model, s KVShare) (*Edit, error) {
	e, err := s.check(m)
	if err != nil {
		return nil, err
	}
	old, nl := m.Layout, e.Layout
	for p := 0; p < old.Blocks(); p++ {
		had, has := old.BlockHasKV(p), nl.BlockHasKV(p)
		switch {
		case had && !has:
			for _, suf := range kvSuffixes(m.Config) {
				e.Remove = append(e.Remove, model.BlockName(p, suf))
			}
		case has && !had:
			return nil, fmt.Errorf("block %d has no K/V projections, but the new layout needs them", p)
		case has:
			if err := s.producer(m, e, p); err != nil {
				return nil, err
			}
		}
	}
	if c, cfg := m.Config, e.Config; cfg.KVHeads != c.KVHeads {
		e.Notes = append(e.Notes, fmt.Sprintf("K/V heads pooled %d → %d (query heads per K/V head %d → %d)",
			c.KVHeads, cfg.KVHeads, c.Heads/c.KVHeads, c.Heads/cfg.KVHeads))
	}
	return e, nil
}

// check validates s against m and returns an edit holding only the new
// config (K/V heads) and layout (kv_source, chains resolved).
func (s KVShare) check(m *model.Model) (*Edit, error) {
	c, old := m.Config, m.Layout
	n := c.Layers
	if len(s.KVSource) != n {
		return nil, fmt.Errorf("kv_source has %d entries for %d layers", len(s.KVSource), n)
	}
	for l, x := range s.KVSource {
		if x < 0 || x > l {
			return nil, fmt.Errorf("kv_source[%d] = %d must be in [0, %d]", l, x, l)
		}
	}
	kv := ResolveKV(s.KVSource)
	nl := old.Clone()
	nl.KVSource = kv
	for l := range kv {
		if kv[l] == l && !old.StoresKV(l) {
			return nil, fmt.Errorf("layer %d reads layer %d's K/V and has no K/V projections to compute its own", l, old.KVSource[l])
		}
		if nl.DepthMix[l] && kv[l] != l {
			return nil, fmt.Errorf("layer %d mixes values across depth (depthattn) and must keep its own K/V; it cannot read layer %d's (apply depthattn after K/V sharing: it leaves sharing layers out)", l, kv[l])
		}
	}
	cfg := c
	if s.KVHeads != 0 && s.KVHeads != c.KVHeads {
		if s.KVHeads < 0 || c.KVHeads%s.KVHeads != 0 {
			return nil, fmt.Errorf("kv_heads=%d does not divide num_key_value_heads=%d; use one of %s",
				s.KVHeads, c.KVHeads, JoinInts(Divisors(c.KVHeads)))
		}
		cfg.KVHeads = s.KVHeads
	}
	switch s.Init {
	case "keep", "mean", "running":
	default:
		return nil, fmt.Errorf("init=%q: want keep, mean or running", s.Init)
	}
	return &Edit{Config: cfg, Layout: nl}, nil
}

// servedBlocks returns the blocks whose K/V block p's producers now serve
// (layers that stored K/V before and read a layer running p), in logical
// order.
func servedBlocks(old model.Layout, kv []int, p int) []int {
	var members []int
	seen := map[int]bool{}
	for l := range kv {
		if old.StoresKV(l) && old.LayerMap[kv[l]] == p {
			if b := old.LayerMap[l]; !seen[b] {
				seen[b] = true
				members = append(members, b)
			}
		}
	}
	return members
}

// producer adds to e the new K/V tensors of block p, which keeps storing
// K/V: the init over the blocks it now serves, and head pooling.
func (s KVShare) producer(m *model.Model, e *Edit, p int) error {
	c, cfg := m.Config, e.Config
	pool := cfg.KVHeads != c.KVHeads
	members := servedBlocks(m.Layout, e.Layout.KVSource, p)
	average := s.Init != "keep" && len(members) > 1
	if !average && !pool {
		return nil
	}
	if average {
		e.Notes = append(e.Notes, fmt.Sprintf("block %d K/V = %s of blocks %s", p, s.Init, JoinInts(members)))
	}
	for _, suf := range kvSuffixes(c) {
		var src []*model.Tensor
		for _, b := range members {
			if !average && b != p {
				continue
			}
			name := model.BlockName(b, suf)
			t := m.Tensor(name)
			if t == nil {
				return fmt.Errorf("block %d stores K/V but tensor %q is missing", b, name)
			}
			src = append(src, t)
		}
		build := Mean(src)
		if s.Init == "running" {
			build = RunningMean(src)
		}
		shape := append([]int(nil), src[0].Shape...)
		if pool && suf != "self_attn.k_norm.weight" {
			cols := 1
			if len(shape) == 2 {
				cols = shape[1]
			}
			inner, from, to, d := build, c.KVHeads, cfg.KVHeads, c.HeadDim
			build = func() ([]float32, error) {
				v, err := inner()
				if err != nil {
					return nil, err
				}
				return PoolHeads(v, from, to, d, cols), nil
			}
			shape[0] = to * d
		} else if len(src) == 1 {
			continue // unchanged (k_norm under pooling only)
		}
		e.Set = append(e.Set, NewTensor{Name: model.BlockName(p, suf), Shape: shape, Build: build})
	}
	return nil
}

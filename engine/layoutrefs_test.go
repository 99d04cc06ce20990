package engine_test

import (
	"testing"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/layoutrefs"
)

// TestLayoutRefs runs every transformed layout of layout-refs (CLA, a
// KVSharer map, Depth-Attention at several strides and windows, CLA +
// Depth-Attention, looped) built as `retrofit convert` builds it, and
// compares the engine's NLL and logits with the independent reference.
func TestLayoutRefs(t *testing.T) {
	for _, c := range layoutrefs.Load(t) {
		t.Run(c.Name, func(t *testing.T) {
			ids := c.IDs(t)
			e, err := engine.New(c.Build(t))
			if err != nil {
				t.Fatal(err)
			}
			logits, err := e.Forward(ids[:c.T], e.NewCache(c.T), nil)
			if err != nil {
				t.Fatal(err)
			}
			c.Check(t, logits, ids)
		})
	}
}

// TestDepthWarmStart converts every Depth-Attention case of layout-refs with
// the warm start (depthattn warm=on): its NLL and logits must be those of
// the same layout without depth mixing (the original model's reference for
// a plain depthattn case); with warm=0 they must be the depthattn case's.
func TestDepthWarmStart(t *testing.T) {
	warm := layoutrefs.WarmCases(layoutrefs.Load(t))
	if len(warm) == 0 {
		t.Fatal("layout-refs has no Depth-Attention case with a base case")
	}
	for _, w := range warm {
		for _, c := range []struct{ built, ref layoutrefs.Case }{{w.Warm, w.Base}, {w.Zero, w.Zero}} {
			t.Run(c.built.Name, func(t *testing.T) {
				ids := c.built.IDs(t)
				e, err := engine.New(c.built.Build(t))
				if err != nil {
					t.Fatal(err)
				}
				logits, err := e.Forward(ids[:c.built.T], e.NewCache(c.built.T), nil)
				if err != nil {
					t.Fatal(err)
				}
				c.ref.Check(t, logits, ids)
			})
		}
	}
}

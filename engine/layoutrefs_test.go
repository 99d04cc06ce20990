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

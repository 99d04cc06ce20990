package finetune

import (
	"testing"

	"github.com/retrofit-llm/retrofit/internal/layoutrefs"
)

// TestForwardLayoutRefs runs the training forward on every transformed
// layout of layout-refs, built as `retrofit convert` builds it, and compares
// its NLL and logits with the independent reference.
func TestForwardLayoutRefs(t *testing.T) {
	for _, c := range layoutrefs.Load(t) {
		t.Run(c.Name, func(t *testing.T) {
			ids := c.IDs(t)
			n, err := NewNet(c.Build(t))
			if err != nil {
				t.Fatal(err)
			}
			tp := &Tape{}
			if err := n.Forward(tp, ids[:c.T], 1, c.T); err != nil {
				t.Fatal(err)
			}
			c.Check(t, tp.Logits(), ids)
		})
	}
}

package main

import (
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
)

// TestHostileInputs backs the README's reliability table: on every hostile
// input the built binary gives a clear one-line error (or, where the input
// is legal, the right output), never panics, never modifies an input, and
// peaks below 1 GB of resident memory. (Times are reported by
// `go run ./bench/hostile`, not asserted.)
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds retrofit and runs 148 hostile inputs")
	}
	testutil.Fixture(t, "qwen3-micro")
	results, err := runAll(testutil.Root(t), false, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch {
		case r.panicked:
			t.Errorf("%s %s: panic:\n%s", r.kind, r.name, r.stderr)
		case len(r.clobbered) > 0:
			t.Errorf("%s %s: modified %v", r.kind, r.name, r.clobbered)
		case r.unclear:
			t.Errorf("%s %s: exit %d, unclear (want %q): %s", r.kind, r.name, r.code, r.want, firstLine(r.stderr))
		case r.rssKB > 1<<20:
			t.Errorf("%s %s: peak RSS %d MB", r.kind, r.name, r.rssKB>>10)
		}
	}
	if len(results) < 140 {
		t.Errorf("%d cases", len(results))
	}
}

// Package testutil finds test fixtures: first in the repository's testdata/,
// then in ../shared/fixtures beside the checkout (present in CI). Tests that
// need a file found in neither place are skipped with a message saying so —
// or fail, when RETROFIT_REQUIRE_FIXTURES=1 (set by .ci/run, so the tests
// that back the README's claims cannot pass there by skipping).
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testutil: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Fixture returns the path of a fixture file or directory by name, e.g.
// "qwen3-micro" or "qwen3-micro-q8_0.gguf".
func Fixture(t testing.TB, name string) string {
	t.Helper()
	if p, ok := Find(t, name); ok {
		return p
	}
	if os.Getenv("RETROFIT_REQUIRE_FIXTURES") == "1" {
		t.Fatalf("fixture %s is in neither testdata/ nor ../shared/fixtures, and RETROFIT_REQUIRE_FIXTURES=1 (CI) makes that a failure", name)
	}
	t.Skipf("fixture %s is in neither testdata/ nor ../shared/fixtures; skipping", name)
	return ""
}

// Find is Fixture without the skip.
func Find(t testing.TB, name string) (string, bool) {
	t.Helper()
	root := Root(t)
	for _, p := range []string{
		filepath.Join(root, "testdata", name),
		filepath.Join(root, "..", "shared", "fixtures", name),
	} {
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// EmulatedEnv names the variable CI sets when it runs the tests of another
// architecture under CPU emulation (qemu-user): its value is the emulator.
const EmulatedEnv = "RETROFIT_EMULATED"

// SkipIfEmulated skips a test that is too slow under CPU emulation, saying
// why and what still checks the same claim there. It does nothing on real
// hardware.
func SkipIfEmulated(t testing.TB, why string) {
	t.Helper()
	if emu := os.Getenv(EmulatedEnv); emu != "" {
		t.Skipf("too slow under emulation (%s=%s): %s", EmulatedEnv, emu, why)
	}
}

package model

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMapFile checks the platform mapping against os.ReadFile of the same
// file: contents, bounds errors, and that released pages read back intact.
func TestMapFile(t *testing.T) {
	want := make([]byte, 3*os.Getpagesize()+123)
	for i := range want {
		want[i] = byte(i*7 + i>>9)
	}
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, want, 0o644); err != nil {
		t.Fatal(err)
	}
	mf, err := MapFile(name)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	got, err := mf.Slice(0, mf.Len())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Slice(0, %d): %v, equal %v", mf.Len(), err, bytes.Equal(got, want))
	}
	if err := mf.Release(100, int64(os.Getpagesize())*2); err != nil {
		t.Fatalf("Release: %v", err)
	}
	buf := make([]byte, 500)
	if n, err := mf.ReadAt(buf, int64(os.Getpagesize())); n != 500 || err != nil || !bytes.Equal(buf, want[os.Getpagesize():][:500]) {
		t.Errorf("ReadAt after Release: %d, %v", n, err)
	}
	if _, err := mf.Slice(int64(len(want))-4, 5); err == nil || !strings.Contains(err.Error(), "outside file") {
		t.Errorf("Slice past the end: %v", err)
	}
	if n, err := mf.ReadAt(buf, int64(len(want))-10); n != 10 || err == nil {
		t.Errorf("ReadAt past the end: %d, %v", n, err)
	}
	if err := mf.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	if mf, err := MapFile(empty); err != nil || mf.Len() != 0 || mf.Close() != nil {
		t.Errorf("empty file: %v", err)
	}
}

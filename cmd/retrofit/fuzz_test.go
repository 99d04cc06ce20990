package main

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSize: parseSize accepts only whole byte counts in [1, 2^60] and
// reads its own output back unchanged; nothing else panics.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"2GB", "500MB", "1.5GiB", "4096", "2TB", "2XB", "2GBs", "0.5", "2,5GB", "-1", "", ".5k", "1e9", "99999999999999999999999TB", " 7 kib "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error %q does not quote the input", err)
			}
			return
		}
		if n < 1 || n > maxSize {
			t.Fatalf("%q → %d", s, n)
		}
		if back, err := parseSize(strconv.FormatInt(n, 10)); err != nil || back != n {
			t.Fatalf("%q → %d → %d, %v", s, n, back, err)
		}
	})
}

// FuzzOptions: the --opt splitter and the argument reordering take any
// strings without panicking; splitOptions assigns every option to one of
// the transforms named.
func FuzzOptions(f *testing.F) {
	f.Add("cla", "factor=2", "--to")
	f.Add("looped,cla", "looped.block=3", "-o")
	f.Add("depthattn", "layers=2,4,5", "--plan")
	f.Add("a", "=x", "--")
	f.Add("a,b", "c.d=e", "-")
	f.Fuzz(func(t *testing.T, names, opt, arg string) {
		list := strings.Split(names, ",")
		out, err := splitOptions(list, []string{opt, opt})
		if err == nil {
			total := 0
			for _, kv := range out {
				total += len(kv)
			}
			if total > 1 {
				t.Fatalf("one option %q went to %d places: %v", opt, total, out)
			}
		}
		app := newApp()
		for _, cmd := range []string{"convert", "eval", "finetune", "nosuch"} {
			flagsFirst(app, []string{"retrofit", cmd, arg, opt, names, arg})
		}
	})
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/retrofit-llm/retrofit/internal/testutil"
)

// TestMain makes the test binary the retrofit command inside the scripts
// (and in the signal tests, which start it with RETROFIT_AS_CLI=1).
func TestMain(m *testing.M) {
	if os.Getenv("RETROFIT_AS_CLI") == "1" {
		os.Exit(run(os.Args, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"retrofit": func() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar: every command and flag of the
// README, their error paths and their --json output. $TESTDATA is the
// repository's testdata directory (read-only: outputs go to $WORK).
func TestScripts(t *testing.T) {
	root := testutil.Root(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("TESTDATA", filepath.Join(root, "testdata"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonkeys": jsonKeys,
		},
	})
}

// jsonKeys: jsonkeys FILE key:type... checks that FILE holds one JSON object
// (or, with FILE's first key "[]", an array of them) with each key of the
// given JSON type (number, string, bool, array, object); "!key" must be absent.
func jsonKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: jsonkeys FILE key:type...")
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &obj); err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	for _, kt := range args[1:] {
		if k, absent := strings.CutPrefix(kt, "!"); absent {
			if _, ok := obj[k]; ok {
				ts.Fatalf("%s: key %q present", args[0], k)
			}
			continue
		}
		k, typ, _ := strings.Cut(kt, ":")
		v, ok := obj[k]
		if !ok {
			ts.Fatalf("%s: key %q missing", args[0], k)
		}
		got := map[bool]string{}[false]
		switch v.(type) {
		case float64:
			got = "number"
		case string:
			got = "string"
		case bool:
			got = "bool"
		case []any:
			got = "array"
		case map[string]any:
			got = "object"
		default:
			got = fmt.Sprintf("%T", v)
		}
		if typ != "" && got != typ {
			ts.Fatalf("%s: key %q is %s, want %s", args[0], k, got, typ)
		}
	}
}

package export

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/model"
)

// microConfigDir writes config.json for qwen-micro's config with the given
// layout and provenance into a temp dir and returns the dir and the model.
func microConfigDir(t *testing.T, fixture string, edit func(*model.Layout), steps []model.Step) (string, *model.Model) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.Fixture(t, fixture), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, layout, _, err := model.ParseHFConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&layout)
	}
	if err := layout.Validate(cfg.Layers); err != nil {
		t.Fatal(err)
	}
	out, err := model.HFConfigJSON(cfg, layout, steps, "bfloat16")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, &model.Model{Config: cfg, Layout: layout, Provenance: steps}
}

func TestWriteRemoteCode(t *testing.T) {
	cla := func(l *model.Layout) {
		for i := range l.KVSource {
			l.KVSource[i] = i - i%2
		}
	}
	looped := func(l *model.Layout) {
		for i := range l.LayerMap {
			l.LayerMap[i] = i % 2
		}
	}
	depth := func(l *model.Layout) {
		l.DepthStride = 3
		for i := 1; i < len(l.DepthMix); i++ {
			l.DepthMix[i] = true
		}
	}
	warm := func(l *model.Layout) { // a Depth-Attention warm start mid-anneal
		depth(l)
		l.DepthSelfBias = 7.25
	}
	step := []model.Step{{Transform: "cla", Options: map[string]string{"factor": "2"}}}
	tests := []struct {
		name, fixture string
		edit          func(*model.Layout)
		steps         []model.Step
		want          bool // remote code written
		family        string
	}{
		{"stock qwen3", "qwen3-micro", nil, nil, false, "qwen3"},
		{"stock qwen2", "qwen2-micro", nil, nil, false, "qwen2"},
		{"cla qwen3", "qwen3-micro", cla, step, true, "qwen3"},
		{"cla qwen2", "qwen2-micro", cla, step, true, "qwen2"},
		{"looped", "qwen3-micro", looped, nil, true, "qwen3"},
		{"depthattn", "qwen3-micro", depth, nil, true, "qwen3"},
		{"depthattn warm", "qwen3-micro", warm, nil, true, "qwen3"},
		{"provenance only", "qwen3-micro", nil, []model.Step{{Transform: "mlkv"}}, true, "qwen3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := microConfigDir(t, tc.fixture, tc.edit, tc.steps)
			before, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := WriteRemoteCode(dir, m); err != nil {
				t.Fatal(err)
			}
			after, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if got := HasRemoteCode(dir); got != tc.want {
				t.Fatalf("HasRemoteCode = %v, want %v", got, tc.want)
			}
			if !tc.want {
				if !bytes.Equal(before, after) {
					t.Fatal("config.json of a stock model was changed")
				}
				return
			}
			var raw map[string]any
			if err := json.Unmarshal(after, &raw); err != nil {
				t.Fatal(err)
			}
			am, _ := raw["auto_map"].(map[string]any)
			if am["AutoConfig"] != "configuration_retrofit.RetrofitConfig" ||
				am["AutoModelForCausalLM"] != "modeling_retrofit.RetrofitForCausalLM" {
				t.Fatalf("auto_map = %v", raw["auto_map"])
			}
			if raw["model_type"] != tc.family {
				t.Fatalf("model_type = %v, want %s", raw["model_type"], tc.family)
			}
			// retrofit reads the patched config back with the same layout.
			cfg, layout, steps, err := model.ParseHFConfig(after)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Family != tc.family || !reflect.DeepEqual(layout, m.Layout) || model.ProvenanceJSON(steps) != model.ProvenanceJSON(m.Provenance) {
				t.Fatalf("read back %s %+v %v, want %s %+v %v", cfg.Family, layout, steps, tc.family, m.Layout, m.Provenance)
			}
			src, err := os.ReadFile(filepath.Join(dir, "configuration_retrofit.py"))
			if err != nil {
				t.Fatal(err)
			}
			if want := `BASE_MODEL_TYPE = "` + tc.family + `"`; !strings.Contains(string(src), want) || strings.Contains(string(src), baseTypeMarker) {
				t.Fatalf("configuration_retrofit.py does not name its family with %s", want)
			}
			// Idempotent: a second call leaves the same files.
			if err := WriteRemoteCode(dir, m); err != nil {
				t.Fatal(err)
			}
			again, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if !bytes.Equal(again, after) {
				t.Fatal("second WriteRemoteCode changed config.json")
			}
		})
	}
}

func TestPatchAutoMapErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"missing", "", "config.json"},
		{"not json", "{", "config.json"},
		{"not an object", "null", "not a JSON object"},
		{"other family", `{"model_type": "llama"}`, `"model_type"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := PatchAutoMap(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if tc.config != "" {
				got, _ := os.ReadFile(filepath.Join(dir, "config.json"))
				if string(got) != tc.config {
					t.Fatal("config.json changed on error")
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "config.json" {
					t.Fatalf("left %s behind", e.Name())
				}
			}
		})
	}
}

func TestWriteRemoteCodeUnsupportedFamily(t *testing.T) {
	m := &model.Model{Config: model.Config{Family: "llama", Layers: 2}, Layout: model.DefaultLayout(2)}
	m.Layout.KVSource[1] = 0
	dir := t.TempDir()
	if err := WriteRemoteCode(dir, m); err == nil || !strings.Contains(err.Error(), "llama") {
		t.Fatalf("err = %v, want it to name the family", err)
	}
	if HasRemoteCode(dir) {
		t.Fatal("wrote files for an unsupported family")
	}
}

// TestRemoteCodePythonSyntax parses the rendered templates with python3's ast
// module when python3 is installed (no torch needed).
func TestRemoteCodePythonSyntax(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: remote-code syntax not checked")
	}
	for _, name := range RemoteCodeFiles {
		src, err := remoteCodeSource(name, "qwen3")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "-c", "import ast, sys; ast.parse(sys.stdin.read(), sys.argv[1])", name)
		cmd.Stdin = strings.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
}

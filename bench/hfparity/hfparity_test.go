package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// fixturesDir is the directory holding the fixture model and its references.
func fixturesDir(t *testing.T, name string) string {
	t.Helper()
	return filepath.Dir(testutil.Fixture(t, name))
}

// refsF32 reads one F32 tensor of a references file.
func refsF32(t *testing.T, path, name string) []float32 {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Float32s(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExportCases converts each fixture with every transform, exports it with
// remote code, loads the export back and checks what the GPU parity run
// compares against: the engine's outputs on the export equal those on the
// model in memory, the stock export reproduces transformers' references, and
// each layout stores the K/V it should.
func TestExportCases(t *testing.T) {
	tests := []struct {
		model    string
		kvLayers map[string]int // layers storing K/V per case
		blocks   map[string]int // physical blocks per case (default: layers)
	}{
		{"qwen3-micro", map[string]int{"stock": 6, "cla": 3, "mlkv": 2, "looped": 6, "kvsharer": 4, "depthattn": 6, "cla+depthattn": 3, "looped+cla": 3},
			map[string]int{"looped": 3, "looped+cla": 3}},
		{"qwen2-micro", map[string]int{"stock": 4, "cla": 2, "mlkv": 2, "looped": 4, "kvsharer": 3, "depthattn": 4, "cla+depthattn": 2, "looped+cla": 2},
			map[string]int{"looped": 2, "looped+cla": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			fx := fixturesDir(t, tc.model)
			out := t.TempDir()
			res, err := ExportCases(fx, tc.model, out, caseNames())
			if err != nil {
				t.Fatal(err)
			}
			refs := filepath.Join(fx, tc.model+"-refs.safetensors")
			want, err := readRefs(refs)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				layers := len(r.Layout.KVSource)
				if r.ReloadDiff > 1e-6 {
					t.Errorf("%s: export loaded back differs from the model in memory by %g", r.Case, r.ReloadDiff)
				}
				if r.RemoteCode != (r.Case != "stock") {
					t.Errorf("%s: remote code written = %v", r.Case, r.RemoteCode)
				}
				if r.KVLayers != tc.kvLayers[r.Case] {
					t.Errorf("%s: %d layers store K/V, want %d", r.Case, r.KVLayers, tc.kvLayers[r.Case])
				}
				wantBlocks := layers
				if b, ok := tc.blocks[r.Case]; ok {
					wantBlocks = b
				}
				if b := r.Layout.Blocks(); b != wantBlocks {
					t.Errorf("%s: %d physical blocks, want %d", r.Case, b, wantBlocks)
				}
				if r.Case == "depthattn" && !r.Layout.DepthMix[layers-1] {
					t.Errorf("depthattn: layout %+v mixes no value in the last layer", r.Layout)
				}
				if len(r.Greedy) != greedyTokens {
					t.Errorf("%s: %d greedy tokens", r.Case, len(r.Greedy))
				}
				raw, err := os.ReadFile(filepath.Join(r.Dir, "logits.f32"))
				if err != nil || len(raw) != 4*len(r.Logits) || len(r.Logits)%len(r.Ids) != 0 {
					t.Errorf("%s: logits.f32: %d bytes for %d logits (%v)", r.Case, len(raw), len(r.Logits), err)
				}
				var rec CaseResult
				blob, err := os.ReadFile(filepath.Join(r.Dir, "retrofit.json"))
				if err != nil || json.Unmarshal(blob, &rec) != nil || !reflect.DeepEqual(rec.Greedy, r.Greedy) || rec.KVBytes != r.KVBytes {
					t.Errorf("%s: retrofit.json does not record the run (%v)", r.Case, err)
				}
				if r.Case != "stock" {
					continue
				}
				ref := refsF32(t, refs, "logits_a")
				if d := maxAbsDiff(r.Logits, ref); d > 1e-3 {
					t.Errorf("stock: logits differ from transformers' references by %g", d)
				}
				if !reflect.DeepEqual(r.Greedy, want["greedy_a"]) {
					t.Errorf("stock: greedy %v, references %v", r.Greedy, want["greedy_a"])
				}
			}
		})
	}
}

// TestPPLGGUF evaluates qwen3-micro on four windows from its HF directory and
// from the bf16 GGUF export of it: the directory gives transformers' reference
// NLLs (nll_docs_val) and the GGUF the same perplexity.
func TestPPLGGUF(t *testing.T) {
	dir := testutil.Fixture(t, "qwen3-micro")
	fx := filepath.Dir(dir)
	const windows, ctx = 4, 512
	nll := refsF32(t, filepath.Join(fx, "qwen3-micro-refs.safetensors"), "nll_docs_val")
	var sum float64
	for _, v := range nll[:windows*ctx] {
		sum += float64(v)
	}
	want := math.Exp(sum / (windows * ctx))
	r, err := PPL(fx, "qwen3-micro-refs.safetensors", dir, filepath.Join(t.TempDir(), "m.gguf"), "bf16", ctx, windows)
	if err != nil {
		t.Fatal(err)
	}
	if r.Tokens != windows*ctx || math.Abs(r.PPL-want)/want > 1e-4 {
		t.Errorf("ppl %.6f over %d tokens, transformers %.6f over %d", r.PPL, r.Tokens, want, windows*ctx)
	}
	if r.RelDiff > 1e-6 {
		t.Errorf("GGUF ppl %.6f, HF directory %.6f", r.PPLGGUF, r.PPL)
	}
}

func TestPPLErrors(t *testing.T) {
	dir := testutil.Fixture(t, "qwen3-micro")
	fx := filepath.Dir(dir)
	if _, err := PPL(fx, "nope.safetensors", dir, "", "bf16", 512, 1); err == nil || !strings.Contains(err.Error(), "nope.safetensors") {
		t.Errorf("missing refs: err = %v", err)
	}
	if _, err := PPL(fx, "qwen3-micro-refs.safetensors", dir, filepath.Join(t.TempDir(), "x.gguf"), "q2", 512, 1); err == nil || !strings.Contains(err.Error(), "q2") {
		t.Errorf("bad dtype: err = %v", err)
	}
	if _, err := ExportCases(fx, "qwen3-micro", t.TempDir(), []string{"nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown case: err = %v", err)
	}
}

// TestHFParityPython runs scripts/hf_parity.py (selftest and compare against
// the exports) when python3 can import torch and transformers. CI has
// neither; docs/hf.md records the GPU run.
func TestHFParityPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: HF parity not run (docs/hf.md records the GPU run)")
	}
	if out, err := exec.Command(py, "-c", "import torch, transformers, safetensors").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import torch/transformers/safetensors: HF parity not run (docs/hf.md records the GPU run): %s", strings.TrimSpace(lastLine(string(out))))
	}
	root := testutil.Root(t)
	fx := fixturesDir(t, "qwen3-micro")
	out := t.TempDir()
	res, err := ExportCases(fx, "qwen3-micro", out, caseNames())
	if err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(root, "scripts", "hf_parity.py"), "compare"}
	for _, r := range res {
		args = append(args, r.Dir)
	}
	for _, cmd := range [][]string{
		{filepath.Join(root, "scripts", "hf_parity.py"), "selftest", "--fixture", filepath.Join(fx, "qwen3-micro"),
			"--refs", filepath.Join(fx, "qwen3-micro-refs.safetensors"), "--templates", filepath.Join(root, "export", "hf"),
			"--out", filepath.Join(out, "selftest")},
		args,
	} {
		c := exec.Command(py, cmd...)
		c.Env = append(os.Environ(), "TRANSFORMERS_VERBOSITY=error")
		b, err := c.CombinedOutput()
		t.Logf("%s %s:\n%s", py, cmd[1], b)
		if err != nil {
			t.Fatalf("%s %s: %v", filepath.Base(cmd[0]), cmd[1], err)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

package runtimes_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/eval"
	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/internal/testutil"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all"
)

// llamaBin returns the bin directory of a llama.cpp build holding
// retrofit-check (runtimes/llama.cpp/check.sh builds both), from env.
func llamaBin(t *testing.T, env, what string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		t.Skipf("skipped: no %s llama.cpp build (set %s to its bin directory; runtimes/llama.cpp/check.sh builds one)", what, env)
	}
	if _, err := os.Stat(filepath.Join(dir, "retrofit-check")); err != nil {
		t.Fatalf("%s=%s: %v (build it with runtimes/llama.cpp/check.sh)", env, dir, err)
	}
	return dir
}

// layoutCase is one converted model: transforms applied in order to a fixture.
type layoutCase struct {
	fixture, name string
	steps         []step
	ref           string // case in layout-refs.safetensors, "" if none
}

type step struct {
	to   string
	opts map[string]string
}

func cases() []layoutCase {
	s := func(to string, kv ...string) step {
		o := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			o[kv[i]] = kv[i+1]
		}
		return step{to, o}
	}
	var cs []layoutCase
	add := func(fixture, name, ref string, steps ...step) {
		cs = append(cs, layoutCase{fixture, name, steps, ref})
	}
	q3, q2 := "qwen3-micro", "qwen2-micro"
	add(q3, "original", "original")
	add(q3, "cla2", "cla2", s("cla", "factor", "2", "init", "keep"))
	add(q3, "kvshare-map", "kvshare-map", s("kvmap", "map", "0,1,2,2,1,5"))
	add(q3, "depthattn-s3", "depthattn-s3", s("depthattn", "stride", "3"))
	add(q3, "depthattn-s1", "depthattn-s1", s("depthattn", "stride", "1"))
	add(q3, "depthattn-s3-w1", "depthattn-s3-w1", s("depthattn", "stride", "3", "window", "1"))
	add(q3, "cla2+depthattn-s3", "cla2+depthattn-s3", s("cla", "factor", "2"), s("depthattn", "stride", "3"))
	add(q3, "cla2+depthattn-s1", "cla2+depthattn-s1", s("cla", "factor", "2"), s("depthattn", "stride", "1"))
	add(q3, "looped-b3-lower", "looped-b3-lower", s("looped", "block", "3", "init", "lower"))
	add(q3, "mlkv2-h1", "", s("mlkv", "kv_layers", "2", "kv_heads", "1"))
	add(q3, "kvsharer", "", s("kvsharer", "share", "1/3"))
	add(q3, "looped-b3+cla2+depthattn-s2", "", s("looped", "block", "3"), s("cla", "factor", "2"), s("depthattn", "stride", "2"))
	add(q3, "kvsharer+depthattn-w2", "", s("kvsharer", "share", "1/3"), s("depthattn", "stride", "0", "window", "2"))
	add(q2, "original", "original")
	add(q2, "cla2", "cla2", s("cla", "factor", "2", "init", "keep"))
	add(q2, "depthattn-s2", "depthattn-s2", s("depthattn", "stride", "2"))
	add(q2, "depthattn-s1", "depthattn-s1", s("depthattn", "stride", "1"))
	add(q2, "looped-b2-lower", "looped-b2-lower", s("looped", "block", "2", "init", "lower"))
	add(q2, "mlkv2-h1", "", s("mlkv", "kv_layers", "2", "kv_heads", "1"))
	add(q2, "kvsharer", "", s("kvsharer", "share", "1/2"))
	add(q2, "looped-b2+mlkv2+depthattn-s1", "", s("looped", "block", "2"), s("mlkv", "kv_layers", "2"), s("depthattn", "stride", "1"))
	return cs
}

// build loads c's fixture and applies its steps ("kvmap" sets kv_source
// directly, the KVSharer result layout-refs.json records).
func (c layoutCase) build(t *testing.T, calib [][]int) *model.Model {
	t.Helper()
	m, err := loaders.Load(testutil.Fixture(t, c.fixture))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, st := range c.steps {
		tr, err := transforms.Lookup(st.to)
		if st.to == "kvmap" {
			tr, err = kvMap, nil
		}
		if err == nil {
			_, err = tr.Apply(m, st.opts, transforms.Env{Calib: calib})
		}
		if err != nil {
			t.Fatalf("%s/%s: %s: %v", c.fixture, c.name, st.to, err)
		}
	}
	return m
}

// kvMap sets kv_source to the comma-separated option map (producers keep
// their K/V weights): the KVSharer result that layout-refs.json records.
var kvMap = transforms.New(transforms.Spec{
	Name:    "kvsharer",
	Options: []transforms.Option{{Name: "map"}},
	Edit: func(m *model.Model, v transforms.Values, _ transforms.Env) (*transforms.Edit, error) {
		var kv []int
		for _, f := range strings.Split(v["map"], ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, err
			}
			kv = append(kv, n)
		}
		return transforms.ShareKV(m, transforms.KVShare{KVSource: kv, Init: "keep"})
	},
})

// llamaResult is retrofit-check's output.
type llamaResult struct {
	NLL       []float64 `json:"nll"`
	NLLDecode []float64 `json:"nll_decode"`
	Greedy    []int     `json:"greedy"`
	Log       string    `json:"-"`
}

func runCheck(t *testing.T, bin, gguf, idsFile string, args ...string) (llamaResult, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "retrofit-check"), append([]string{"-m", gguf, "-i", idsFile}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := llamaResult{Log: stderr.String()}
	if err != nil {
		return r, fmt.Errorf("%v\n%s", err, tail(stderr.String(), 2000))
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("retrofit-check output: %v", err)
	}
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

var kvLine = regexp.MustCompile(`llama_kv_cache: size = +([0-9.]+) MiB \( *(\d+) cells, +(\d+) layers`)

const (
	nTokens = 512 // scored tokens: ids_docs_val[1:513], as layout-refs
	nPrompt = 16  // greedy: 64 tokens after ids_docs_val[:16]
	nGen    = 64
)

// TestLlamaCppLayouts runs every layout through the patched llama.cpp and
// retrofit's engine, from the same GGUF file, as F32 and BF16: per-token NLL
// (prefill, and token by token through llama.cpp's cache), greedy tokens, and
// the KV cache llama.cpp allocates; and, where layout-refs has the case, the
// independent reference NLL.
func TestLlamaCppLayouts(t *testing.T) {
	bin := llamaBin(t, "RETROFIT_LLAMA_CPP", "patched")
	dir := t.TempDir()
	refs := readSafetensors(t, testutil.Fixture(t, "layout-refs.safetensors"))
	for _, c := range cases() {
		ids := readSafetensors(t, testutil.Fixture(t, c.fixture+"-refs.safetensors"))["ids_docs_val"].ints()
		window := ids[:nTokens+1]
		var calib [][]int
		for s := 0; s < 8; s++ { // calibration text: held-out ids after the scored window
			calib = append(calib, ids[1024+64*s:1024+64*(s+1)])
		}
		idsFile := filepath.Join(dir, c.fixture+".ids")
		writeIDs(t, idsFile, window)
		for _, dt := range []model.DType{model.F32, model.BF16} {
			t.Run(fmt.Sprintf("%s.%s.%v", c.fixture, c.name, dt), func(t *testing.T) {
				m := c.build(t, calib)
				gguf := filepath.Join(dir, fmt.Sprintf("%s-%s-%v.gguf", c.fixture, strings.ReplaceAll(c.name, "+", "_"), dt))
				if err := export.GGUF(m, gguf, export.GGUFOptions{DType: dt}); err != nil {
					t.Fatal(err)
				}
				compareLayout(t, bin, gguf, idsFile, window, dt, refs[c.fixture+"/"+c.ref+"/nll"])
			})
		}
	}
}

func compareLayout(t *testing.T, bin, gguf, idsFile string, window []int, dt model.DType, ref *stTensor) {
	back, err := loaders.Load(gguf)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	e, err := engine.New(back)
	if err != nil {
		t.Fatal(err)
	}
	want, err := eval.Perplexity(e, window, eval.Options{Ctx: nTokens})
	if err != nil {
		t.Fatal(err)
	}
	wantGen, err := e.Generate(context.Background(), window[:nPrompt], nGen, nil, engine.Greedy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runCheck(t, bin, gguf, idsFile, "-p", fmt.Sprint(nPrompt), "-n", fmt.Sprint(nGen))
	if err != nil {
		t.Fatal(err)
	}
	tol := map[model.DType]float64{model.F32: 1e-4, model.BF16: 1e-3}[dt]
	gotPPL, decPPL := math.Exp(mean(got.NLL)), math.Exp(mean(got.NLLDecode))
	t.Logf("ppl: retrofit eval %.6f, llama.cpp prefill %.6f (rel %.1e), decode %.6f (rel %.1e); KV layers %d",
		want.PPL, gotPPL, rel(gotPPL, want.PPL), decPPL, rel(decPPL, want.PPL), back.Layout.KVLayers())
	if rel(gotPPL, want.PPL) > tol || rel(decPPL, want.PPL) > tol {
		t.Errorf("llama.cpp ppl %.6f (prefill) / %.6f (decode), retrofit eval %.6f: relative difference over %.0e", gotPPL, decPPL, want.PPL, tol)
	}
	// Token by token equals one prefill, per token, in F32. With BF16 weights
	// llama.cpp's CPU matmuls round activations to BF16 too, differently in
	// its batched and single-token kernels (stock models alike), so there only
	// the perplexities above are compared.
	d := maxAbsDiff(got.NLL, got.NLLDecode)
	t.Logf("llama.cpp decode vs prefill: max |ΔNLL| %.2e", d)
	if dt == model.F32 && d > 1e-4 {
		t.Errorf("llama.cpp decode differs from its prefill: max |ΔNLL| %.2e", d)
	}
	if ref != nil && dt == model.F32 {
		refPPL := math.Exp(mean(ref.floats()))
		t.Logf("layout-refs ppl %.6f (rel %.1e)", refPPL, rel(gotPPL, refPPL))
		if rel(gotPPL, refPPL) > tol {
			t.Errorf("llama.cpp ppl %.6f, independent reference %.6f: relative difference over %.0e", gotPPL, refPPL, tol)
		}
	}
	if k := firstDiff(got.Greedy, wantGen); k >= 0 {
		// F32 must agree on every token. With BF16 weights llama.cpp rounds
		// activations to BF16, so a near tie may go the other way: accept a
		// divergence only where retrofit's logits of the two tokens are
		// within 0.1 of each other.
		gap := logitGap(t, e, append(slices.Clone(window[:nPrompt]), wantGen[:k]...), wantGen[k], got.Greedy[k])
		t.Logf("greedy: first difference at token %d of %d, retrofit's logit gap there %.4f", k, nGen, gap)
		if dt == model.F32 || gap > 0.1 {
			t.Errorf("greedy tokens differ from token %d (logit gap %.4f):\nllama.cpp %v\nretrofit  %v", k, gap, got.Greedy, wantGen)
		}
	} else {
		t.Logf("greedy: %d tokens identical", nGen)
	}
	// The KV cache llama.cpp allocates at fp16 for 4096 tokens, against the
	// engine's (inspect's) fp16 bytes per token.
	kv, err := runCheck(t, bin, gguf, idsFile, "-ctk", "f16", "-c", "4096", "-kvonly", "1")
	if err != nil {
		t.Fatal(err)
	}
	mm := kvLine.FindStringSubmatch(kv.Log)
	if mm == nil {
		t.Fatalf("no KV cache size line in llama.cpp's log:\n%s", tail(kv.Log, 2000))
	}
	mib, _ := strconv.ParseFloat(mm[1], 64)
	cells, _ := strconv.Atoi(mm[2])
	layers, _ := strconv.Atoi(mm[3])
	wantMiB := float64(e.KVBytesPerToken()) * float64(cells) / (1 << 20)
	t.Logf("llama.cpp KV cache: %.2f MiB for %d cells, %d layers; retrofit: %d B/token → %.4f MiB", mib, cells, layers, e.KVBytesPerToken(), wantMiB)
	if layers != back.Layout.KVLayers() || math.Abs(mib-wantMiB) > 0.006 {
		t.Errorf("llama.cpp KV cache %.2f MiB in %d layers, retrofit predicts %.4f MiB in %d layers", mib, layers, wantMiB, back.Layout.KVLayers())
	}
}

// TestLlamaCppStock checks what the patch must not change: a stock file gives
// bit-identical NLLs with and without the patch, and stock llama.cpp refuses
// every transformed file with a message saying what to do.
func TestLlamaCppStock(t *testing.T) {
	patched := llamaBin(t, "RETROFIT_LLAMA_CPP", "patched")
	stock := llamaBin(t, "RETROFIT_LLAMA_CPP_STOCK", "stock")
	dir := t.TempDir()
	for _, fixture := range []string{"qwen3-micro", "qwen2-micro"} {
		ids := readSafetensors(t, testutil.Fixture(t, fixture+"-refs.safetensors"))["ids_docs_val"].ints()
		idsFile := filepath.Join(dir, fixture+".ids")
		writeIDs(t, idsFile, ids[:129])
		for _, c := range cases() {
			if c.fixture != fixture || c.name == "kvsharer" || strings.HasPrefix(c.name, "kvsharer+") {
				continue
			}
			m := c.build(t, nil)
			gguf := filepath.Join(dir, fixture+"-"+strings.ReplaceAll(c.name, "+", "_")+".gguf")
			if err := export.GGUF(m, gguf, export.GGUFOptions{DType: model.BF16}); err != nil {
				t.Fatal(err)
			}
			a, errA := runCheck(t, stock, gguf, idsFile)
			if c.name == "original" {
				b, errB := runCheck(t, patched, gguf, idsFile)
				if errA != nil || errB != nil {
					t.Fatalf("%s: stock: %v; patched: %v", fixture, errA, errB)
				}
				if !slices.Equal(a.NLL, b.NLL) || !slices.Equal(a.NLLDecode, b.NLLDecode) {
					t.Errorf("%s: stock file: NLLs differ with the patch (max |Δ| %.2e)", fixture, maxAbsDiff(a.NLL, b.NLL))
				}
				continue
			}
			arch := strings.TrimSuffix(fixture, "-micro") + model.GGUFArchSuffix
			if errA == nil || !strings.Contains(a.Log, "unknown model architecture: '"+arch+"'") ||
				!strings.Contains(a.Log, "Needs llama.cpp with retrofit's patch") {
				t.Errorf("%s/%s: stock llama.cpp did not refuse it with the expected message (err %v):\n%s", fixture, c.name, errA, tail(a.Log, 3000))
			}
		}
	}
}

// firstDiff returns the first index where a and b differ, -1 if equal.
func firstDiff(a, b []int) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

// logitGap is the engine's logit of token a minus that of token b after prefix.
func logitGap(t *testing.T, e *engine.Engine, prefix []int, a, b int) float64 {
	t.Helper()
	logits, err := e.Forward(prefix, e.NewCache(len(prefix)), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := e.Config().VocabSize
	last := logits[len(logits)-v:]
	return float64(last[a] - last[b])
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func rel(a, b float64) float64 { return math.Abs(a-b) / math.Abs(b) }

func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

func writeIDs(t *testing.T, path string, ids []int) {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintln(&b, id)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stTensor is one tensor of a safetensors file (F32 or I32 only).
type stTensor struct {
	dtype string
	raw   []byte
}

func (s *stTensor) floats() []float64 {
	out := make([]float64, len(s.raw)/4)
	for i := range out {
		out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(s.raw[4*i:])))
	}
	return out
}

func (s *stTensor) ints() []int {
	out := make([]int, len(s.raw)/4)
	for i := range out {
		out[i] = int(int32(binary.LittleEndian.Uint32(s.raw[4*i:])))
	}
	return out
}

func readSafetensors(t *testing.T, path string) map[string]*stTensor {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*stTensor{}
	for _, ti := range f.Tensors {
		if ti.DType == "F32" || ti.DType == "I32" {
			_, raw, _ := f.Bytes(ti.Name)
			out[ti.Name] = &stTensor{ti.DType, raw}
		}
	}
	return out
}

// TestLlamaCppWarmStartRefused: a Depth-Attention warm start still annealing
// its self-score bias (retrofit.depth_self_bias) is refused by the patched
// llama.cpp, which does not implement the bias, instead of running as plain
// Depth-Attention.
func TestLlamaCppWarmStartRefused(t *testing.T) {
	bin := llamaBin(t, "RETROFIT_LLAMA_CPP", "patched")
	dir := t.TempDir()
	c := layoutCase{fixture: "qwen3-micro", name: "depthattn-s3-warm",
		steps: []step{{"depthattn", map[string]string{"stride": "3", "warm": "on"}}}}
	m := c.build(t, nil)
	if m.Layout.DepthSelfBias == 0 {
		t.Fatal("warm=on left depth_self_bias at 0")
	}
	gguf := filepath.Join(dir, "warm.gguf")
	if err := export.GGUF(m, gguf, export.GGUFOptions{DType: model.F32}); err != nil {
		t.Fatal(err)
	}
	ids := readSafetensors(t, testutil.Fixture(t, "qwen3-micro-refs.safetensors"))["ids_docs_val"].ints()
	idsFile := filepath.Join(dir, "ids")
	writeIDs(t, idsFile, ids[:65])
	r, err := runCheck(t, bin, gguf, idsFile)
	if err == nil || !strings.Contains(r.Log, "retrofit.depth_self_bias is set") {
		t.Errorf("patched llama.cpp did not refuse a warm start mid-anneal (err %v):\n%s", err, tail(r.Log, 3000))
	}
}

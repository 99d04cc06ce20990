package finetune

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"
)

// byteEncoder maps bytes onto ids 0..30 (31 is EOS) of the tiny models.
type byteEncoder struct{}

func (byteEncoder) Encode(s string) []int {
	out := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = int(s[i]) % 31
	}
	return out
}

func tinyRunConfig(t *testing.T, dir string, steps int) Config {
	t.Helper()
	m, err := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["cla+depth"], 3)
	if err != nil {
		t.Fatal(err)
	}
	teacher, err := RandomModel(tinyConfig("qwen3", 2), tinyLayouts()["vanilla"], 4)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "train.txt")
	var sb strings.Builder
	for i := 0; i < 40; i++ {
		sb.WriteString(strings.Repeat("the quick brown fox jumps over the lazy dog ", 1+i%3))
		sb.WriteString(DocSeparator)
	}
	if err := os.WriteFile(data, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{Model: m, Teacher: teacher, DataFiles: []string{data}, OutDir: dir, Steps: steps, LR: 3e-3, Warmup: 2,
		WeightDecay: 0.01, Ctx: 16, Batch: 3, Accum: 2, Seed: 9, KDWeight: 0.3, KDTemp: 2, EvalEvery: 2, SaveEvery: 2,
		Encoder: byteEncoder{}, EOS: 31, NoExport: true}
}

func losses(h []Point) []float64 {
	var out []float64
	for _, p := range h {
		out = append(out, p.Loss, p.EvalNLL, p.Norm)
	}
	return out
}

func equalF(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunDeterministic: same seed and data give the same curve bit for bit,
// with 1 or 2 threads; the loss goes down.
func TestRunDeterministic(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	a, err := Run(context.Background(), tinyRunConfig(t, t.TempDir(), 6))
	runtime.GOMAXPROCS(max(prev, 2))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), tinyRunConfig(t, t.TempDir(), 6))
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	if !equalF(losses(a.History), losses(b.History)) {
		t.Fatalf("curves differ:\n%v\n%v", losses(a.History), losses(b.History))
	}
	if !(a.EvalPPL < a.InitEvalPPL) {
		t.Errorf("eval ppl %g did not improve on %g", a.EvalPPL, a.InitEvalPPL)
	}
}

// stopAfter cancels the run once a progress line for step n is written.
type stopAfter struct {
	needle string
	cancel context.CancelFunc
}

func (s stopAfter) Write(p []byte) (int, error) {
	if strings.HasPrefix(string(p), s.needle) {
		s.cancel()
	}
	return len(p), nil
}

// TestResumeExact: a run interrupted after step 3 and resumed gives the same
// curve and weights as an uninterrupted run; the export loads back.
func TestResumeExact(t *testing.T) {
	full := tinyRunConfig(t, t.TempDir(), 6)
	full.NoExport = false
	want, err := Run(context.Background(), full)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	part := tinyRunConfig(t, dir, 6)
	part.Log = stopAfter{"step 3/6", cancel}
	r, err := Run(ctx, part)
	if !errors.Is(err, context.Canceled) || r == nil || !r.Interrupted || r.Steps != 3 {
		t.Fatalf("interrupted run: %+v, %v", r, err)
	}
	again := tinyRunConfig(t, dir, 6)
	again.Resume = true
	again.NoExport = false
	got, err := Run(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if !equalF(losses(want.History), losses(got.History)) {
		t.Fatalf("resumed curve differs:\n%v\n%v", losses(want.History), losses(got.History))
	}
	a, err := loaders.Load(want.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaders.Load(got.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tensors) != len(b.Tensors) || a.Layout.KVSource[1] != 0 || !a.Layout.DepthMix[2] {
		t.Fatalf("exported models: %d vs %d tensors, layout %+v", len(a.Tensors), len(b.Tensors), a.Layout)
	}
	for _, ta := range a.Tensors {
		x, _ := ta.Float32()
		y, err := b.Tensor(ta.Name).Float32()
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s[%d]: %g vs %g", ta.Name, i, x[i], y[i])
			}
		}
	}
	if p := a.Provenance; len(p) == 0 || p[len(p)-1].Transform != "finetune" {
		t.Errorf("provenance %+v lacks the finetune step", p)
	}
	for _, f := range []string{"metrics.jsonl", "loss.png", CheckpointName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
)

// PPLResult is the perplexity of one checkpoint, as loaded and as GGUF.
type PPLResult struct {
	Model   string       `json:"model"`
	Layout  model.Layout `json:"layout"`
	Tokens  int          `json:"tokens"`
	PPL     float64      `json:"ppl"`
	GGUF    string       `json:"gguf,omitempty"`
	PPLGGUF float64      `json:"ppl_gguf"`
	RelDiff float64      `json:"rel_diff"`
}

// PPL evaluates the model at dir on the references' ids_docs_val in
// non-overlapping windows of ctx tokens (at most windows of them when
// positive); with gg set it also exports the model to that GGUF file, loads it
// back and evaluates it the same way.
func PPL(fixtures, refsName, dir, gg, dtype string, ctx, windows int) (*PPLResult, error) {
	dt, ok := map[string]model.DType{"f32": model.F32, "f16": model.F16, "bf16": model.BF16, "q8_0": model.Q8_0}[strings.ToLower(dtype)]
	if !ok {
		return nil, fmt.Errorf("-dtype %q: want f32, f16, bf16 or q8_0", dtype)
	}
	refsPath, err := find(fixtures, refsName)
	if err != nil {
		return nil, err
	}
	refs, err := readRefs(refsPath)
	if err != nil {
		return nil, err
	}
	ids := refs["ids_docs_val"]
	if windows > 0 && len(ids) > windows*ctx+1 {
		ids = ids[:windows*ctx+1]
	}
	m, err := loaders.Load(dir)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	r := &PPLResult{Model: dir, Layout: m.Layout}
	if r.PPL, r.Tokens, err = perplexity(m, ids, ctx); err != nil {
		return nil, err
	}
	if gg == "" {
		return r, nil
	}
	if err := export.GGUF(m, gg, export.GGUFOptions{DType: dt}); err != nil {
		return nil, err
	}
	g, err := loaders.Load(gg)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	if !layoutEqual(g.Layout, m.Layout) {
		return nil, fmt.Errorf("%s: layout %+v, the HF directory has %+v", gg, g.Layout, m.Layout)
	}
	r.GGUF = gg
	if r.PPLGGUF, _, err = perplexity(g, ids, ctx); err != nil {
		return nil, err
	}
	r.RelDiff = math.Abs(r.PPLGGUF-r.PPL) / r.PPL
	return r, nil
}

// perplexity is exp(mean NLL) of ids[1:] over non-overlapping windows of ctx
// tokens, each from an empty cache.
func perplexity(m *model.Model, ids []int, ctx int) (float64, int, error) {
	e, err := engine.New(m)
	if err != nil {
		return 0, 0, err
	}
	vocab := m.Config.VocabSize
	var nll float64
	n := 0
	for w := 0; (w+1)*ctx+1 <= len(ids); w++ {
		win := ids[w*ctx : (w+1)*ctx+1]
		logits, err := e.Forward(win[:ctx], e.NewCache(ctx), nil)
		if err != nil {
			return 0, 0, err
		}
		for i := 0; i < ctx; i++ {
			nll += numerics.NLL(logits[i*vocab:(i+1)*vocab], win[i+1])
			n++
		}
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("ids_docs_val has %d tokens, fewer than one window of %d", len(ids), ctx)
	}
	return math.Exp(nll / float64(n)), n, nil
}

func layoutEqual(a, b model.Layout) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// readRefs reads the integer tensors (I32 or I64) of a references
// safetensors file, by name.
func readRefs(path string) (map[string][]int, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, t := range f.Tensors {
		if t.DType != "I32" && t.DType != "I64" {
			continue
		}
		if out[t.Name], err = f.Ints(t.Name); err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"ids_a", "ids_docs_val"} {
		if len(out[k]) == 0 {
			return nil, fmt.Errorf("%s: no integer tensor %q", path, k)
		}
	}
	return out, nil
}

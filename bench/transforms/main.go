// Command transforms measures every transform on the micro fixtures without
// training: parameters and fp16 KV-cache bytes per token before → after, and
// perplexity on the tokenized docs-val windows of the fixtures' references
// (ids_docs_val) before → after. KVSharer runs its search on calibration
// samples from docs-train.txt and prints its log. It prints Markdown tables:
//
//	go run ./bench/transforms [-fixtures DIR] [-windows 16] [-ctx 512]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/internal/numerics"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/safetensors"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/safetensors"
	"github.com/retrofit-llm/retrofit/tokenizer"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all"
)

type step struct {
	name string
	opts map[string]string
}

type row struct {
	steps []step
}

func (r row) label() string {
	var parts []string
	for _, s := range r.steps {
		keys := make([]string, 0, len(s.opts))
		for k := range s.opts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p := s.name
		for _, k := range keys {
			p += " " + k + "=" + s.opts[k]
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " → ")
}

func one(name string, kv ...string) row {
	o := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i]] = kv[i+1]
	}
	return row{[]step{{name, o}}}
}

// rows lists the option sets measured for a model of n layers.
func rows(n int) []row {
	r := []row{
		one("cla", "factor", "2"),
		one("cla", "factor", "2", "init", "mean"),
	}
	if n%3 == 0 {
		r = append(r, one("cla", "factor", "3"))
	} else {
		r = append(r, one("cla", "factor", fmt.Sprint(n)))
	}
	r = append(r,
		one("mlkv", "kv_layers", fmt.Sprint(n/2), "init", "mean"),
		one("mlkv", "kv_layers", fmt.Sprint(max(1, n/3)), "init", "mean"),
		one("mlkv", "kv_layers", fmt.Sprint(max(1, n/3)), "init", "running"),
		one("mlkv", "kv_layers", fmt.Sprint(n), "kv_heads", "1"),
		one("mlkv", "kv_layers", "2", "kv_heads", "1"),
		one("looped", "block", fmt.Sprint(n/2), "init", "average"),
		one("looped", "block", fmt.Sprint(n/2), "init", "stepwise"),
		one("looped", "block", fmt.Sprint(n/2), "init", "lower"),
	)
	for s := n / 2; s >= 1; s-- {
		r = append(r, one("depthattn", "stride", fmt.Sprint(s)))
	}
	r = append(r,
		one("kvsharer", "share", "1/3", "order", "dissimilar"),
		one("kvsharer", "share", "1/3", "order", "similar"),
		row{[]step{{"looped", map[string]string{"block": fmt.Sprint(n / 2)}}, {"cla", map[string]string{"factor": "2"}}}},
	)
	return r
}

var calibText = flag.String("calib-text", "", "calibration text (default: docs-train.txt beside the fixtures)")

// alignRows lists the K/V-sharing conversions cold and with init=align.
func alignRows(n int) []row {
	k := fmt.Sprint(max(1, n/3))
	return []row{
		one("cla", "factor", "2"),
		one("cla", "factor", "2", "init", "align"),
		one("mlkv", "kv_layers", k, "init", "mean"),
		one("mlkv", "kv_layers", k),
		one("mlkv", "kv_layers", k, "init", "align"),
		one("mlkv", "kv_layers", fmt.Sprint(n), "kv_heads", "1"),
		one("mlkv", "kv_layers", fmt.Sprint(n), "kv_heads", "1", "init", "align"),
		one("kvsharer", "share", "1/3"),
		one("kvsharer", "share", "1/3", "init", "align"),
		one("kvsharer", "share", "1/3", "search", "loss", "init", "align"),
	}
}

// searchRows compares the KVSharer searches at share 1/3.
func searchRows(int) []row {
	return []row{
		one("kvsharer", "share", "1/3"),
		one("kvsharer", "share", "1/3", "search", "loss"),
	}
}

func main() {
	fixtures := flag.String("fixtures", "", "directory holding qwen3-micro/, qwen2-micro/, *-refs.safetensors and docs-train.txt (default: testdata, then ../shared/fixtures)")
	windows := flag.Int("windows", 16, "evaluation windows (at most what ids_docs_val holds)")
	ctx := flag.Int("ctx", 512, "tokens per window")
	samples := flag.Int("calib-samples", 30, "kvsharer calibration samples")
	calibCtx := flag.Int("calib-ctx", 64, "kvsharer tokens per sample")
	models := flag.String("models", "qwen3-micro,qwen2-micro", "fixtures to measure")
	only := flag.String("only", "", "keep only the rows whose label contains one of these |-separated strings (e.g. \"mlkv init=align|kvsharer init=align share\")")
	set := flag.String("rows", "all", "all: every transform; align: K/V sharing cold and with init=align (plan notes printed); search: KVSharer distance vs loss search")
	flag.Parse()
	list := rows
	switch *set {
	case "align":
		list = alignRows
	case "search":
		list = searchRows
	case "align-cla":
		list = func(n int) []row { return alignRows(n)[:2] }
	}
	if *only != "" {
		all := list
		list = func(n int) []row {
			var out []row
			for _, r := range all(n) {
				for _, o := range strings.Split(*only, "|") {
					if strings.Contains(r.label(), o) {
						out = append(out, r)
						break
					}
				}
			}
			return out
		}
	}
	if err := run(*fixtures, strings.Split(*models, ","), *windows, *ctx, *samples, *calibCtx, list, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "transforms:", err)
		os.Exit(1)
	}
}

// find returns the path of a fixture file.
func find(dir, name string) (string, error) {
	dirs := []string{dir}
	if dir == "" {
		dirs = []string{"testdata", filepath.Join("..", "shared", "fixtures")}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("fixture %s not found in %v (run from the repository root or pass -fixtures)", name, dirs)
}

func run(dir string, names []string, windows, ctx, nSamples, calibCtx int, rows func(int) []row, out io.Writer) error {
	var logs bytes.Buffer
	for _, name := range names {
		path, err := find(dir, name)
		if err != nil {
			return err
		}
		refs, err := find(dir, name+"-refs.safetensors")
		if err != nil {
			return err
		}
		ids, err := readI32(refs, "ids_docs_val")
		if err != nil {
			return err
		}
		if max := (len(ids) - 1) / ctx; windows > max {
			windows = max
		}
		m, err := loaders.Load(path)
		if err != nil {
			return err
		}
		calib, err := calibration(dir, m, nSamples, calibCtx)
		if err != nil {
			return err
		}
		base, err := perplexity(m, ids, windows, ctx)
		if err != nil {
			return err
		}
		m.Close()
		fmt.Fprintf(out, "\n### %s (%d layers; ppl on docs-val, %d windows × %d tokens, no training)\n\n", name, m.Config.Layers, windows, ctx)
		fmt.Fprintln(out, "| transform | params | KV bytes/token (fp16) | ppl | ppl × |")
		fmt.Fprintln(out, "|---|---|---|---|---|")
		fmt.Fprintf(out, "| original | %d | %d | %.3f | 1.000 |\n", m.ParamCount(), m.KVBytesPerToken(), base)
		for _, r := range rows(m.Config.Layers) {
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			p0, kv0 := m.ParamCount(), m.KVBytesPerToken()
			var note string
			for _, s := range r.steps {
				t, err := transforms.Lookup(s.name)
				if err != nil {
					return err
				}
				var log bytes.Buffer
				start := time.Now()
				plan, err := t.Apply(m, s.opts, transforms.Env{Calib: calib, Log: &log})
				if err != nil {
					return fmt.Errorf("%s: %s: %w", name, r.label(), err)
				}
				if s.opts["init"] == "align" {
					fmt.Fprintf(&logs, "\n%s, %s (align on %d × %d tokens, %.1fs):\n%s\n", name, r.label(), len(calib), calibCtx, time.Since(start).Seconds(), plan.String())
				} else if s.name == "kvsharer" {
					fmt.Fprintf(&logs, "\n%s, %s (%d samples × %d tokens from docs-train.txt, search %.1fs):\n%s",
						name, r.label(), len(calib), calibCtx, time.Since(start).Seconds(), log.String())
					note = fmt.Sprintf(" (kv_source %v)", plan.Layout.KVSource)
				}
			}
			ppl, err := perplexity(m, ids, windows, ctx)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", name, r.label(), err)
			}
			fmt.Fprintf(out, "| %s%s | %d → %d | %d → %d | %.3f → %.3f | %.3f |\n",
				r.label(), note, p0, m.ParamCount(), kv0, m.KVBytesPerToken(), base, ppl, ppl/base)
			m.Close()
		}
	}
	if logs.Len() > 0 {
		fmt.Fprintf(out, "\n### KVSharer search logs\n```%s```\n", logs.String())
	}
	return nil
}

// perplexity runs windows of ctx tokens (inputs ids[s:s+ctx], targets
// ids[s+1:s+ctx+1]) and returns exp of the mean next-token NLL.
func perplexity(m *model.Model, ids []int, windows, ctx int) (float64, error) {
	e, err := engine.New(m)
	if err != nil {
		return 0, err
	}
	v := m.Config.VocabSize
	var sum float64
	var n int
	for w := 0; w < windows; w++ {
		in := ids[w*ctx : (w+1)*ctx]
		logits, err := e.Forward(in, e.NewCache(ctx), nil)
		if err != nil {
			return 0, err
		}
		for i := range in {
			sum += numerics.NLL(logits[i*v:(i+1)*v], ids[w*ctx+i+1])
			n++
		}
	}
	return math.Exp(sum / float64(n)), nil
}

// calibration tokenizes the first documents of docs-train.txt (split on
// blank-line triples) that hold at least ctx tokens, truncated to ctx: the
// reproduction's 30 samples × 64 tokens.
func calibration(dir string, m *model.Model, n, ctx int) ([][]int, error) {
	path := *calibText
	if path == "" {
		var err error
		if path, err = find(dir, "docs-train.txt"); err != nil {
			return nil, err
		}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.ForModel(m)
	if err != nil {
		return nil, err
	}
	var out [][]int
	for _, doc := range strings.Split(string(text), "\n\n\n") {
		if len(out) == n {
			break
		}
		if ids := tok.Encode(doc); len(ids) >= ctx {
			out = append(out, ids[:ctx])
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("%s: only %d documents hold %d tokens", path, len(out), ctx)
	}
	return out, nil
}

// readI32 reads an integer tensor from a safetensors file.
func readI32(path, name string) ([]int, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Ints(name)
}

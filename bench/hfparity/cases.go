package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all"
)

// greedyTokens is how many tokens each case generates.
const greedyTokens = 32

// A parityCase is one conversion of qwen3-micro.
type parityCase struct {
	name      string
	transform string // "" for the stock export; "a+b" applies a then b
	opts      map[string]string
}

var cases = []parityCase{
	{"stock", "", nil},
	{"cla", "cla", map[string]string{"factor": "2"}},
	{"mlkv", "mlkv", map[string]string{"kv_layers": "2"}},
	{"looped", "looped", map[string]string{"block": "half"}}, // layers/2
	{"kvsharer", "kvsharer", map[string]string{"share": "1/3"}},
	{"depthattn", "depthattn", nil},
	{"cla+depthattn", "cla+depthattn", map[string]string{"factor": "2"}},
	{"looped+cla", "looped+cla", map[string]string{"block": "half", "factor": "2"}},
}

func caseNames() []string {
	var n []string
	for _, c := range cases {
		n = append(n, c.name)
	}
	return n
}

// CaseResult is what ExportCases measured for one case.
type CaseResult struct {
	Case       string            `json:"case"`
	Transform  string            `json:"transform"`
	Options    map[string]string `json:"options,omitempty"`
	Layout     model.Layout      `json:"layout"`
	Ids        []int             `json:"ids"`
	Greedy     []int             `json:"greedy"`
	KVBytes    int64             `json:"kv_bytes_per_token"`
	KVLayers   int               `json:"kv_layers"`
	Params     int64             `json:"params"`
	RemoteCode bool              `json:"remote_code"`
	// ReloadDiff is the max |Δ| between the engine's logits on the
	// transformed model in memory and on its export loaded back.
	ReloadDiff float64 `json:"reload_max_abs_diff"`
	// Logits are the engine's logits on Ids (of the export loaded back).
	Logits []float32 `json:"-"`
	Dir    string    `json:"-"`
}

// Summary is the line printed per case.
func (r CaseResult) Summary() map[string]any {
	return map[string]any{"case": r.Case, "kv_layers": r.KVLayers, "kv_bytes_per_token": r.KVBytes,
		"params": r.Params, "remote_code": r.RemoteCode, "reload_max_abs_diff": r.ReloadDiff, "dir": r.Dir}
}

// ExportCases converts the fixture model (qwen3-micro, qwen2-micro) per case,
// exports each to out/CASE/hf with remote code, loads it back and records the
// engine's outputs beside it.
func ExportCases(fixtures, modelName, out string, names []string) ([]CaseResult, error) {
	src, err := find(fixtures, modelName)
	if err != nil {
		return nil, err
	}
	refsPath, err := find(fixtures, modelName+"-refs.safetensors")
	if err != nil {
		return nil, err
	}
	refs, err := readRefs(refsPath)
	if err != nil {
		return nil, err
	}
	ids, calib := refs["ids_a"], calibration(refs["ids_docs_val"], 30, 64)
	var res []CaseResult
	for _, name := range names {
		var pc *parityCase
		for i := range cases {
			if cases[i].name == name {
				pc = &cases[i]
			}
		}
		if pc == nil {
			return res, fmt.Errorf("unknown case %q (known: %v)", name, caseNames())
		}
		r, err := exportCase(*pc, src, filepath.Join(out, name), ids, calib)
		if err != nil {
			return res, fmt.Errorf("case %s: %w", name, err)
		}
		res = append(res, r)
	}
	return res, nil
}

func exportCase(pc parityCase, src, dir string, ids []int, calib [][]int) (CaseResult, error) {
	r := CaseResult{Case: pc.name, Transform: pc.transform, Options: pc.opts, Ids: ids, Dir: dir}
	m, err := loaders.Load(src)
	if err != nil {
		return r, err
	}
	defer m.Close()
	if pc.transform != "" {
		opts := map[string]string{}
		for k, v := range pc.opts {
			if v == "half" {
				v = strconv.Itoa(m.Config.Layers / 2)
			}
			opts[k] = v
		}
		r.Options = opts
		for _, name := range strings.Split(pc.transform, "+") {
			t, err := transforms.Lookup(name)
			if err != nil {
				return r, err
			}
			own := map[string]string{} // the options this transform declares
			for _, o := range t.Options() {
				if v, ok := opts[o.Name]; ok {
					own[o.Name] = v
				}
			}
			if _, err := t.Apply(m, own, transforms.Env{Calib: calib}); err != nil {
				return r, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	before, _, err := run(m, ids)
	if err != nil {
		return r, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return r, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	hf := filepath.Join(dir, "hf")
	if err := export.SafeTensors(m, hf, export.SafeTensorsOptions{}); err != nil {
		return r, err
	}
	if err := export.WriteRemoteCode(hf, m); err != nil {
		return r, err
	}
	back, err := loaders.Load(hf)
	if err != nil {
		return r, err
	}
	defer back.Close()
	logits, greedy, err := run(back, ids)
	if err != nil {
		return r, err
	}
	r.Layout, r.Logits, r.Greedy = back.Layout, logits, greedy
	r.KVBytes, r.KVLayers, r.Params = back.KVBytesPerToken(), back.Layout.KVLayers(), back.ParamCount()
	r.RemoteCode = export.HasRemoteCode(hf)
	r.ReloadDiff = maxAbsDiff(before, logits)
	blob, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(dir, "retrofit.json"), blob, 0o644); err != nil {
		return r, err
	}
	raw := make([]byte, 4*len(logits))
	for i, v := range logits {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return r, os.WriteFile(filepath.Join(dir, "logits.f32"), raw, 0o644)
}

// run returns the engine's logits on ids and its greedy continuation.
func run(m *model.Model, ids []int) ([]float32, []int, error) {
	e, err := engine.New(m)
	if err != nil {
		return nil, nil, err
	}
	logits, err := e.Forward(ids, e.NewCache(len(ids)), nil)
	if err != nil {
		return nil, nil, err
	}
	greedy, err := e.Generate(context.Background(), ids, greedyTokens, nil, engine.Greedy(), nil)
	if err != nil {
		return nil, nil, err
	}
	return logits, greedy, nil
}

// calibration cuts n samples of ctx tokens from ids (for kvsharer).
func calibration(ids []int, n, ctx int) [][]int {
	var out [][]int
	for i := 0; i < n && (i+1)*ctx <= len(ids); i++ {
		out = append(out, ids[i*ctx:(i+1)*ctx])
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// find returns the path of a fixture: in dir, or testdata then ../shared/fixtures.
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

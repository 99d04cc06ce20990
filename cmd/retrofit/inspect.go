package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
	"github.com/retrofit-llm/retrofit/model"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a checkpoint's config, layout, parameter count and KV-cache bytes per token",
		ArgsUsage: "PATH",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print one JSON object"}},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "PATH")
			if err != nil {
				return err
			}
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			defer m.Close()
			info := describe(m)
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			info.print(c.App.Writer)
			return nil
		},
	}
}

// modelInfo is what inspect prints.
type modelInfo struct {
	Path             string           `json:"path"`
	Format           string           `json:"format"`
	Family           string           `json:"family"`
	VocabSize        int              `json:"vocab_size"`
	Hidden           int              `json:"hidden_size"`
	Intermediate     int              `json:"intermediate_size"`
	Layers           int              `json:"num_hidden_layers"`
	Blocks           int              `json:"physical_blocks"`
	Heads            int              `json:"num_attention_heads"`
	KVHeads          int              `json:"num_key_value_heads"`
	HeadDim          int              `json:"head_dim"`
	RMSEps           float64          `json:"rms_norm_eps"`
	RopeTheta        float64          `json:"rope_theta"`
	Tied             bool             `json:"tie_word_embeddings"`
	AttnBias         bool             `json:"attention_bias"`
	QKNorm           bool             `json:"qk_norm"`
	MaxPositions     int              `json:"max_position_embeddings"`
	KVSource         []int            `json:"kv_source"`
	DepthMix         []bool           `json:"depth_mix"`
	DepthStride      int              `json:"depth_stride"`
	DepthWindow      int              `json:"depth_window"`
	DepthSelfBias    float64          `json:"depth_self_bias,omitempty"`
	LayerMap         []int            `json:"layer_map"`
	Params           int64            `json:"parameters"`
	BytesByDType     map[string]int64 `json:"bytes_by_dtype"`
	KVBytesPerToken  int64            `json:"kv_bytes_per_token"`
	KVLayers         int              `json:"kv_layers"`
	Transforms       []model.Step     `json:"transforms"`
	Tensors          int              `json:"tensors"`
	TokenizerPresent bool             `json:"tokenizer"`
}

func describe(m *model.Model) modelInfo {
	c, l := m.Config, m.Layout
	bytes := map[string]int64{}
	for d, n := range m.BytesByDType() {
		bytes[d.String()] = n
	}
	_, hasTok := m.Files["tokenizer.json"]
	return modelInfo{
		Path: m.Path, Format: m.Format, Family: c.Family, VocabSize: c.VocabSize, Hidden: c.Hidden,
		Intermediate: c.Intermediate, Layers: c.Layers, Blocks: l.Blocks(), Heads: c.Heads, KVHeads: c.KVHeads,
		HeadDim: c.HeadDim, RMSEps: c.RMSEps, RopeTheta: c.RopeTheta, Tied: c.TiedEmbeddings, AttnBias: c.AttnBias,
		QKNorm: c.QKNorm, MaxPositions: c.MaxPositions, KVSource: l.KVSource, DepthMix: l.DepthMix,
		DepthStride: l.DepthStride, DepthWindow: l.DepthWindow, DepthSelfBias: l.DepthSelfBias, LayerMap: l.LayerMap, Params: m.ParamCount(),
		BytesByDType: bytes, KVBytesPerToken: m.KVBytesPerToken(), KVLayers: l.KVLayers(),
		Transforms: m.Provenance, Tensors: len(m.Tensors), TokenizerPresent: hasTok || m.Vocab != nil,
	}
}

func (i modelInfo) print(w io.Writer) {
	fmt.Fprintf(w, "path          %s (%s)\n", i.Path, i.Format)
	fmt.Fprintf(w, "family        %s\n", i.Family)
	fmt.Fprintf(w, "layers        %d logical, %d physical blocks\n", i.Layers, i.Blocks)
	fmt.Fprintf(w, "hidden        %d, intermediate %d, vocab %d\n", i.Hidden, i.Intermediate, i.VocabSize)
	fmt.Fprintf(w, "heads         %d query / %d KV, head dim %d\n", i.Heads, i.KVHeads, i.HeadDim)
	fmt.Fprintf(w, "norms         rms eps %g, q/k norm %v, q/k/v bias %v\n", i.RMSEps, i.QKNorm, i.AttnBias)
	fmt.Fprintf(w, "rope theta    %g, max positions %d\n", i.RopeTheta, i.MaxPositions)
	fmt.Fprintf(w, "embeddings    tied %v\n", i.Tied)
	fmt.Fprintf(w, "parameters    %d (%s) in %d tensors\n", i.Params, humanCount(i.Params), i.Tensors)
	var dts []string
	for d := range i.BytesByDType {
		dts = append(dts, d)
	}
	sort.Strings(dts)
	for _, d := range dts {
		fmt.Fprintf(w, "bytes %-7s %d (%s)\n", d, i.BytesByDType[d], humanBytes(i.BytesByDType[d]))
	}
	fmt.Fprintf(w, "KV cache      %d bytes/token (fp16), %d of %d layers store K/V\n", i.KVBytesPerToken, i.KVLayers, i.Layers)
	fmt.Fprintf(w, "layout        layer  kv_source  depth_mix  block\n")
	for l := 0; l < i.Layers; l++ {
		fmt.Fprintf(w, "              %5d  %9d  %9v  %5d\n", l, i.KVSource[l], i.DepthMix[l], i.LayerMap[l])
	}
	if i.DepthStride > 0 || i.DepthWindow > 0 {
		fmt.Fprintf(w, "depth         stride %d, window %d\n", i.DepthStride, i.DepthWindow)
		if i.DepthSelfBias != 0 {
			fmt.Fprintf(w, "warm start    self-score bias %g (anneals to 0 in finetune)\n", i.DepthSelfBias)
		}
	}
	if len(i.Transforms) > 0 {
		var parts []string
		for _, s := range i.Transforms {
			parts = append(parts, stepString(s))
		}
		fmt.Fprintf(w, "transforms    %s\n", strings.Join(parts, " → "))
	}
}

func stepString(s model.Step) string {
	var keys []string
	for k := range s.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var opts []string
	for _, k := range keys {
		opts = append(opts, k+"="+s.Options[k])
	}
	if len(opts) == 0 {
		return s.Transform
	}
	return s.Transform + "(" + strings.Join(opts, ",") + ")"
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func oneArg(c *cli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: want exactly one %s argument, got %d (see retrofit %s --help)", c.Command.Name, name, c.NArg(), c.Command.Name)
	}
	return c.Args().First(), nil
}

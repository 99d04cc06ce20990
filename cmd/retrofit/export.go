package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/internal/progress"
	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
)

func exportFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "gguf", Usage: "gguf or safetensors"},
		&cli.StringFlag{Name: "dtype", Usage: "gguf: f32|f16|bf16|q8_0 (default bf16); safetensors: f32|f16|bf16 (default: the source dtype)"},
		&cli.StringFlag{Name: "shard-size", Usage: "safetensors: split weights into shards of at most this size (e.g. 2GB, 500MB)"},
		&cli.BoolFlag{Name: "unroll", Usage: "gguf: write a looped model's tied blocks once per logical layer (a stock file any llama.cpp runs)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output file (gguf) or directory (safetensors)", Required: true},
	}
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a checkpoint as GGUF or as an HF safetensors directory",
		ArgsUsage: "PATH",
		Flags:     exportFlags(),
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
			return writeModel(c, m)
		},
	}
}

// writeModel exports m per the --format/--dtype/--output flags.
func writeModel(c *cli.Context, m *model.Model) error {
	out := c.String("output")
	format := strings.ToLower(c.String("format"))
	bar := progress.New(os.Stderr, "export", len(m.Tensors))
	defer bar.Done()
	switch format {
	case "gguf":
		dt := model.BF16
		if s := c.String("dtype"); s != "" {
			d, err := model.ParseDType(s)
			if err != nil {
				return fmt.Errorf("--dtype: %w", err)
			}
			dt = d
		}
		if err := export.GGUF(m, out, export.GGUFOptions{DType: dt, Unroll: c.Bool("unroll"), Progress: bar.Func()}); err != nil {
			return err
		}
	case "safetensors":
		var opts export.SafeTensorsOptions
		if s := c.String("dtype"); s != "" {
			d, err := model.ParseDType(s)
			if err != nil {
				return fmt.Errorf("--dtype: %w", err)
			}
			opts.DType, opts.ForceDType = d, true
		}
		if s := c.String("shard-size"); s != "" {
			n, err := parseSize(s)
			if err != nil {
				return fmt.Errorf("--shard-size: %w", err)
			}
			opts.ShardBytes = n
		}
		opts.Progress = bar.Func()
		if err := export.SafeTensors(m, out, opts); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--format %q: want gguf or safetensors", format)
	}
	bar.Done()
	fmt.Fprintf(c.App.ErrWriter, "wrote %s (%s, %s params, KV %d bytes/token)\n",
		out, format, humanCount(m.ParamCount()), m.KVBytesPerToken())
	return nil
}

// parseSize reads sizes like "2GB", "500MB", "4096".
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSuffix(u, suf.s), suf.m
			break
		}
	}
	var n float64
	if _, err := fmt.Sscan(u, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 2GB or 500MB", s)
	}
	return int64(n * float64(mult)), nil
}

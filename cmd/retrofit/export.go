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
		&cli.StringFlag{Name: "shard-size", Usage: "safetensors: split weights into shards of at most this size (2GB, 500MB: units of 1000; 1.5GiB: of 1024)"},
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
			if err := checkWriteFlags(c); err != nil {
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

// checkWriteFlags refuses flags that do not apply to the chosen --format,
// before anything is loaded or computed.
func checkWriteFlags(c *cli.Context) error {
	switch format := strings.ToLower(c.String("format")); format {
	case "gguf":
		if c.IsSet("shard-size") {
			return fmt.Errorf("--shard-size applies to --format safetensors; a GGUF output is one file")
		}
		if s := c.String("dtype"); s != "" {
			if _, err := ggufDType(s); err != nil {
				return err
			}
		}
	case "safetensors":
		if c.IsSet("unroll") {
			return fmt.Errorf("--unroll applies to --format gguf; a safetensors directory keeps the looped layout (its remote code runs it)")
		}
		if s := c.String("dtype"); s != "" {
			if _, err := safetensorsDType(s); err != nil {
				return err
			}
		}
		if c.IsSet("shard-size") {
			if _, err := parseSize(c.String("shard-size")); err != nil {
				return fmt.Errorf("--shard-size: %w", err)
			}
		}
	default:
		return fmt.Errorf("--format %q: want gguf or safetensors", format)
	}
	return nil
}

func ggufDType(s string) (model.DType, error) {
	d, err := model.ParseDType(s)
	if err != nil || (d != model.F32 && d != model.F16 && d != model.BF16 && d != model.Q8_0) {
		return 0, fmt.Errorf("--dtype %q: a GGUF export writes f32, f16, bf16 or q8_0", s)
	}
	return d, nil
}

func safetensorsDType(s string) (model.DType, error) {
	d, err := model.ParseDType(s)
	if err != nil || (d != model.F32 && d != model.F16 && d != model.BF16) {
		return 0, fmt.Errorf("--dtype %q: a safetensors export writes f32, f16 or bf16", s)
	}
	return d, nil
}

// writeModel exports m per the --format/--dtype/--output flags (checked by
// checkWriteFlags); cancelling the command's context stops it and removes
// what it wrote.
func writeModel(c *cli.Context, m *model.Model) error {
	if err := checkWriteFlags(c); err != nil {
		return err
	}
	out := c.String("output")
	format := strings.ToLower(c.String("format"))
	bar := progress.New(os.Stderr, "export", len(m.Tensors))
	defer bar.Done()
	switch format {
	case "gguf":
		dt := model.BF16
		if s := c.String("dtype"); s != "" {
			dt, _ = ggufDType(s)
		}
		if err := export.GGUF(m, out, export.GGUFOptions{DType: dt, Unroll: c.Bool("unroll"), Progress: bar.Func(), Context: c.Context}); err != nil {
			return err
		}
	case "safetensors":
		opts := export.SafeTensorsOptions{Progress: bar.Func(), Context: c.Context}
		if s := c.String("dtype"); s != "" {
			opts.DType, _ = safetensorsDType(s)
			opts.ForceDType = true
		}
		if c.IsSet("shard-size") {
			opts.ShardBytes, _ = parseSize(c.String("shard-size"))
		}
		if err := export.SafeTensors(m, out, opts); err != nil {
			return err
		}
	}
	bar.Done()
	fmt.Fprintf(c.App.ErrWriter, "wrote %s (%s, %s params, KV %d bytes/token)\n",
		out, format, humanCount(m.ParamCount()), m.KVBytesPerToken())
	return nil
}

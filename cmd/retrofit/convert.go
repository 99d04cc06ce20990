package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/loaders"
	"github.com/retrofit-llm/retrofit/model"
	"github.com/retrofit-llm/retrofit/tokenizer"
	"github.com/retrofit-llm/retrofit/transforms"
	_ "github.com/retrofit-llm/retrofit/transforms/all"
)

func convertCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "to", Usage: "transform to apply (repeat to compose, applied in order)"},
		&cli.StringSliceFlag{Name: "opt", Usage: "transform option key=value (with several --to: name.key=value)"},
		&cli.BoolFlag{Name: "plan", Usage: "print what would change and write nothing"},
		&cli.BoolFlag{Name: "list", Usage: "list the transforms and their options"},
		&cli.StringFlag{Name: "calib", Usage: "calibration text file (kvsharer, init=align)"},
		&cli.IntFlag{Name: "calib-samples", Value: 30, Usage: "calibration samples"},
		&cli.IntFlag{Name: "calib-ctx", Value: 64, Usage: "tokens per calibration sample"},
	}
	for _, f := range exportFlags() {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "output" {
			f = &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: sf.Usage}
		}
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "format" {
			f = &cli.StringFlag{Name: "format", Value: "safetensors", Usage: sf.Usage}
		}
		flags = append(flags, f)
	}
	return &cli.Command{
		Name:      "convert",
		Usage:     "rewrite a model's attention with a transform (cla, mlkv, kvsharer, depthattn, looped) and write it",
		ArgsUsage: "MODEL",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			if c.Bool("list") {
				listTransforms(c)
				return nil
			}
			path, err := oneArg(c, "MODEL")
			if err != nil {
				return err
			}
			names := c.StringSlice("to")
			if len(names) == 0 {
				return fmt.Errorf("convert: --to NAME is required (retrofit convert --list shows them)")
			}
			if err := checkConvertFlags(c, names); err != nil {
				return err
			}
			opts, err := splitOptions(names, c.StringSlice("opt"))
			if err != nil {
				return err
			}
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			defer m.Close()
			env := transforms.Env{Log: c.App.ErrWriter, Context: c.Context}
			if f := c.String("calib"); f != "" {
				if env.Calib, err = calibrationSamples(c.Context, m, f, c.Int("calib-samples"), c.Int("calib-ctx")); err != nil {
					return err
				}
			}
			for _, name := range names {
				t, err := transforms.Lookup(name)
				if err != nil {
					return err
				}
				var plan *transforms.Plan
				if c.Bool("plan") && len(names) == 1 {
					plan, err = t.Plan(m, opts[name], env)
				} else {
					plan, err = t.Apply(m, opts[name], env)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				fmt.Fprintln(c.App.Writer, plan.String())
			}
			if c.Bool("plan") {
				return nil
			}
			if err := m.Validate(); err != nil {
				return fmt.Errorf("converted model does not validate: %w", err)
			}
			return writeModel(c, m)
		},
	}
}

// aligns reports whether an --opt asks for init=align (calibrated).
func aligns(opts []string) bool {
	for _, o := range opts {
		if k, v, _ := strings.Cut(o, "="); v == "align" && (k == "init" || strings.HasSuffix(k, ".init")) {
			return true
		}
	}
	return false
}

// checkConvertFlags refuses flags that do not apply, before the model is loaded.
func checkConvertFlags(c *cli.Context, names []string) error {
	if c.Bool("plan") {
		for _, f := range []string{"output", "dtype", "shard-size", "unroll", "format"} {
			if c.IsSet(f) {
				return fmt.Errorf("convert: --%s does not apply with --plan, which writes nothing", f)
			}
		}
	} else {
		if c.String("output") == "" {
			return fmt.Errorf("convert: -o OUT is required unless --plan")
		}
		if err := checkWriteFlags(c); err != nil {
			return err
		}
	}
	if !contains(names, "kvsharer") && !aligns(c.StringSlice("opt")) {
		for _, f := range []string{"calib", "calib-samples", "calib-ctx"} {
			if c.IsSet(f) {
				return fmt.Errorf("convert: --%s applies to --to kvsharer and to --opt init=align only", f)
			}
		}
	} else if !c.IsSet("calib") && (c.IsSet("calib-samples") || c.IsSet("calib-ctx")) {
		return fmt.Errorf("convert: --calib-samples and --calib-ctx need --calib FILE")
	}
	if n, k := c.Int("calib-samples"), c.Int("calib-ctx"); n <= 0 || k < 2 {
		return fmt.Errorf("convert: --calib-samples %d must be positive and --calib-ctx %d at least 2", n, k)
	}
	return nil
}

// splitOptions assigns --opt values to transforms: plain key=value when one
// transform is given, name.key=value when several are.
func splitOptions(names, raw []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, n := range names {
		out[n] = map[string]string{}
	}
	for _, kv := range raw {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--opt %q: want key=value", kv)
		}
		target := names[0]
		if name, key, dotted := strings.Cut(k, "."); dotted {
			if _, known := out[name]; !known {
				return nil, fmt.Errorf("--opt %q: %q is not one of the --to transforms %v", kv, name, names)
			}
			target, k = name, key
		} else if len(names) > 1 {
			return nil, fmt.Errorf("--opt %q: with several transforms write NAME.%s=%s", kv, k, v)
		}
		out[target][k] = v
	}
	return out, nil
}

// calibrationSamples tokenizes a text file into n samples of ctx tokens,
// taken from consecutive documents.
func calibrationSamples(cctx context.Context, m *model.Model, path string, n, ctx int) ([][]int, error) {
	tok, err := tokenizer.ForModel(m)
	if err != nil {
		return nil, err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ids, err := encodeDocuments(cctx, tok, m, string(text), documentSeparator, n*ctx)
	if err != nil {
		return nil, fmt.Errorf("--calib %s: %w", path, err)
	}
	if len(ids) < ctx {
		return nil, fmt.Errorf("--calib %s: %d tokens, fewer than one sample of %d", path, len(ids), ctx)
	}
	var samples [][]int
	for off := 0; off+ctx <= len(ids) && len(samples) < n; off += ctx {
		samples = append(samples, ids[off:off+ctx])
	}
	return samples, nil
}

func listTransforms(c *cli.Context) {
	all := transforms.All()
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	for _, t := range all {
		fmt.Fprintf(c.App.Writer, "%-10s %s\n", t.Name(), t.Summary())
		for _, o := range t.Options() {
			fmt.Fprintf(c.App.Writer, "    %-10s default %-10q %s\n", o.Name, o.Default, o.Help)
		}
	}
}

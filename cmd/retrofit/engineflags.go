package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/retrofit-llm/retrofit/engine"
)

// engineFlags choose the engine's arithmetic and KV cache type; fast is the
// command's default mode.
func engineFlags(fast bool) []cli.Flag {
	def := "exact"
	if fast {
		def = "fast"
	}
	return []cli.Flag{
		&cli.BoolFlag{Name: "fast", Usage: "fast mode: bf16 and 8-bit integer dot products, as llama.cpp computes (default: " + def + ")"},
		&cli.BoolFlag{Name: "exact", Usage: "exact mode: fp32 arithmetic on the weights widened exactly (default: " + def + ")"},
		&cli.StringFlag{Name: "cache-type", Usage: "KV cache type: f32, f16 or q8_0 (default: f32 in exact mode, f16 in fast mode)"},
	}
}

// engineOptions reads the flags of engineFlags.
func engineOptions(c *cli.Context, fast bool) (engine.Options, error) {
	if c.Bool("fast") && c.Bool("exact") {
		return engine.Options{}, fmt.Errorf("%s: give --fast or --exact, not both", c.Command.Name)
	}
	mode := "exact"
	if c.Bool("fast") || fast && !c.Bool("exact") {
		mode = "fast"
	}
	o, err := engine.ParseOptions(mode, c.String("cache-type"))
	if err != nil {
		return o, fmt.Errorf("%s: --cache-type: %w", c.Command.Name, err)
	}
	return o, nil
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/retrofit-llm/retrofit/finetune/plot"
)

// plotCmd draws the loss curve of a scripts/uptrain_hf.py run from its
// uptrain.json ("parts": per optimizer step [CE, KL, total loss, layer
// loss]), the way finetune draws loss.png for its own runs.
func plotCmd(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ExitOnError)
	in := fs.String("in", "uptrain.json", "uptrain.json written by scripts/uptrain_hf.py")
	out := fs.String("out", "loss.png", "PNG to write")
	title := fs.String("title", "uptrain_hf.py", "plot title")
	fs.Parse(args)
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var u struct {
		Parts [][]float64 `json:"parts"`
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if len(u.Parts) == 0 {
		return fmt.Errorf("%s: no \"parts\" (per-step losses)", *in)
	}
	names := []string{"train CE", "KL (×T²)", "total loss", "layer loss"}
	series := make([]plot.Series, len(names))
	for i := range series {
		series[i].Name = names[i]
	}
	for step, p := range u.Parts {
		if len(p) != len(names) {
			return fmt.Errorf("%s: parts[%d] has %d values, want %d", *in, step, len(p), len(names))
		}
		for i, v := range p {
			series[i].X = append(series[i].X, float64(step+1))
			series[i].Y = append(series[i].Y, v)
		}
	}
	return plot.Loss(*out, *title, series...)
}

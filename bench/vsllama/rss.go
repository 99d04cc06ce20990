package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/retrofit-llm/retrofit/loaders"
)

// rssTable runs retrofit eval, generate and kvsharer --plan on each file
// (one process each, one at a time) and prints their peak RSS against the
// budget weights + KV cache + 300 MB.
func rssTable(c config, models, types []string, bin string) error {
	text := filepath.Join(c.fixtures, "docs-val.txt")
	calib := filepath.Join(c.fixtures, "docs-train.txt")
	fmt.Printf("peak RSS (VmHWM of the process) of retrofit commands; budget = weight bytes + KV cache + 300 MB\n\n")
	fmt.Println("| model | file | command | mode, cache | weights | KV cache | peak RSS | budget | wall |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, mn := range models {
		for _, typ := range types {
			path, err := c.file(mn, typ)
			if err != nil {
				return err
			}
			m, err := loaders.Load(path)
			if err != nil {
				return err
			}
			var weights int64
			for _, t := range m.Tensors {
				weights += t.Size()
			}
			kvRow := int64(m.Config.Layers) * 2 * int64(m.Config.KVHeads*m.Config.HeadDim)
			m.Close()
			runs := []struct {
				key, name, cache string
				ctx              int64
				bytesPerVal      int64
				args             []string
			}{
				{"eval", fmt.Sprintf("eval (%d tokens, ctx 512)", c.rssEval), "exact, f32", int64(min(512, c.rssEval)), 4, []string{"eval", path, "--text", text, "--max-tokens", fmt.Sprint(c.rssEval)}},
				{"eval-fast", fmt.Sprintf("eval --fast (%d tokens)", c.rssEval), "fast, f16", int64(min(512, c.rssEval)), 2, []string{"eval", path, "--text", text, "--max-tokens", fmt.Sprint(c.rssEval), "--fast"}},
				{"generate", fmt.Sprintf("generate %d", c.rssGen), "fast, f16", int64(c.rssGen + 16), 2, []string{"generate", path, "--prompt", "The Python list type", "--max-tokens", fmt.Sprint(c.rssGen)}},
				// The search keeps every sample's cache: KV cache = samples × ctx.
				{"kvsharer", fmt.Sprintf("kvsharer --plan (%d × %d)", c.rssCalib, c.rssCalibCtx), "exact, f32", int64(c.rssCalib * c.rssCalibCtx), 4, []string{"convert", path, "--to", "kvsharer", "--opt", "share=0.25",
					"--calib", calib, "--calib-samples", fmt.Sprint(c.rssCalib), "--calib-ctx", fmt.Sprint(c.rssCalibCtx), "--plan"}},
			}
			for _, r := range runs {
				if !slices.Contains(strings.Split(c.rssCmds, ","), r.key) {
					continue
				}
				rss, wall, err := peakRSS(bin, r.args)
				if err != nil {
					return fmt.Errorf("%s %v: %w", bin, r.args, err)
				}
				kv := kvRow * r.ctx * r.bytesPerVal
				budget := weights + kv + 300e6
				fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %.1fs |\n", mn, filepath.Base(path), r.name, r.cache,
					mb(weights), mb(kv), mb(rss), mb(budget), wall.Seconds())
			}
		}
	}
	return nil
}

// peakRSS runs bin with args and returns its peak resident set size.
func peakRSS(bin string, args []string) (int64, time.Duration, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout = nil
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, err
	}
	rss, err := maxRSS(cmd.ProcessState)
	return rss, time.Since(start), err
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

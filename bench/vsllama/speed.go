package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/retrofit-llm/retrofit/engine"
	"github.com/retrofit-llm/retrofit/loaders"
)

var testNames = []string{"prefill", "decode", "long"}

// result is tokens per second of one test on both engines.
type result struct {
	test            string
	retrofit, llama float64
}

func speedTable(c config, models, types []string) error {
	opts, err := c.engineOptions()
	if err != nil {
		return err
	}
	unlock, err := lockMachine()
	if err != nil {
		return err
	}
	defer unlock()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at start: %s\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	fmt.Printf("retrofit (%s mode, %s KV cache) vs llama.cpp (llama-bench), %d threads, mean of %d runs after a warm-up\n\n",
		opts.Mode, opts.CacheType(), c.threads, c.reps)
	fmt.Println("| model | type | file | test | retrofit tok/s | llama.cpp tok/s | retrofit / llama.cpp |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, mn := range models {
		for _, typ := range types {
			path, err := c.file(mn, typ)
			if err != nil {
				return err
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			rows, err := c.compare(path, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, r := range rows {
				fmt.Printf("| %s | %s | %.0f MB | %s | %.1f | %.1f | %.2f× |\n",
					mn, typ, float64(st.Size())/1e6, r.test, r.retrofit, r.llama, r.retrofit/r.llama)
			}
		}
	}
	return nil
}

func (c config) engineOptions() (engine.Options, error) {
	return engine.ParseOptions(c.mode, c.cache)
}

// compare runs the three tests on one file: llama-bench first, then retrofit.
func (c config) compare(path string, opts engine.Options) ([]result, error) {
	lb := make([]float64, 3)
	if c.llama != "" {
		var err error
		if lb, err = c.llamaBench(path); err != nil {
			return nil, err
		}
	}
	rf, err := c.retrofit(path, opts)
	if err != nil {
		return nil, err
	}
	names := []string{"prefill 512", "decode 64", fmt.Sprintf("decode 64 at %d", c.depth)}
	out := make([]result, len(names))
	for i, n := range names {
		out[i] = result{n, rf[i], lb[i]}
	}
	return out, nil
}

// llamaBench returns pp512, tg64 and tg64 at depth from llama-bench, with
// retrofit's -cache type as llama.cpp's K and V cache types when one is
// given (llama.cpp's default is f16, as fast mode's; llama-bench has no
// f32 cache, so -cache f32 compares with llama.cpp's f16).
func (c config) llamaBench(path string) ([]float64, error) {
	runs := []struct {
		args []string
		idx  int
	}{
		{[]string{"-p", "512", "-n", "64"}, 0},
		{[]string{"-p", "0", "-n", "64", "-d", fmt.Sprint(c.depth)}, 2},
	}
	out := make([]float64, 3)
	for _, r := range runs {
		args := append([]string{"-m", path, "-t", fmt.Sprint(c.threads), "-r", fmt.Sprint(c.reps), "-o", "json"}, r.args...)
		// The same KV cache type on both sides; llama-bench takes no f32
		// cache, so against retrofit's f32 llama.cpp keeps its f16.
		if ct := strings.ToLower(c.cache); ct != "" && ct != "f32" {
			args = append(args, "-ctk", ct, "-ctv", ct)
		}
		cmd := exec.Command(c.tool("llama-bench"), args...)
		cmd.Stderr = nil
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("llama-bench %v: %v\n%s", args, err, tail(b))
		}
		var rows []struct {
			NPrompt int     `json:"n_prompt"`
			NGen    int     `json:"n_gen"`
			AvgTS   float64 `json:"avg_ts"`
		}
		if err := json.Unmarshal(b, &rows); err != nil {
			return nil, fmt.Errorf("llama-bench output: %v\n%s", err, tail(b))
		}
		for _, row := range rows {
			switch {
			case row.NPrompt > 0:
				out[0] = row.AvgTS
			case r.idx == 2:
				out[2] = row.AvgTS
			default:
				out[1] = row.AvgTS
			}
		}
	}
	return out, nil
}

// retrofit returns prefill-512, decode-64 and decode-64-at-depth tok/s of
// retrofit's engine on the file, measured as llama-bench does: random
// tokens, a fresh cache per prefill, decode one token at a time.
func (c config) retrofit(path string, opts engine.Options) ([]float64, error) {
	m, err := loaders.Load(path)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	e, err := engine.NewWith(m, opts)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(7, 8))
	ids := make([]int, max(c.depth, 512)+64)
	for i := range ids {
		ids[i] = rng.IntN(m.Config.VocabSize)
	}
	fo := &engine.ForwardOptions{LastOnly: true}
	prefill := func() (float64, error) {
		cache := e.NewCache(512)
		start := time.Now()
		_, err := e.Forward(ids[:512], cache, fo)
		return 512 / time.Since(start).Seconds(), err
	}
	decode := func(depth int) func() (float64, error) {
		cache := e.NewCache(depth + 64)
		var err error
		if depth > 0 { // the context, once, untimed
			_, err = e.Forward(ids[:depth], cache, fo)
		}
		return func() (float64, error) {
			if err != nil {
				return 0, err
			}
			cache.Truncate(depth)
			start := time.Now()
			for i := depth; i < depth+64; i++ {
				if _, err := e.Forward(ids[i:i+1], cache, fo); err != nil {
					return 0, err
				}
			}
			return 64 / time.Since(start).Seconds(), nil
		}
	}
	var long func() (float64, error)
	if strings.Contains(c.tests, "long") {
		long = decode(c.depth)
	}
	out := make([]float64, 3)
	for i, f := range []func() (float64, error){prefill, func() (float64, error) { return decode(0)() }, func() (float64, error) { return long() }} {
		if !strings.Contains(c.tests, testNames[i]) {
			continue
		}
		v, err := c.mean(f)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c config) mean(f func() (float64, error)) (float64, error) {
	if _, err := f(); err != nil { // warm-up
		return 0, err
	}
	var s float64
	for range c.reps {
		v, err := f()
		if err != nil {
			return 0, err
		}
		s += v
	}
	return s / float64(c.reps), nil
}

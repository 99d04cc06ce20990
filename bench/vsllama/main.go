// Command vsllama measures retrofit's engine against llama.cpp on the same
// GGUF files, with the same thread count, in the same run, and prints the
// side-by-side table of the engine issue: prefill of 512 tokens, decode of 64
// tokens from an empty cache and decode of 64 tokens after 4,096 tokens of
// context, for BF16, Q8_0 and Q4_K_M files of a Qwen3-0.6B-shaped model
// (random weights, real shapes) and of qwen3-micro.
//
//	go run ./bench/vsllama -llama /path/to/llama.cpp/build/bin
//
// Files are made in -dir on first use: the 0.6B-shaped checkpoint is
// synthesized, retrofit exports BF16 and Q8_0 GGUFs from it, and the build's
// llama-quantize makes Q4_K_M from the BF16 file. `-rss` instead runs the
// retrofit binary's eval, generate and kvsharer --plan on each file and
// prints their peak RSS against weights + KV cache.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
)

type config struct {
	llama       string // directory with llama-bench, llama-quantize
	dir         string
	fixtures    string
	threads     int
	reps        int
	depth       int
	mode        string
	tests       string
	rssEval     int
	rssGen      int
	rssCalib    int
	rssCalibCtx int
	rssCmds     string
	cache       string
}

func main() {
	var c config
	var models, types string
	var rss, accuracy, makeOnly bool
	var chunks int
	var retrofitBin string
	flag.StringVar(&c.llama, "llama", "", "directory holding llama.cpp's llama-bench and llama-quantize (default: from /work/llama/READY-stock; \"none\": retrofit only)")
	flag.StringVar(&c.dir, "dir", filepath.Join(os.TempDir(), "vsllama"), "where the model files are made and kept")
	flag.StringVar(&c.fixtures, "fixtures", "../shared/fixtures", "fixtures directory (qwen3-micro, the Qwen3 tokenizer)")
	flag.IntVar(&c.threads, "threads", 2, "threads for both engines")
	flag.IntVar(&c.reps, "reps", 3, "timed repetitions of each test (after one warm-up)")
	flag.IntVar(&c.depth, "depth", 4096, "context before the long decode test")
	flag.StringVar(&c.mode, "mode", "fast", "retrofit engine mode: fast or exact")
	flag.StringVar(&c.tests, "tests", "prefill,decode,long", "which retrofit tests to run: prefill, decode, long")
	flag.StringVar(&c.cache, "cache", "", "retrofit KV cache type: f32, f16 or q8_0 (default: the mode's)")
	flag.StringVar(&models, "models", "qwen3-0.6b,qwen3-micro", "models: qwen3-0.6b, qwen3-4b, qwen3-8b (synthesized) or qwen3-micro")
	flag.StringVar(&types, "types", "bf16,q8_0,q4_k_m", "GGUF types: bf16, q8_0, q4_k_m")
	flag.BoolVar(&rss, "rss", false, "measure peak RSS of retrofit eval, generate and kvsharer --plan instead of speed")
	flag.BoolVar(&accuracy, "accuracy", false, "compare fast-mode perplexity and greedy output with llama.cpp on qwen3-small instead of speed")
	flag.BoolVar(&makeOnly, "make", false, "only make the model files")
	flag.IntVar(&chunks, "chunks", 20, "512-token windows scored by -accuracy")
	flag.IntVar(&c.rssEval, "rss-eval", 1024, "tokens the -rss eval runs score")
	flag.IntVar(&c.rssGen, "rss-gen", 64, "tokens the -rss generate runs make")
	flag.IntVar(&c.rssCalib, "rss-calib", 8, "calibration samples for the -rss kvsharer run")
	flag.IntVar(&c.rssCalibCtx, "rss-calib-ctx", 128, "tokens per calibration sample of the -rss kvsharer run")
	flag.StringVar(&c.rssCmds, "rss-cmds", "eval,eval-fast,generate,kvsharer", "the -rss commands to run")
	flag.StringVar(&retrofitBin, "retrofit", "", "retrofit binary for -rss (default: built into -dir)")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	runtime.GOMAXPROCS(c.threads)
	if c.llama == "none" {
		c.llama = ""
	} else if c.llama == "" {
		if b, err := os.ReadFile("/work/llama/READY-stock"); err == nil {
			c.llama = llamaDir(string(b))
		} else {
			fmt.Fprintln(os.Stderr, "vsllama: no -llama given and no /work/llama/READY-stock: retrofit only")
		}
	}
	if makeOnly {
		for _, m := range strings.Split(models, ",") {
			for _, t := range strings.Split(types, ",") {
				p, err := c.file(m, t)
				if err != nil {
					fmt.Fprintln(os.Stderr, "vsllama:", err)
					os.Exit(1)
				}
				fmt.Println(p)
			}
		}
		return
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vsllama:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(c, strings.Split(models, ","), strings.Split(types, ","), rss, accuracy, chunks, retrofitBin); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "vsllama:", err)
		os.Exit(1)
	}
}

func run(c config, models, types []string, rss, accuracy bool, chunks int, retrofitBin string) error {
	if (rss || accuracy) && retrofitBin == "" {
		retrofitBin = filepath.Join(c.dir, "retrofit")
		if out, err := exec.Command("go", "build", "-o", retrofitBin, "./cmd/retrofit").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	if rss {
		return rssTable(c, models, types, retrofitBin)
	}
	if accuracy {
		return accuracyTable(c, types, chunks, retrofitBin)
	}
	return speedTable(c, models, types)
}

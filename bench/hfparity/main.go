// Command hfparity prepares and checks the parity of retrofit's exports with
// HF transformers (remote code, scripts/hf_parity.py) and of uptrained HF
// checkpoints with retrofit's GGUF export. It needs no GPU and no Python;
// docs/hf.md records the GPU runs.
//
//	hfparity export -out DIR [-model qwen3-micro] [-fixtures DIR] [-cases stock,cla,...]
//	    converts qwen3-micro (or qwen2-micro) with each transform, exports it as an HF
//	    directory with remote code, loads the export back, and writes per case
//	    DIR/CASE/{hf/, retrofit.json, logits.f32}: retrofit's engine logits on
//	    the references' ids_a, 32 greedy tokens, KV bytes per token.
//	hfparity layoutrefs -out DIR [-fixtures DIR]
//	    builds every case of layout-refs.json as the json says retrofit
//	    convert builds it and exports each to DIR/<model>/<case>/hf (HF directory,
//	    remote code) for scripts/hf_parity.py layoutrefs.
//	hfparity ppl -model DIR [-gguf OUT.gguf] [-dtype bf16] [-refs NAME] [-fixtures DIR]
//	    perplexity of an HF directory on the references' ids_docs_val
//	    windows; with -gguf also exports it to GGUF, loads that back and
//	    evaluates it. Prints one JSON object.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "export":
		fs := flag.NewFlagSet("export", flag.ExitOnError)
		out := fs.String("out", "", "output directory (required)")
		fixtures := fs.String("fixtures", "", "directory holding qwen3-micro/ and qwen3-micro-refs.safetensors (default: testdata, then ../shared/fixtures)")
		name := fs.String("model", "qwen3-micro", "fixture model: qwen3-micro or qwen2-micro")
		cases := fs.String("cases", strings.Join(caseNames(), ","), "cases to export")
		fs.Parse(os.Args[2:])
		if *out == "" {
			usage()
		}
		var res []CaseResult
		res, err = ExportCases(*fixtures, *name, *out, strings.Split(*cases, ","))
		for _, r := range res {
			b, _ := json.Marshal(r.Summary())
			fmt.Println(string(b))
		}
	case "layoutrefs":
		fs := flag.NewFlagSet("layoutrefs", flag.ExitOnError)
		out := fs.String("out", "", "output directory (required)")
		fixtures := fs.String("fixtures", "", "directory holding layout-refs.json and the fixture models (default: testdata, then ../shared/fixtures)")
		fs.Parse(os.Args[2:])
		if *out == "" {
			usage()
		}
		var names []string
		names, err = ExportLayoutRefs(*fixtures, *out)
		for _, n := range names {
			fmt.Println(n)
		}
	case "ppl":
		fs := flag.NewFlagSet("ppl", flag.ExitOnError)
		dir := fs.String("model", "", "HF directory (required)")
		gg := fs.String("gguf", "", "also export to this GGUF file and evaluate it")
		dtype := fs.String("dtype", "bf16", "GGUF weight dtype: f32, f16, bf16 or q8_0")
		fixtures := fs.String("fixtures", "", "directory holding the references")
		refs := fs.String("refs", "qwen3-micro-refs.safetensors", "references file (its ids_docs_val are evaluated)")
		ctx := fs.Int("ctx", 512, "tokens per window")
		windows := fs.Int("windows", 0, "evaluate at most this many windows (0: all)")
		fs.Parse(os.Args[2:])
		if *dir == "" {
			usage()
		}
		var r *PPLResult
		r, err = PPL(*fixtures, *refs, *dir, *gg, *dtype, *ctx, *windows)
		if r != nil {
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hfparity:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: hfparity export -out DIR [-model qwen3-micro] [-fixtures DIR] [-cases a,b]\n       hfparity layoutrefs -out DIR [-fixtures DIR]\n       hfparity ppl -model DIR [-gguf OUT] [-dtype bf16] [-fixtures DIR]")
	os.Exit(2)
}

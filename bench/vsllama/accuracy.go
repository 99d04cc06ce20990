package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// prompts are the greedy-decoding prompts (technical prose, like the
// fixtures' training text).
var prompts = []string{
	"The Python list type",
	"To create a new branch in Git,",
	"In Perl, a hash is",
	"The following example shows how to open a file",
	"Regular expressions are",
	"The garbage collector",
	"When a function is called,",
	"git rebase takes",
	"A dictionary maps",
	"The module provides",
}

// accuracyTable compares fast-mode retrofit with llama.cpp on real weights
// (qwen3-small as BF16, Q8_0 and Q4_K_M GGUF): perplexity on the same token
// ids scored the same way, and greedy continuations of the prompts.
func accuracyTable(c config, types []string, chunks int, retrofitBin string) error {
	// llama.cpp's tokenizer does not NFC-normalize; on NFC text the two
	// tokenizers give the same ids, so both engines score the same tokens.
	raw, err := os.ReadFile(filepath.Join(c.fixtures, "docs-val.txt"))
	if err != nil {
		return err
	}
	text := filepath.Join(c.dir, "docs-val-nfc.txt")
	if err := os.WriteFile(text, norm.NFC.Bytes(raw[:min(len(raw), chunks*512*6)]), 0o644); err != nil {
		return err
	}
	fmt.Printf("qwen3-small, %d threads; perplexity over %d windows of 512 tokens of docs-val.txt (second half of each scored, llama-perplexity's way; same token ids)\n\n", c.threads, chunks)
	fmt.Println("| type | retrofit --fast ppl | retrofit exact ppl | llama-perplexity ppl | fast vs llama.cpp | greedy 64 tokens identical |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, typ := range types {
		path, err := c.smallFile(typ)
		if err != nil {
			return err
		}
		lp, err := c.llamaPPL(path, text, chunks)
		if err != nil {
			return err
		}
		var rp [2]float64
		for i, mode := range []string{"--fast", "--exact"} {
			if rp[i], err = retrofitPPL(retrofitBin, path, text, chunks, mode); err != nil {
				return err
			}
		}
		same, err := c.greedy(path, retrofitBin)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.4f | %.4f | %.4f | %+.3f%% | %d / %d |\n", typ, rp[0], rp[1], lp, 100*(rp[0]/lp-1), same, len(prompts))
	}
	return nil
}

// smallFile returns qwen3-small as a GGUF of type typ, made when missing.
func (c config) smallFile(typ string) (string, error) {
	return c.file("qwen3-small", typ)
}

var pplRE = regexp.MustCompile(`Final estimate: PPL = ([0-9.]+)`)

func (c config) llamaPPL(path, text string, chunks int) (float64, error) {
	out, err := exec.Command(c.tool("llama-perplexity"), "-m", path, "-f", text, "-c", "512", "-b", "512",
		"--chunks", fmt.Sprint(chunks), "-t", fmt.Sprint(c.threads)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("llama-perplexity: %v\n%s", err, tail(out))
	}
	m := pplRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("llama-perplexity printed no final estimate:\n%s", tail(out))
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

var retrofitPPLRE = regexp.MustCompile(`"ppl":\s*([0-9.eE+-]+)`)

func retrofitPPL(bin, path, text string, chunks int, mode string) (float64, error) {
	out, err := exec.Command(bin, "eval", path, "--text", text, "--doc-sep", "", "--ctx", "512", "--second-half",
		"--max-tokens", fmt.Sprint(chunks*512), mode, "--json").Output()
	if err != nil {
		return 0, fmt.Errorf("retrofit eval: %v\n%s", err, tail(out))
	}
	m := retrofitPPLRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("retrofit eval printed no ppl:\n%s", tail(out))
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// greedy counts the prompts whose 64 greedy tokens print the same text
// from llama-completion and retrofit generate --fast.
func (c config) greedy(path, bin string) (int, error) {
	same := 0
	for _, p := range prompts {
		lo, err := exec.Command(c.tool("llama-completion"), "-m", path, "-p", p, "-n", "64", "--temp", "0",
			"-no-cnv", "--no-display-prompt", "--simple-io", "-t", fmt.Sprint(c.threads)).Output()
		if err != nil {
			return 0, fmt.Errorf("llama-completion: %v", err)
		}
		lo = bytes.TrimSuffix(bytes.TrimSpace(lo), []byte("[end of text]"))
		ro, err := exec.Command(bin, "generate", path, "--prompt", p, "--max-tokens", "64", "--fast", "--stats=false").Output()
		if err != nil {
			return 0, fmt.Errorf("retrofit generate: %v", err)
		}
		l, r := strings.TrimSpace(string(lo)), strings.TrimSpace(strings.TrimPrefix(string(ro), p))
		if l == r {
			same++
		} else {
			fmt.Fprintf(os.Stderr, "greedy differs on %q:\n  llama.cpp: %q\n  retrofit:  %q\n", p, l, r)
		}
	}
	return same, nil
}

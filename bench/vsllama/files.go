package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/retrofit-llm/retrofit/export"
	"github.com/retrofit-llm/retrofit/loaders"
	_ "github.com/retrofit-llm/retrofit/loaders/all"
	"github.com/retrofit-llm/retrofit/model"
)

// llamaDir finds the directory of llama-bench in the READY file's text.
func llamaDir(ready string) string {
	for _, f := range strings.Fields(ready) {
		if i := strings.Index(f, "/llama-bench"); i >= 0 {
			f = strings.TrimPrefix(f[:i+len("/llama-bench")], "llama-bench=")
			return filepath.Dir(f[strings.Index(f, "/"):])
		}
	}
	return ""
}

func (c config) tool(name string) string { return filepath.Join(c.llama, name) }

// file returns the GGUF of model in type typ, making it when missing.
func (c config) file(modelName, typ string) (string, error) {
	if typ == "hf" { // the safetensors checkpoint itself
		return c.checkpoint(modelName)
	}
	if modelName == "qwen3-micro" && typ != "q4_k_m" {
		p := filepath.Join(c.fixtures, "qwen3-micro-"+typ+".gguf")
		_, err := os.Stat(p)
		return p, err
	}
	p := filepath.Join(c.dir, modelName+"-"+typ+".gguf")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if typ == "q4_k_m" {
		from := "bf16"
		if modelName == "qwen3-8b" { // requantized from Q8_0: half the bytes to write
			from = "q8_0"
		}
		src, err := c.file(modelName, from)
		if err != nil {
			return "", err
		}
		cmd := exec.Command(c.tool("llama-quantize"), "--allow-requantize", src, p+".tmp", "Q4_K_M", fmt.Sprint(c.threads))
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("llama-quantize %s: %v\n%s", src, err, tail(out))
		}
		return p, os.Rename(p+".tmp", p)
	}
	dt, err := model.ParseDType(typ)
	if err != nil {
		return "", err
	}
	hf, err := c.checkpoint(modelName)
	if err != nil {
		return "", err
	}
	m, err := loaders.Load(hf)
	if err != nil {
		return "", err
	}
	defer m.Close()
	fmt.Fprintf(os.Stderr, "exporting %s\n", p)
	return p, export.GGUF(m, p, export.GGUFOptions{DType: dt})
}

// checkpoint returns the HF directory of a synthesized shape (or the
// fixture's qwen3-micro), writing it when missing.
func (c config) checkpoint(modelName string) (string, error) {
	if modelName == "qwen3-micro" || modelName == "qwen3-small" {
		return filepath.Join(c.fixtures, modelName), nil
	}
	dir := filepath.Join(c.dir, modelName)
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "synthesizing %s in %s\n", modelName, dir)
	return dir, writeCheckpoint(dir, modelName, c.fixtures)
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

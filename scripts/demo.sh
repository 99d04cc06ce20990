#!/usr/bin/env bash
# The main job on the bundled example: inspect qwen3-micro, convert it to
# Cross-Layer Attention (CLA2), measure perplexity and KV-cache bytes before and
# after, export GGUF, and generate from the converted model.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT_DIR:-out/demo}
mkdir -p "$out"
go build -o "$out/retrofit" ./cmd/retrofit
rf="$out/retrofit"

"$rf" inspect testdata/qwen3-micro
"$rf" convert testdata/qwen3-micro --to cla --opt factor=2 --plan
"$rf" convert testdata/qwen3-micro --to cla --opt factor=2 -o "$out/qwen3-micro-cla2"
"$rf" inspect "$out/qwen3-micro-cla2"
echo "== perplexity on docs-val (first 4096 tokens), before and after"
"$rf" eval testdata/qwen3-micro --text testdata/docs-val.txt --max-tokens 4096
"$rf" eval "$out/qwen3-micro-cla2" --text testdata/docs-val.txt --max-tokens 4096
"$rf" export "$out/qwen3-micro-cla2" --format gguf --dtype bf16 -o "$out/qwen3-micro-cla2.gguf"
"$rf" inspect "$out/qwen3-micro-cla2.gguf"
"$rf" generate testdata/qwen3-micro --prompt "The Python list type" --max-tokens 24

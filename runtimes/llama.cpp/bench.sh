#!/usr/bin/env bash
# The payoff of a converted model in llama.cpp: KV-cache memory and decode
# speed of vanilla, CLA2 and MLKV-4 Qwen3-0.6B-shaped models (random weights,
# real shapes; written by `go run ./bench/llamacpp`) at long context.
#
#   runtimes/llama.cpp/bench.sh LLAMA_BIN MODEL_DIR [DEPTHS]
#
# LLAMA_BIN is the bin directory of the patched build (llama-bench); MODEL_DIR
# holds qwen3-0.6b-shape-{vanilla,cla2,mlkv4}-*.gguf; DEPTHS is a comma list
# of context depths (default 4096,16384). Environment: THREADS (default
# nproc), NGEN (generated tokens timed per run, default 32), REPS (default 2),
# NGL (GPU layers, default 99; ignored without a GPU backend), LAYOUTS (default
# "vanilla cla2 mlkv4").
# Prints a Markdown table: layout, depth, KV cache MiB (llama.cpp's log,
# F16 cache), decode tok/s (llama-bench tg at that depth).
set -euo pipefail
bin=${1:?usage: bench.sh LLAMA_BIN MODEL_DIR [DEPTHS]}
dir=${2:?usage: bench.sh LLAMA_BIN MODEL_DIR [DEPTHS]}
depths=${3:-4096,16384}
threads=${THREADS:-$(nproc)}
log=$(mktemp)
echo "| layout | context | KV cache (MiB, F16) | decode tok/s |"
echo "|---|---|---|---|"
for layout in ${LAYOUTS:-vanilla cla2 mlkv4}; do
    model=$(ls "$dir"/qwen3-0.6b-shape-$layout-*.gguf | head -1)
    for d in ${depths//,/ }; do
        out=$("$bin/llama-bench" -m "$model" -p 0 -n "${NGEN:-32}" -d "$d" -t "$threads" -r "${REPS:-2}" \
            -ngl "${NGL:-99}" -o csv -v 2> "$log")
        kv=$(grep -o 'llama_kv_cache: size = *[0-9.]* MiB' "$log" | tail -1 | grep -o '[0-9.]* MiB' | cut -d' ' -f1)
        # csv: the header names the columns; avg_ts is decode tokens per second
        ts=$(echo "$out" | awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="avg_ts") c=i} NR>1 && c {gsub(/"/,"",$c); print $c}' | tail -1)
        printf '| %s | %s | %s | %.2f |\n' "$layout" "$d" "$kv" "$ts"
    done
done
rm -f "$log"

#!/usr/bin/env bash
# Build llama.cpp with retrofit's patch and check it against retrofit's engine.
#
#   runtimes/llama.cpp/check.sh LLAMA_CPP_SRC [WORK_DIR]
#
# LLAMA_CPP_SRC is a llama.cpp source tree (CMakeLists.txt CMakePresets.json
# cmake common ggml src include tools vendor licenses LICENSE, plus
# scripts/ui-assets.cmake for llama-server; it is not changed). The script
#   1. copies it to WORK_DIR/patched (default: ./llama-work) and applies
#      retrofit.patch there, and (for the stock comparisons) copies it unpatched
#      to WORK_DIR/stock;
#   2. builds both (CPU; with CUDA too where nvcc is found), plus retrofit-check;
#   3. runs the Go tests of runtimes/ against them: every layout on
#      qwen3-micro and qwen2-micro, F32 and BF16, equal to retrofit's engine;
#      stock files unchanged by the patch; stock llama.cpp refuses transformed
#      files;
#   4. converts a model, generates with llama-completion and serves it with
#      llama-server (one OpenAI-style request).
# Environment: JOBS (parallel build jobs, default: nproc), SKIP_STOCK=1 (no
# stock build, no stock comparisons), SKIP_BUILD=1 (reuse WORK_DIR's builds),
# SKIP_TESTS=1 (no Go tests), PORT (llama-server's port, default 18080).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=${1:?usage: check.sh LLAMA_CPP_SRC [WORK_DIR]}
src=$(cd "$src" && pwd)
work=${2:-$PWD/llama-work}
mkdir -p "$work"
work=$(cd "$work" && pwd)
jobs=${JOBS:-$(nproc)}

flags=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_APP=OFF
       -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF)
if command -v nvcc >/dev/null; then
    flags+=(-DGGML_CUDA=ON)
    echo "check.sh: nvcc found: building with CUDA"
fi
targets=(llama-completion llama-server llama-bench llama-perplexity llama-quantize)

# build NAME PATCH: copy the source to $work/NAME/src, apply PATCH (if any), build
build() {
    local name=$1 patch=$2 dir=$work/$1
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        rm -rf "$dir/src"
        mkdir -p "$dir"
        cp -a "$src" "$dir/src"
        if [[ -n $patch ]]; then
            (cd "$dir/src" && patch -p1 --quiet < "$patch")
        fi
        cmake -S "$dir/src" -B "$dir/build" "${flags[@]}" > "$dir/configure.log"
        cmake --build "$dir/build" -j "$jobs" --target "${targets[@]}" > "$dir/build.log"
    fi
    # retrofit-check links libllama through its public C API
    c++ -std=c++17 -O2 -o "$dir/build/bin/retrofit-check" "$here/retrofit-check.cpp" \
        -I "$dir/src/include" -I "$dir/src/ggml/include" -L "$dir/build/bin" \
        -lllama -lggml -lggml-base -Wl,-rpath,"$dir/build/bin"
    echo "check.sh: built $dir/build/bin"
}

build patched "$here/retrofit.patch"
export RETROFIT_LLAMA_CPP=$work/patched/build/bin
if [[ ${SKIP_STOCK:-0} != 1 ]]; then
    build stock ""
    export RETROFIT_LLAMA_CPP_STOCK=$work/stock/build/bin
fi

cd "$repo"
if [[ ${SKIP_TESTS:-0} != 1 ]]; then
go test ./runtimes -run 'LlamaCpp' -count=1 -v 2>&1 | tee "$work/go-test.log" | grep -E '^(=== RUN|--- |ok|FAIL|PASS)|ppl:|KV cache:|refs ppl|skipped' || true
grep -q '^ok' "$work/go-test.log" || { echo "check.sh: Go tests failed (see $work/go-test.log)"; exit 1; }
fi

# a converted model in llama-completion and llama-server
go build -o "$work/retrofit" ./cmd/retrofit
fixture=$repo/testdata/qwen3-micro
"$work/retrofit" convert "$fixture" --to cla --opt factor=2 -o "$work/qwen3-micro-cla2.gguf" --format gguf --dtype bf16 > /dev/null 2>&1
"$RETROFIT_LLAMA_CPP/llama-completion" -m "$work/qwen3-micro-cla2.gguf" -p "The Python list type" -n 32 --temp 0 -no-cnv \
    > "$work/completion.txt" 2> "$work/completion.log"
echo "check.sh: llama-completion: $(head -c 300 "$work/completion.txt" | tr '\n' ' ')"

port=${PORT:-18080}
"$RETROFIT_LLAMA_CPP/llama-server" -m "$work/qwen3-micro-cla2.gguf" --host 127.0.0.1 --port "$port" -c 2048 > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 1
done
reply=$(curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": "The Python list type", "max_tokens": 24, "temperature": 0}')
echo "check.sh: llama-server /v1/completions: $reply"
echo "$reply" | grep -q '"text"' || { echo "check.sh: llama-server gave no completion"; exit 1; }
echo "check.sh: all checks passed"

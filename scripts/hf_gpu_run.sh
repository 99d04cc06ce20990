#!/usr/bin/env bash
# The GPU run recorded in docs/hf.md: HF remote-code parity and uptraining.
# Needs python3 with torch, transformers, safetensors, tokenizers and a
# hfparity binary built on a Go machine:
#   CGO_ENABLED=0 go build -o .dev/hfparity ./bench/hfparity
#   head -c 4000000 docs-train.txt > .dev/data/train.txt
# Usage: scripts/hf_gpu_run.sh OUTDIR [NGPU]
set -u -o pipefail
out=${1:?usage: hf_gpu_run.sh OUTDIR [NGPU]}
ngpu=${2:-1}
bin=${HFPARITY:-.dev/hfparity}
data=${DATA:-.dev/data/train.txt}
work=${WORK:-/tmp/hfrun}
export PYTHONUNBUFFERED=1 TRANSFORMERS_VERBOSITY=error NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1
mkdir -p "$out" "$work"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.device_count(), 'x', torch.cuda.get_device_name())" | tee "$out/env.log"
python3 scripts/hf_parity.py selftest --fixture testdata/qwen3-micro --refs testdata/qwen3-micro-refs.safetensors \
  --out "$work/self" 2>&1 | grep -v "Loading weights\|Writing model" | tee "$out/selftest.log"
for m in qwen3-micro qwen2-micro; do
  "$bin" export -model $m -out "$work/$m" 2>&1 | tee "$out/export-$m.log"
  python3 scripts/hf_parity.py compare "$work/$m"/* 2>&1 | grep -v "Loading weights" | tee "$out/compare-$m.log"
done
for c in cla mlkv looped kvsharer depthattn; do
  launch="python3"
  extra=""
  if [ "$ngpu" -gt 1 ] && { [ "$c" = looped ] || [ "$c" = cla ]; }; then
    launch="torchrun --standalone --nproc_per_node $ngpu"
    extra="--grad-ckpt --bf16"
  fi
  $launch scripts/uptrain_hf.py --model "$work/qwen3-micro/$c/hf" --teacher testdata/qwen3-micro --data "$data" \
    --out "$work/up-$c" --eval-ids testdata/qwen3-micro-refs.safetensors $extra 2>&1 \
    | grep -v "Loading weights\|Writing model" | tee "$out/uptrain-$c.log"
  "$bin" ppl -model "$work/up-$c" -gguf "$work/up-$c.gguf" 2>&1 | tee "$out/ppl-$c.log"
done

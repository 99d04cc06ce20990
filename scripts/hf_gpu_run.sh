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
# Every layout-refs case, built by retrofit, through transformers + remote code,
# against the independent reference (full refs from ../shared/fixtures when there).
refs=${LAYOUT_REFS:-../shared/fixtures}
[ -f "$refs/layout-refs.safetensors" ] || refs=testdata
"$bin" layoutrefs -out "$work/layoutrefs" -fixtures testdata > "$out/layoutrefs-export.log" 2>&1
python3 scripts/hf_parity.py layoutrefs --cases "$work/layoutrefs" --json "$refs/layout-refs.json" \
  --refs "$refs/layout-refs.safetensors" --ids-dir testdata 2>&1 | grep -v "Loading weights" | tee "$out/layoutrefs.log"
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
  "$bin" ppl -model "$work/up-$c" -gguf "$work/up-$c.gguf" 2>"$out/ppl-$c.err" | tee "$work/up-$c.ppl.json" "$out/ppl-$c.log"; cat "$out/ppl-$c.err"
done
# Summary table of the uptraining runs (Markdown).
python3 - "$work" <<'PY' | tee "$out/summary.md"
import json, os, sys
work = sys.argv[1]
print("| case | GPUs | loss first10 → last10 | ppl before → after (transformers) | ppl HF dir / GGUF (retrofit) | rel diff |")
print("|---|---|---|---|---|---|")
for c in ["cla", "mlkv", "looped", "kvsharer", "depthattn"]:
    try:
        u = json.load(open(os.path.join(work, f"up-{c}", "uptrain.json")))
    except OSError:
        print(f"| {c} | failed | | | | |")
        continue
    p = {}
    for line in open(os.path.join(sys.argv[1], f"up-{c}.ppl.json")) if os.path.exists(os.path.join(work, f"up-{c}.ppl.json")) else []:
        p = json.loads(line)
    rel = abs(p.get("ppl_gguf", 0) - u["ppl_after"]) / u["ppl_after"] if p else float("nan")
    print(f"| {c} | {u['world_size']} | {u['loss_first10']:.3f} → {u['loss_last10']:.3f} | {u['ppl_before']:.2f} → {u['ppl_after']:.4f} "
          f"(teacher {u.get('ppl_teacher', 0):.3f}) | {p.get('ppl', 0):.4f} / {p.get('ppl_gguf', 0):.4f} | {rel:.1e} |")
PY

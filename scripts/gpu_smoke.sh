#!/usr/bin/env bash
# A few minutes on a CUDA machine: does the GPU path run, and agree with the CPU?
#   1. the tiny preset on CUDA (bf16 autocast), killed half-way and resumed;
#   2. the same run on the CPU in fp32: its held-out metrics should be close (not equal: bf16,
#      and different kernels), since data, initial weights and sampling draws are the same;
#   3. the GPU run's checkpoint evaluated on the CPU (checkpoints hold CPU tensors);
#   4. the tiny benchmark on CUDA.
#   bash scripts/gpu_smoke.sh [OUT=runs/gpu-smoke]
# DEVICE=cpu runs the same steps on the CPU (a check of the script itself).
set -euo pipefail
OUT=${1:-runs/gpu-smoke}
DEVICE=${DEVICE:-cuda}
COTMIX=${COTMIX:-.venv/bin/cotmix}
rm -rf "$OUT" && mkdir -p "$OUT"
$COTMIX run --preset tiny device=$DEVICE --out "$OUT/cuda" --no-progress
$COTMIX run --preset tiny device=cpu --out "$OUT/cpu" --no-progress
$COTMIX eval --checkpoint "$OUT/cuda" device=cpu --json > "$OUT/cuda-on-cpu.json"
timeout -s KILL 15 $COTMIX pretrain --preset tiny device=$DEVICE pretrain.steps=2000 --out "$OUT/killed" --no-progress || true
$COTMIX pretrain --resume --out "$OUT/killed" --no-progress
$COTMIX bench --tiny --device $DEVICE --out "$OUT/bench.json" --no-progress
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
gpu = json.load(open(f"{out}/cuda/summary.json"))["posttrain"]["eval"]
cpu = json.load(open(f"{out}/cpu/summary.json"))["posttrain"]["eval"]
moved = json.load(open(f"{out}/cuda-on-cpu.json"))
for key in ("greedy_accuracy", "sampled_accuracy", "long_fraction", "chain_token_accuracy"):
    print(f"{key:<22} device {gpu[key]:.3f}  cpu {cpu[key]:.3f}  device checkpoint on cpu {moved[key]:.3f}")
PY

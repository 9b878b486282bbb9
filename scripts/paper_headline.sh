#!/usr/bin/env bash
# The paper-scale headline on one GPU: d = 50, p_cot = 0.25, a 4-layer width-256 GPT-2, 20000 NTP
# steps of 512 fresh demonstrations, then 200 GRPO steps beside the NTP-only arm; 3 seeds one after
# the other (`cotmix sweep fig-headline --size paper`). Prints its wall time, the results table,
# and writes the report. Rerunning it resumes. Runs on a CPU too, but for days.
#   bash scripts/paper_headline.sh [OUT=runs/paper]
set -euo pipefail
OUT=${1:-runs/paper}
COTMIX=${COTMIX:-.venv/bin/cotmix}
PY=${PY:-.venv/bin/python}
where=$($PY -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "")')
if [ -z "$where" ]; then
  echo "torch sees no CUDA GPU (torch $($PY -c 'import torch; print(torch.__version__)')); this script is for a GPU" >&2
  exit 2
fi
start=$(date +%s)
$COTMIX sweep fig-headline --size paper --out "$OUT/fig-headline" --workers 1
echo "fig-headline at paper size: $(( $(date +%s) - start )) s on $where"
$COTMIX results "$OUT/fig-headline"
$COTMIX report "$OUT"

#!/usr/bin/env bash
# Every built-in study at cpu size, one after the other, 2 runs at a time on a local Ray instance.
# Rerunning it resumes: finished runs are skipped. Then the results table and the HTML report.
#   bash scripts/run_cpu_studies.sh [OUT=runs/sweeps] [WORKERS=2]
set -u
OUT=${1:-runs/sweeps}
WORKERS=${2:-2}
COTMIX=${COTMIX:-.venv/bin/cotmix}
STUDIES="fig-headline fig-threshold study-noisy-chains study-false-positive-reward study-vanishing-cot
         study-phase-diagram fig-algorithms fig-rl-start fig-temperature fig-length fig-rare fig-leap fig-size"
for study in $STUDIES; do
  start=$(date +%s)
  $COTMIX sweep "$study" --size cpu --out "$OUT/$study" --workers "$WORKERS" --no-progress
  echo "== $study: $(( $(date +%s) - start )) s"
done
$COTMIX report "$OUT"

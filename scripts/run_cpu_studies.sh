#!/usr/bin/env bash
# The defaults check and every built-in study, one after the other, 2 runs at a time on a
# local Ray instance (1 torch thread each). Rerunning it resumes: finished runs are skipped. Then the
# results table and the HTML report. STUDIES="fig-headline fig-threshold" runs only those.
#   bash scripts/run_cpu_studies.sh [OUT=runs/sweeps] [WORKERS=2]
set -u
OUT=${1:-runs/sweeps}
WORKERS=${2:-2}
COTMIX=${COTMIX:-.venv/bin/cotmix}
STUDIES=${STUDIES:-"configs/sweeps/defaults-check.yaml fig-headline fig-threshold fig-algorithms fig-length
         fig-temperature fig-rl-start fig-size study-noisy-chains study-false-positive-reward
         study-vanishing-cot study-phase-diagram fig-leap fig-rare"}
for study in $STUDIES; do
  name=$(basename "$study" .yaml)
  start=$(date +%s)
  $COTMIX sweep "$study" --out "$OUT/$name" --workers "$WORKERS" --threads 1 --no-progress
  echo "== $name: $(( $(date +%s) - start )) s"
done
$COTMIX report "$OUT"

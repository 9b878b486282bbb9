#!/usr/bin/env bash
# Multiplication at the sizes this CPU cannot reach, on a lent GPU inside DEADLINE seconds: the
# paper's hardest case (fig-multiplication-7x7, one seed; 6.8 s a step at batch 64 on this CPU), the
# 3x3 headline (fig-multiplication) and its threshold grid (fig-multiplication-threshold), each in
# a GPU lane of its own. It is scripts/device_studies.sh with these studies: OUT/runs.tar.gz.part*
# holds every run's small files and the newest checkpoint of each unfinished one; unpack with
# `cat OUT/runs.tar.gz.part* | tar xz -C runs/sweeps`, and `cotmix sweep NAME --out runs/sweeps/NAME`
# resumes or finishes them on any machine. A second call resumes from what WORK holds.
#   DEADLINE=540 bash scripts/gpu_multiplication.sh WORK OUT
set -u
USAGE="usage: gpu_multiplication.sh WORK OUT"
WORK=${1:?$USAGE}
OUT=${2:?$USAGE}
exec bash "$(dirname "$0")/device_studies.sh" "$WORK" "$OUT" \
  fig-multiplication-7x7:1 fig-multiplication:6 fig-multiplication-threshold:8

#!/usr/bin/env bash
# Copy the small files of finished sweeps into docs/results/NAME/ (no checkpoints; each run's config,
# summary, status and compressed metrics), then rebuild each one's results table and its report there,
# so every number the README quotes can be checked and redrawn from a clone
# (scripts/restore_results.sh goes the other way, to resume a sweep on a fresh machine):
#   bash scripts/publish_results.sh fig-headline fig-threshold ...     (from runs/sweeps/NAME)
#   PARTIAL=1 bash scripts/publish_results.sh NAME    (a sweep still running: its report draws the
#                                                     unfinished runs where they stopped, and names them)
set -eu
COTMIX=${COTMIX:-.venv/bin/cotmix}
SRC=${SRC:-runs/sweeps}
DEST=${DEST:-docs/results}
for name in "$@"; do
  from="$SRC/$name"; to="$DEST/$name"
  [ -f "$from/sweep.json" ] || { echo "no sweep at $from" >&2; exit 2; }
  rm -rf "$to"; mkdir -p "$to/runs"
  cp "$from/sweep.json" "$to/"
  for run in "$from"/runs/*/; do
    dest="$to/runs/$(basename "$run")"; mkdir -p "$dest"
    for f in config.json summary.json status.json; do [ -f "$run/$f" ] && cp "$run/$f" "$dest/"; done
    # compressed (about 10x smaller; read as it is); -n keeps no timestamp, so a republish changes no byte
    if [ -f "$run/metrics.jsonl" ]; then gzip -9nc "$run/metrics.jsonl" > "$dest/metrics.jsonl.gz"; fi
  done
  $COTMIX results "$to" --csv > /dev/null      # writes $to/results.parquet
  $COTMIX report "$to" --out "$to/report.html" ${PARTIAL:+--partial}  # writes $to/report/NAME.png and .svg
done

#!/usr/bin/env bash
# The way back from publish_results.sh: seed runs/sweeps/NAME with the finished runs that landed in
# docs/results/NAME, so that rerunning the sweep on a fresh machine skips them and runs only the rest:
#   bash scripts/restore_results.sh study-resource-gap
#   cotmix sweep study-resource-gap --out runs/sweeps/study-resource-gap
# Runs that were unfinished when published are not restored (their checkpoints never land): they start over.
set -eu
SRC=${SRC:-docs/results}
DEST=${DEST:-runs/sweeps}
for name in "$@"; do
  from="$SRC/$name"; to="$DEST/$name"
  [ -f "$from/sweep.json" ] || { echo "no published sweep at $from" >&2; exit 2; }
  if [ -f "$to/sweep.json" ] && ! cmp -s "$from/sweep.json" "$to/sweep.json"; then
    echo "$to holds a different sweep than $from; restore into a new DEST" >&2; exit 2
  fi
  mkdir -p "$to/runs"; cp "$from/sweep.json" "$to/"
  restored=0
  for run in "$from"/runs/*/; do
    [ -d "$run" ] || continue
    grep -q '"state": *"done"' "$run/status.json" 2>/dev/null || continue
    dest="$to/runs/$(basename "$run")"
    [ -e "$dest" ] && continue  # never overwrite a run that is here already
    cp -r "$run" "$dest.tmp" && mv "$dest.tmp" "$dest"
    restored=$((restored + 1))
  done
  echo "$name: restored $restored finished runs into $to"
done

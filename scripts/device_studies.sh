#!/usr/bin/env bash
# The paper-scale studies on a lent GPU machine (one GPU, many cores) inside a fixed time. The sweeps
# share the GPU (through MPS when its daemon starts: small models leave most of the GPU idle, and MPS
# lets their kernels run side by side). At the deadline every run is stopped where it is.
# OUT/runs.tar.gz.part* then holds every run's small files and, for runs not finished, their newest
# checkpoint per phase, so `cotmix sweep` resumes them on any machine:
# `cat OUT/runs.tar.gz.part* | tar xz -C runs/sweeps`.
#   DEADLINE=500 bash scripts/device_studies.sh WORK OUT STUDY:WORKERS [...]
# Each STUDY:WORKERS gets a GPU lane of its own.
# Before the lanes start, WORK/STUDY is seeded with its finished runs published under
# docs/lab/in-progress/ and docs/results/, so only the rest is run.
set -u
USAGE="usage: device_studies.sh WORK OUT STUDY:WORKERS [...], e.g. fig-headline-paper:3"
WORK=${1:?$USAGE}
OUT=${2:?$USAGE}
shift 2
[ $# -gt 0 ] || { echo "$USAGE" >&2; exit 2; }
DEADLINE=${DEADLINE:-500}
PY=${PY:-python3}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$WORK" "$OUT"
start=$(date +%s)
say() { echo "[$(( $(date +%s) - start )) s] $*"; }

mps=0
if [ -z "${NO_MPS:-}" ] && command -v nvidia-cuda-mps-control >/dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  # -d fails when the daemon of an earlier call on this machine still runs (its control pipe is there): use it.
  if { nvidia-cuda-mps-control -d || [ -e "$CUDA_MPS_PIPE_DIRECTORY/control" ]; } && timeout 60 "$PY" -c \
      "import torch; assert torch.ones(2, device='cuda').sum().item() == 2"; then
    mps=1
  else
    echo quit | nvidia-cuda-mps-control 2>/dev/null
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  fi
fi
say "MPS: $mps; $("$PY" -c 'import torch; print(torch.__version__, torch.cuda.is_available())')"

# lane NAME STUDY:WORKERS...: the studies one after the other, each a sweep on a process pool.
lane() {
  local name=$1; shift
  (
    for item in "$@"; do
      [ -e "$WORK/STOP" ] && break
      study=${item%%:*}; workers=${item##*:}; sweep=$(basename "$study" .yaml)
      say "$name: $sweep, $workers workers"
      "$PY" -m cotmix.cli sweep "$study" --out "$WORK/$sweep" --workers "$workers" --engine processes \
        --threads 1 --no-progress
      say "$name: $sweep ended ($?)"
    done
  ) >> "$WORK/lane-$name.log" 2>&1 &
  lanes="${lanes:-} $!"
}
# kill_tree PID SIGNAL: the process and everything it started (pool workers too), children first.
kill_tree() { local child; for child in $(pgrep -P "$1"); do kill_tree "$child" "$2"; done; kill "-$2" "$1" 2>/dev/null; }
running() { local pid; for pid in $lanes; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }

for item in "$@"; do
  sweep=$(basename "${item%%:*}" .yaml)
  for src in docs/lab/in-progress docs/results; do
    [ -f "$src/$sweep/sweep.json" ] && "$PY" -m cotmix.cli restore "$sweep" --src "$src" --dest "$WORK"
  done
  lane "$sweep" "$item"
done

while [ $(( $(date +%s) - start )) -lt "$DEADLINE" ] && running; do sleep 5; done
say "deadline or all done: stopping every run"
touch "$WORK/STOP"
for pid in $lanes; do kill_tree "$pid" TERM; done; sleep 3
for pid in $lanes; do kill_tree "$pid" KILL; done; sleep 1
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv 2>/dev/null

"$PY" - "$WORK" "$OUT" <<'EOF'
"""Pack the small files of every run, and the newest checkpoint per phase of unfinished runs
(the headline's first), under a size cap; print one line per run."""
import json, sys, tarfile
from pathlib import Path

work, out = Path(sys.argv[1]), Path(sys.argv[2])
order = ["fig-headline-paper", "d50-model-probe", "fig-threshold-paper", "study-star-rounds", "study-resource-gap"]
sweeps = sorted((p for p in work.iterdir() if p.is_dir()), key=lambda p: (order + [p.name]).index(p.name))
budget = 40 << 20
with tarfile.open(out / "runs.tar.gz", "w:gz") as tar:
    for log in work.glob("lane-*.log"):
        tar.add(log, arcname=f"logs/{log.name}")
    for sweep in sweeps:
        for f in sweep.iterdir():
            if f.is_file() and f.suffix in (".json", ".parquet"):
                tar.add(f, arcname=f"{sweep.name}/{f.name}")
        # runs, and the pre-trainings they share (cotmix.experiments.shared_pretrain), which a run
        # not started yet copies from: both pack alike
        runs = [d for part in ("runs", "pretrain-cache") if (sweep / part).is_dir()
                for d in sorted((sweep / part).iterdir()) if d.is_dir()]
        for run in runs:
            status = json.loads((run / "status.json").read_text()) if (run / "status.json").is_file() else {}
            for f in run.iterdir():
                if f.is_file() and f.suffix in (".json", ".jsonl"):
                    tar.add(f, arcname=f"{sweep.name}/{run.parent.name}/{run.name}/{f.name}")
            kept = []
            if status.get("state") != "done":
                for phase in sorted((run / "checkpoints").glob("*")):
                    steps = sorted(p for p in phase.glob("step_*") if not p.name.endswith(".tmp"))
                    size = sum(f.stat().st_size for f in steps[-1].rglob("*") if f.is_file()) if steps else 0
                    if steps and size <= budget:
                        budget -= size
                        tar.add(steps[-1], arcname=f"{sweep.name}/{run.parent.name}/{run.name}/checkpoints/{phase.name}/{steps[-1].name}")
                        kept.append(f"{phase.name}/{steps[-1].name}")
            print(f"{sweep.name}/{run.parent.name}/{run.name}: {status.get('state', 'shared' if run.parent.name == 'pretrain-cache' else 'not started')} {status.get('wall_s', '')} {' '.join(kept)}")
EOF
cd "$OUT" && split -b 15m -d runs.tar.gz runs.tar.gz.part && rm runs.tar.gz && ls -la
say "packed"

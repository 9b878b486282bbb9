#!/usr/bin/env bash
# The LLM study (docs/llm.md) at a size this CPU cannot afford, on a lent GPU inside DEADLINE
# seconds: SmolLM2-135M on chained sums, p_cot 0.1 and 0.25 x 3 seeds, six experiments at once,
# with 500 held-out problems and 100 GRPO steps of 8 x 8 rollouts. At the deadline the study stops;
# OUT/llm.tar.gz holds every experiment's small files (evaluations, summaries, trainer logs, the
# table and figure; no weights). Unpacked, `cotmix report DIR` redraws it, and a second call with
# the same WORK resumes (each experiment skips the stages it finished).
#   DEADLINE=540 bash scripts/gpu_llm.sh WORK OUT [more `cotmix llm study` flags]
set -u
USAGE="usage: gpu_llm.sh WORK OUT [flags]"
WORK=${1:?$USAGE}
OUT=${2:?$USAGE}
shift 2
DEADLINE=${DEADLINE:-540}
PY=${PY:-python3}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
STUDY="$WORK/llm-chainsum-gpu"
FLAGS=(--source chain-sum --problems 4000 --eval-size 500 --p-cots 0.1,0.25 --seeds 3 --sft-steps 200
       --sft-batch-size 16 --grpo-steps 100 --prompts-per-step 8 --group-size 8 --max-new-tokens 64 "$@")
mkdir -p "$WORK" "$OUT"
timeout --signal=TERM --kill-after=20 "$DEADLINE" "$PY" -m cotmix.cli llm study --out "$STUDY" --workers 6 "${FLAGS[@]}"
echo "study ended ($?)"
"$PY" -m cotmix.cli llm study --out "$STUDY" --collect-only "${FLAGS[@]}" || echo "no experiment finished yet"
tar czf "$OUT/llm.tar.gz" -C "$WORK" --exclude=model --exclude=model.tmp --exclude=checkpoints "$(basename "$STUDY")"
ls -l "$OUT/llm.tar.gz"

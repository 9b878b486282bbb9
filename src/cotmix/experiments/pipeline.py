"""The pipeline of `cotmix run`: NTP pre-training, then RL post-training, and beside it an
NTP-only baseline that continues pre-training from the same checkpoint for at least as many
samples as RL consumed. All three phases share one run directory and one task; a killed run
resumes phase by phase. (Sweeps of many runs are cotmix.experiments.runner.)
"""

from __future__ import annotations

import math
from pathlib import Path

from cotmix.config import Config
from cotmix.errors import CotmixError
from cotmix.experiments.shared_pretrain import take_shared_pretrain
from cotmix.loops.posttrain import posttrain
from cotmix.loops.pretrain import train_ntp
from cotmix.rundir import read_summary
from cotmix.tasks import Task, make_task
from cotmix.train.checkpoint import list_checkpoints, load_checkpoint, resolve_checkpoint

MAX_BASELINE_EVALS = 100  # a long NTP-only arm (the paper's 10^7 samples) is evaluated at most this often


def baseline_schedule(cfg: Config, rl_samples: int, pretrain_samples: int) -> tuple[int, int]:
    """(steps, eval_interval) of the NTP-only arm: at least rl_samples demonstrations, and enough to
    reach posttrain.baseline_min_samples counting pre-training; evaluated about as often (in samples)
    as the RL arm, but at most MAX_BASELINE_EVALS times."""
    p, b = cfg.posttrain, cfg.pretrain.batch_size
    steps = max(math.ceil(rl_samples / b), math.ceil((p.baseline_min_samples - pretrain_samples) / b))
    every = max(1, math.ceil(p.eval_interval * p.prompts_per_step * p.group_size / b),
                math.ceil(steps / MAX_BASELINE_EVALS))
    return steps, every


def run_experiment(cfg: Config, out: Path, *, task: Task | None = None, resume: bool = False,
                   progress: bool = True, pretrain_cache: Path | None = None) -> dict:
    """The three phases in run directory `out`, which the caller has prepared (cotmix.rundir.
    prepare_run_dir). task: the run's, built once for all three (default: from cfg.task).
    pretrain_cache: a sweep's folder of shared pre-trainings (cotmix.experiments.shared_pretrain);
    None: the run pre-trains on its own."""
    out, task = Path(out), task or make_task(cfg.task)
    done = read_summary(out)
    if "pretrain" not in done and pretrain_cache is not None:
        take_shared_pretrain(cfg, out, pretrain_cache)
        done = read_summary(out)
    if "pretrain" not in done:
        train_ntp(cfg, out, task=task, resume=resume, progress=progress)
    elif not list_checkpoints(out, "pretrain"):
        raise CotmixError(f"{out}: summary.json says pre-training finished, but {out}/checkpoints/pretrain/ holds "
                          "no checkpoint (deleted?), and RL and the NTP-only arm start from it; run it again "
                          "in a new --out (a sweep: delete this run's folder and rerun the sweep)")
    start = load_checkpoint(resolve_checkpoint(out, "pretrain"))
    if "posttrain" not in read_summary(out):
        posttrain(cfg, out, start, task=task, resume=resume, progress=progress)
    summary = read_summary(out)
    if cfg.posttrain.baseline_arm and "baseline" not in summary:
        steps, every = baseline_schedule(cfg, summary["posttrain"]["samples"], summary["pretrain"]["samples"])
        # RL's constant learning rate, so the two arms differ only in their objective (the peak
        # pre-training rate mostly adds noise there, a decayed one would barely move the model).
        train_ntp(cfg, out, task=task, phase_name="baseline", steps=steps, start=start, lr=cfg.posttrain.lr,
                  resume=resume, progress=progress, eval_interval=every)
    return read_summary(out)


def format_table(summary: dict) -> str:
    """NTP-only vs NTP+RL, the numbers a reader checks first."""
    rows = [("", "NTP only", "NTP + RL")]
    pre, rl, base = summary.get("pretrain", {}), summary.get("posttrain", {}), summary.get("baseline", {})

    def metric(entry, key, fmt):
        value, interval = entry.get("eval", {}).get(key), entry.get("eval", {}).get(f"{key}_ci95")
        if value is None:
            return "-"
        return fmt.format(value) + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")

    for label, key, fmt in (("greedy accuracy", "greedy_accuracy", "{:.3f}"),
                            ("greedy length (median)", "greedy_length_median", "{:.0f}"),
                            ("long fraction (sampled)", "long_fraction", "{:.3f}"),
                            ("sampled accuracy", "sampled_accuracy", "{:.3f}")):
        rows.append((label, metric(base or pre, key, fmt), metric(rl, key, fmt)))
    total = pre.get("samples", 0)
    rows.append(("samples (pre-training + after)", f"{total:,} + {base.get('samples', 0):,}",
                 f"{total:,} + {rl.get('samples', 0):,}"))
    rows.append(("wall time after pre-training", f"{base.get('wall_s', 0):.0f} s", f"{rl.get('wall_s', 0):.0f} s"))
    rows.append(("pre-training wall time", f"{pre.get('wall_s', 0):.0f} s", "(shared)"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width[i]) if i == 0 else cell.rjust(width[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)

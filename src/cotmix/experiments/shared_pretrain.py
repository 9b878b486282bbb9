"""Pre-train once per sweep setting: runs that differ only in `posttrain.*` share one pre-training.

fig-algorithms runs eight RL variants per seed from the same pre-trained model; without sharing,
each run pre-trains it again. Pre-training reads no `posttrain.*` setting, so its result is a
function of the rest of the config, and runs whose rest is equal can take one copy of it:

    SWEEP/pretrain-cache/KEY/    a run directory holding only the pre-training phase
    SWEEP/pretrain-cache/KEY.lock

The first run to need KEY pre-trains it there (holding the lock, so another worker wanting the
same KEY waits instead of pre-training it twice) and then every run links the checkpoints into
its own directory and copies the phase's metrics records and summary entry. The run directory
ends exactly as if the run had pre-trained itself, with the same numbers.

A copy interrupted part way resumes as the run's own pre-training would: metrics are copied
first, the checkpoints next and the summary entry last, so a run with linked checkpoints but no
summary entry resumes from its newest checkpoint (the shared phase's last), which just finishes.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path

from cotmix.config import Config, PosttrainConfig
from cotmix.loops.pretrain import train_ntp
from cotmix.rundir import prepare_run_dir, read_metrics, read_summary, release_run_dir, rewrite_metrics
from cotmix.train.checkpoint import list_checkpoints
from cotmix.train.phase import update_summary


def pretrain_config(cfg: Config) -> Config:
    """cfg with posttrain.* at its defaults: what pre-training depends on, and nothing else."""
    return dataclasses.replace(cfg, posttrain=PosttrainConfig())


def pretrain_key(cfg: Config) -> str:
    text = json.dumps(pretrain_config(cfg).to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def take_shared_pretrain(cfg: Config, out: Path, cache: Path) -> None:
    """Give run `out` its pre-training from `cache`, pre-training it there first if no run has.
    A run that has begun pre-training on its own (it has a checkpoint) is left to finish that."""
    out, cache = Path(out), Path(cache)
    if "pretrain" in read_summary(out) or list_checkpoints(out, "pretrain"):
        return
    key = pretrain_key(cfg)
    shared = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    fd = os.open(cache / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another worker pre-trains this key
        if "pretrain" not in read_summary(shared):
            shared_cfg = pretrain_config(cfg)
            prepare_run_dir(shared, shared_cfg.to_dict(), resume=(shared / "config.json").is_file())
            try:
                train_ntp(shared_cfg, shared, resume=True, progress=False)
            finally:
                release_run_dir(shared)
    finally:
        os.close(fd)  # releases the flock
    _copy_phase(shared, out, "pretrain")


def _copy_phase(src: Path, dst: Path, phase: str) -> None:
    """Metrics records, then hard-linked checkpoints (each renamed into place whole), then the
    summary entry, which marks the copy done."""
    others = [r for r in read_metrics(dst) if r.get("phase") != phase]
    rewrite_metrics(dst, read_metrics(src, phase) + others)
    for ckpt in list_checkpoints(src, phase):
        target = dst / ckpt.relative_to(src)
        tmp = target.with_name(target.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for file in ckpt.iterdir():
            if not (tmp / file.name).exists():
                try:
                    os.link(file, tmp / file.name)  # checkpoints are never written in place: linking is safe
                except OSError:  # a filesystem without hard links
                    shutil.copy2(file, tmp / file.name)
        os.replace(tmp, target)
    update_summary(dst, phase, read_summary(src)[phase])

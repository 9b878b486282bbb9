"""Experiment tracking beside metrics.jsonl: TensorBoard and Weights & Biases, chosen by `logger`.

metrics.jsonl stays the source of truth and is always written; trackers get the same records
under the names TRL uses, so curves from cotmix and from TRL runs sit side by side:

    training records   train/loss, train/learning_rate, train/grad_norm, train/reward, train/reward_std,
                       train/frac_reward_zero_std, train/completions/mean_length, train/kl, ...
    evaluations        eval/greedy_accuracy, eval/long_fraction, eval/chain_exact_accuracy, ...

The x axis is samples seen, so pre-training and the two arms after it line up. Each phase writes
its own TensorBoard run (RUN/tensorboard/PHASE), and `tensorboard --logdir SWEEP_DIR` puts every
run of a sweep side by side. A resumed phase tells TensorBoard to drop what the killed process
wrote after the checkpoint (purge_step), so the curves go on without duplicate points; a W&B run
is resumed under the same id and is sent only steps past the last one it has.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cotmix.config import TRACKERS
from cotmix.errors import ConfigError

RENAMED = {"lr": "learning_rate"}  # cotmix's record key -> TRL's name
BOOKKEEPING = {"phase", "step", "samples_seen", "wall_s", "eval"}


def tracker_names(logger: str) -> list[str]:
    """The trackers a `logger` value names (validated with the config: each is one of TRACKERS)."""
    return [n.strip() for n in logger.split(",") if n.strip() in TRACKERS]


def scalars(record: dict) -> dict[str, float]:
    """TRL-style tag -> value for the numbers of one metrics.jsonl record."""
    prefix = "eval/" if record.get("eval") else "train/"
    return {prefix + RENAMED.get(key, key): float(value) for key, value in record.items()
            if key not in BOOKKEEPING and isinstance(value, (int, float)) and not isinstance(value, bool)}


class Trackers:
    """The trackers of one phase of one run. resume_at: samples seen at the checkpoint it resumed from."""

    def __init__(self, names: list[str], run_dir: Path, phase: str, config: dict, resume_at: int | None = None):
        self.writers = []
        if "tensorboard" in names:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("logger=tensorboard needs the tensorboard package: pip install tensorboard") from None
            purge = None if resume_at is None else resume_at + 1  # drop points written after the checkpoint
            self.writers.append(_TensorBoard(SummaryWriter(str(Path(run_dir) / "tensorboard" / phase),
                                                           purge_step=purge)))
        if "wandb" in names:
            self.writers.append(_WandB(run_dir, phase, config))

    def log(self, record: dict) -> None:
        values = scalars(record)
        for writer in self.writers:
            writer.log(values, int(record["samples_seen"]))

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class _TensorBoard:
    def __init__(self, writer):
        self.writer = writer

    def log(self, values: dict, step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _WandB:
    """Offline unless the user's own W&B settings (WANDB_MODE, a login) say otherwise."""

    def __init__(self, run_dir: Path, phase: str, config: dict):
        try:
            import wandb
        except ImportError:
            raise ConfigError("logger=wandb needs the wandb package: pip install -e '.[track]'") from None
        run_dir = Path(run_dir).resolve()
        run_id = hashlib.sha1(f"{run_dir}/{phase}".encode()).hexdigest()[:16]  # the same id when resumed
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "cotmix"), dir=str(run_dir),
                              name=f"{run_dir.name}/{phase}", id=run_id, resume="allow", config=config,
                              mode=os.environ.get("WANDB_MODE", "offline"), reinit="create_new")
        self.last_step = self.run.step

    def log(self, values: dict, step: int) -> None:
        if step > self.last_step:
            self.run.log(values, step=step)
            self.last_step = step

    def close(self) -> None:
        self.run.finish()

"""Tasks by name (cotmix.registry.TASKS). `make_task(cfg.task)` is the only way trainers obtain one."""

from cotmix.config import TaskConfig
from cotmix.registry import TASKS
from cotmix.tasks.base import LONG, MALFORMED, SHORT, Batch, Kind, Task
from cotmix.tasks.digitsum import DigitSumTask
from cotmix.tasks.multiplication import MultiplicationTask
from cotmix.tasks.parity import ParityTask


def make_task(cfg: TaskConfig) -> Task:
    """The task a run's `task` section names (a registered name or module:Class; cotmix.registry),
    with its held-out partition."""
    task = TASKS[cfg.name].from_config(cfg)
    return task.set_heldout(cfg.heldout_fraction, cfg.heldout_seed, cfg.validation_fraction)


__all__ = ["make_task", "Task", "Batch", "ParityTask", "MultiplicationTask", "DigitSumTask", "LONG", "SHORT", "MALFORMED", "Kind"]

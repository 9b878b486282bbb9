"""Tasks by name. `make_task(cfg.task)` is the only way trainers obtain one."""

from cotmix.config import TaskConfig
from cotmix.tasks.base import LONG, MALFORMED, SHORT, Batch, Kind, Task
from cotmix.tasks.multiplication import MultiplicationTask
from cotmix.tasks.parity import ParityTask


def make_task(cfg: TaskConfig) -> Task:
    if cfg.name == "parity":
        task = ParityTask(d=cfg.d, p_cot=cfg.p_cot, leap=cfg.leap, chain_noise=cfg.chain_noise)
    elif cfg.name == "multiplication":
        task = MultiplicationTask(digits_a=cfg.digits_a, digits_b=cfg.digits_b, p_cot=cfg.p_cot)
    else:
        raise ValueError(f"unknown task {cfg.name!r}")  # unreachable after config validation
    return task.set_heldout(cfg.heldout_fraction, cfg.heldout_seed)


__all__ = ["make_task", "Task", "Batch", "ParityTask", "MultiplicationTask", "LONG", "SHORT", "MALFORMED", "Kind"]

"""The optimizer and learning-rate schedule shared by NTP and RL."""

from __future__ import annotations

import math

import torch

from cotmix.config import PretrainConfig


def make_optimizer(model, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW with beta_2 = 0.95, the usual choice for small transformers trained from scratch."""
    return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)


def lr_at(step: int, cfg: PretrainConfig, total_steps: int) -> float:
    """Linear warm-up to cfg.lr, then constant or cosine decay to min_lr_ratio * lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
    floor = cfg.min_lr_ratio * cfg.lr
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

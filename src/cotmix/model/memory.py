"""A run's memory, estimated from its config before anything is allocated, so that a size the
machine cannot hold is refused with one line instead of dying half-way (or taking the machine down).

The estimate is deliberately rough (within a factor of about 2 of what torch allocates at these
sizes) and counts the big items: weights with their gradients and AdamW moments, the activations of
the largest training batch, and the KV cache of the largest decoding batch.
"""

from __future__ import annotations

import os

from cotmix.config import Config
from cotmix.errors import ConfigError

FLOAT = 4  # bytes; the CPU runs in fp32


def estimate_bytes(cfg: Config, prompt_len: int, response_len: int, vocab: int) -> int:
    m, d = cfg.model, cfg.model.d_model
    seq = prompt_len + response_len
    mlp = m.mlp_ratio * (1.5 if m.flavour == "llama" else 1.0)  # SwiGLU has a third matrix
    params = vocab * d + seq * d + m.n_layer * (4 + 2 * mlp) * d * d
    p = cfg.posttrain
    train_rows = max(cfg.pretrain.batch_size, p.prompts_per_step * p.group_size, p.star_batch_size)
    per_token = m.n_layer * ((12 + 2 * mlp) * d + 2 * m.n_head * seq) * 2  # forward, kept for backward
    activations = train_rows * seq * per_token
    decode_rows = max(cfg.eval.batch_size, p.prompts_per_step * p.group_size)
    kv_cache = decode_rows * m.n_layer * 2 * d * seq + decode_rows * seq * vocab
    return FLOAT * (4 * params + activations + kv_cache)


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def check_memory(cfg: Config, prompt_len: int, response_len: int, vocab: int) -> None:
    """ConfigError when the estimate exceeds the memory this machine has free (CPU runs only)."""
    check_fits(estimate_bytes(cfg, prompt_len, response_len, vocab),
               f"this config (model.d_model={cfg.model.d_model}, model.n_layer={cfg.model.n_layer}, batches of up "
               f"to {max(cfg.pretrain.batch_size, cfg.eval.batch_size)} rows)", "lower the model size or the batch sizes")


def check_fits(need: float, what: str, remedy: str) -> None:
    """ConfigError, before anything is allocated, when `need` bytes exceed the memory free now.
    Every command that takes a size calls this with its own estimate."""
    have = available_bytes()
    if have is not None and need > have:
        gib = 2**30
        raise ConfigError(f"{what} needs about {need / gib:,.1f} GiB and the machine has {have / gib:.1f} GiB "
                          f"free; {remedy}")

"""The next-token-prediction loss on demonstrations (NTP pre-training, the NTP-only arm, STaR)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cotmix.model.buckets import length_buckets
from cotmix.tasks import Batch, Task
from cotmix.tasks.base import response_lengths


def ntp_loss(model, task: Task, batch: Batch, loss_on_prompt: bool = False) -> torch.Tensor:
    """Mean cross-entropy of the response tokens (EOS included, PAD excluded) given everything
    before them; with loss_on_prompt the prompt tokens after the first count too. Rows run in
    groups of equal length, each cut to that length (see cotmix.model.buckets): the PAD after a
    short answer carries no loss and is never computed."""
    sequences = batch.sequences()  # (batch, prompt_len + response_len)
    used = task.prompt_len + response_lengths(batch.responses, task.eos_id)  # real tokens per row
    total, count = 0.0, 0
    for rows in length_buckets(used):
        seq = sequences[rows, : int(used[rows].max())]
        logits = model(seq[:, :-1])
        targets = seq[:, 1:].clone()
        targets[targets == task.pad_id] = -100
        if not loss_on_prompt:
            targets[:, : task.prompt_len - 1] = -100
        total = total + F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                        ignore_index=-100, reduction="sum")
        count += int((targets != -100).sum())
    return total / max(count, 1)

"""Run a causal model on right-padded rows without computing their padding.

A parity batch at p_cot = 0.25 is three quarters short answers (prompt + 2 tokens) padded
to the long length (prompt + d + 1): about half of its positions are PAD. Under causal
attention the padding after a row's last real token changes nothing before it, so rows
of similar length can be run together, each group cut to its own longest row. The
results are the same (up to float summation order) and the padded positions cost nothing.
"""

from __future__ import annotations

import torch


def length_buckets(lengths: torch.Tensor, max_buckets: int = 4) -> list[torch.Tensor]:
    """Row indices grouped by length: lengths (rows,) long -> index tensors covering every row once.

    One group per distinct length when there are at most `max_buckets` of them (parity has
    two: short and long); otherwise the rows sorted by length, cut into `max_buckets` equal
    chunks, so a batch never turns into many tiny forward passes."""
    distinct = lengths.unique()
    if len(distinct) <= max_buckets:
        return [(lengths == n).nonzero().squeeze(1) for n in distinct]
    return list(lengths.argsort(stable=True).chunk(max_buckets))

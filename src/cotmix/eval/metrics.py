"""The evaluation vocabulary shared by the parity/multiplication core and the LLM path.

Both score greedy responses and sampled responses to held-out prompts and report the same names:

    n_prompts                                       prompts evaluated
    greedy_accuracy, greedy_long_fraction           greedy decoding (temperature 0)
    greedy_length_median, greedy_length_mean        its response lengths, tokens including EOS
    sampled_accuracy, sampled_length_mean           sampled decoding (eval temperature), all samples
    long_fraction, short_fraction, malformed_fraction   shapes of the sampled responses (Kind)
    long_accuracy, short_accuracy                   accuracy among sampled long / short responses
    pass@k                                          unbiased pass@k from n samples per prompt

Every accuracy or fraction NAME comes with NAME_ci95, its 95% Wilson interval, and NAME_n where it
was measured on something other than the prompts (samples of one shape, tokens).
"""

from __future__ import annotations

import math

import torch

from cotmix.eval.stats import wilson
from cotmix.tasks.base import LONG, MALFORMED, SHORT


def mean(x: torch.Tensor) -> float | None:
    return float(x.float().mean()) if x.numel() else None


def fraction(name: str, hits: torch.Tensor, with_n: bool = False) -> dict:
    """{name: share of True in hits, name_ci95: its Wilson interval} (and name_n: hits.numel())."""
    out = {name: mean(hits), f"{name}_ci95": wilson(float(hits.sum()), hits.numel())}
    return out | ({f"{name}_n": hits.numel()} if with_n else {})


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one prompt (Chen et al. 2021): 1 - C(n-c, k) / C(n, k) for c correct of n."""
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_at_k_metrics(correct_per_prompt: list[int], n: int, ks) -> dict:
    """Mean pass@k over prompts for each k <= n. The interval is Wilson's over the prompts: each
    prompt's estimate lies in [0, 1], so its variance is at most that of a coin with the same mean,
    and the interval is, if anything, too wide."""
    out = {}
    for k in (k for k in ks if k <= n):
        per_prompt = [pass_at_k(n, c, k) for c in correct_per_prompt]
        out |= {f"pass@{k}": sum(per_prompt) / len(per_prompt),
                f"pass@{k}_ci95": wilson(sum(per_prompt), len(per_prompt))}
    return out


def response_metrics(greedy_correct: torch.Tensor, greedy_lengths: torch.Tensor, greedy_kinds: torch.Tensor,
                     correct: torch.Tensor, lengths: torch.Tensor, kinds: torch.Tensor) -> dict:
    """The shared metrics. greedy_*: (prompts,) one greedy response per prompt; correct, lengths,
    kinds: (samples,) the sampled responses; correct is bool, kinds hold Kind values."""
    metrics = {"n_prompts": len(greedy_correct), **fraction("greedy_accuracy", greedy_correct),
               "greedy_length_median": float(greedy_lengths.float().quantile(0.5)),
               "greedy_length_mean": mean(greedy_lengths), **fraction("greedy_long_fraction", greedy_kinds == LONG)}
    if len(correct):
        metrics |= {**fraction("sampled_accuracy", correct),
                    **fraction("long_fraction", kinds == LONG),
                    **fraction("short_fraction", kinds == SHORT),
                    **fraction("malformed_fraction", kinds == MALFORMED),
                    **fraction("long_accuracy", correct[kinds == LONG], with_n=True),
                    **fraction("short_accuracy", correct[kinds == SHORT], with_n=True),
                    "sampled_length_mean": mean(lengths)}
    return metrics

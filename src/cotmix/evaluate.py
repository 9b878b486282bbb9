"""Evaluation on fresh held-out prompts: accuracy, length and the long/short mixture.

Every run draws the same held-out prompts (`eval.seed`), so numbers compare across runs.
Accuracy is end-to-end: the last token before EOS equals the answer. Lengths count
response tokens including EOS (short parity answer = 2, long = d+1). The README lists
each metric.
"""

from __future__ import annotations

import math

import torch

from cotmix.config import EvalConfig
from cotmix.device import model_device
from cotmix.sampler import generate
from cotmix.tasks import LONG, MALFORMED, SHORT, Task

PASS_K = (1, 2, 4, 8)


def _mean(x: torch.Tensor):
    return float(x.float().mean()) if x.numel() else None


def pass_at_k(n: int, c: torch.Tensor, k: int) -> torch.Tensor:
    """Unbiased pass@k per prompt (Chen et al. 2021): 1 - C(n-c, k) / C(n, k); c is (prompts,)."""
    c = c.long().tolist()
    out = [1.0 if n - ci < k else 1.0 - math.comb(n - ci, k) / math.comb(n, k) for ci in c]
    return torch.tensor(out)


def _decode_in_chunks(model, task: Task, prompts, batch_size: int, group_size: int = 1, **kwargs):
    """generate() over chunks of prompts; returns (tokens, lengths) for all rows."""
    tokens, lengths = [], []
    for chunk in prompts.split(batch_size):
        gen = generate(model, chunk, group_size=group_size, max_new_tokens=task.long_response_len,
                       eos_id=task.eos_id, pad_id=task.pad_id, **kwargs)
        tokens.append(gen.tokens)
        lengths.append(gen.lengths)
    return torch.cat(tokens), torch.cat(lengths)


# A chain position counts as learnt when it is right this often, teacher-forced, over 512 long
# demonstrations: a position at chance scores 0.5 +- 0.022 (binomial sd), one learnt about 1.0.
LEARNT = 0.95


@torch.no_grad()
def chain_token_metrics(model, task: Task, batch) -> dict:
    """Teacher-forced accuracy on the chain steps of long demonstrations: at each chain position
    (after the first, before EOS) the model's most likely token other than EOS must be the right
    one. EOS is left out on purpose: whether to stop is the long-vs-short choice, measured by the
    other metrics; these ask only whether the chain itself is learnt.

    chain_token_accuracy: over all chain tokens. chain_positions_learnt: the fraction of chain
    positions right at least LEARNT of the time. Positions are learnt one at a time, each
    abruptly, so this says how far along the chain is when the accuracy sits in between.
    first_token_long_prob: the probability of the long answer's first token (x_1 for parity) as
    the first response token; (1 + p_cot) / 2 for a calibrated NTP model (paper §2).
    first_token_long_greedy: the fraction of prompts where it is the most likely first token.
    Greedy decoding can take the long path only there, however sure the model is to continue.
    chain_token_accuracy_NAME: the same accuracy on the task's named kinds of chain step (parity:
    after_0, the steps that copy, and after_1, the steps that flip)."""
    mask = task.chain_token_mask(batch)  # (rows, response_len) bool, on the CPU where the task's code runs
    kinds = task.chain_step_kinds(batch)  # name -> a (rows, response_len) part of mask
    batch = batch.to(model_device(model))
    sequences = batch.sequences()
    logits = model(sequences[:, :-1])[:, task.prompt_len - 1 :]  # predictions of the response tokens
    first = logits[:, 0].softmax(dim=-1).cpu()  # (rows, vocab): the first response token, before EOS is masked
    first_long = batch.responses[:, :1].cpu()
    predicted = logits.index_fill_(-1, torch.tensor([task.eos_id], device=logits.device),
                                   float("-inf")).argmax(dim=-1)
    hits = (predicted == batch.responses).cpu() & mask
    counted = mask.sum(dim=0)
    per_position = hits.sum(dim=0)[counted > 0] / counted[counted > 0]
    return {"chain_token_accuracy": _mean(hits[mask]), "chain_positions_learnt": _mean(per_position >= LEARNT),
            "first_token_long_prob": _mean(first.gather(1, first_long)),
            "first_token_long_greedy": _mean(first.argmax(dim=-1, keepdim=True) == first_long),
            **{f"chain_token_accuracy_{name}": _mean(hits[part]) for name, part in kinds.items()}}


@torch.no_grad()
def evaluate(model, task: Task, cfg: EvalConfig, with_pass_k: bool = False) -> dict:
    """All evaluation metrics of `model` on cfg.n_prompts held-out prompts."""
    data_gen = torch.Generator().manual_seed(cfg.seed)
    sample_gen = torch.Generator().manual_seed(cfg.seed + 1)
    device = model_device(model)
    prompts = task.sample(cfg.n_prompts, data_gen).prompts.to(device)

    greedy, greedy_len = _decode_in_chunks(model, task, prompts, cfg.batch_size, temperature=0.0)
    sampled, sampled_len = _decode_in_chunks(model, task, prompts, cfg.batch_size,
                                             temperature=cfg.temperature, generator=sample_gen)
    prompts, greedy, sampled = prompts.cpu(), greedy.cpu(), sampled.cpu()
    greedy_kind = task.classify(prompts, greedy)
    kind = task.classify(prompts, sampled)
    correct = task.answer_correct(prompts, sampled)
    metrics = {
        "greedy_accuracy": _mean(task.answer_correct(prompts, greedy)),
        "greedy_length_median": float(greedy_len.float().quantile(0.5)),
        "greedy_long_fraction": _mean(greedy_kind == LONG),
        "sampled_accuracy": _mean(correct),
        "long_fraction": _mean(kind == LONG),
        "short_fraction": _mean(kind == SHORT),
        "malformed_fraction": _mean(kind == MALFORMED),
        "long_accuracy": _mean(correct[kind == LONG]),
        "short_accuracy": _mean(correct[kind == SHORT]),
        "sampled_length_mean": _mean(sampled_len),
    }
    long_batch = task.sample(min(cfg.n_prompts, 512), data_gen, p_cot=1.0)
    metrics.update(chain_token_metrics(model, task, long_batch))
    if with_pass_k:
        metrics.update(pass_at_k_metrics(model, task, cfg, sample_gen))
    return metrics


@torch.no_grad()
def pass_at_k_metrics(model, task: Task, cfg: EvalConfig, generator: torch.Generator) -> dict:
    """Unbiased pass@k for k in PASS_K from max(PASS_K) samples per prompt (end-to-end correctness)."""
    n = max(PASS_K)
    data_gen = torch.Generator().manual_seed(cfg.seed + 2)
    device = model_device(model)
    prompts = task.sample(cfg.pass_k_prompts, data_gen).prompts.to(device)
    tokens, _ = _decode_in_chunks(model, task, prompts, max(1, cfg.batch_size // n), group_size=n,
                                  temperature=cfg.temperature, generator=generator)
    correct = task.answer_correct(prompts.cpu().repeat_interleave(n, dim=0), tokens.cpu())
    per_prompt = correct.view(-1, n).sum(dim=1)
    return {f"pass@{k}": float(pass_at_k(n, per_prompt, k).mean()) for k in PASS_K}

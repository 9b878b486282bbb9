"""Evaluation on held-out prompts: accuracy, length and the long/short mixture, each with its interval.

The prompts are the task's held-out inputs (cotmix.tasks.heldout), never a training input, and the
same for every run of a config (`eval.seed`), so numbers compare across runs. Accuracy is
end-to-end: the last token before EOS equals the answer. Lengths count response tokens including
EOS (short parity answer = 2, long = d+1). The names are the shared vocabulary of cotmix.eval.metrics,
plus teacher-forced chain metrics; docs/reference.md lists each.
"""

from __future__ import annotations

import torch

from cotmix.config import EvalConfig
from cotmix.eval.metrics import fraction, mean, pass_at_k_metrics, response_metrics
from cotmix.model.device import model_device
from cotmix.model.sampler import generate
from cotmix.registry import STOP_RULES
from cotmix.rng import seeded_generator
from cotmix.tasks import Task

PASS_K = (1, 2, 4, 8)


def _decode_in_chunks(model, task: Task, prompts, batch_size: int, group_size: int = 1, **kwargs):
    """generate() over chunks of prompts; returns (tokens, lengths) for all rows."""
    tokens, lengths = [], []
    for chunk in prompts.split(batch_size):
        gen = generate(model, chunk, group_size=group_size, max_new_tokens=task.long_response_len,
                       eos_id=task.eos_id, pad_id=task.pad_id, **kwargs)
        tokens.append(gen.tokens)
        lengths.append(gen.lengths)
    return torch.cat(tokens), torch.cat(lengths)


# The pre-training stopping rule's bar, and the RL preflight's: held-out long answers whose whole
# chain greedy decoding gets right. RL amplifies the long answers as they are, and every step
# compounds: a chain right 0.99 of the time needs each of d = 20 tokens right about 0.9995.
CHAIN_LEARNT = 0.99
GREEDY_LEARNT = 0.99  # greedy decoding counts as generalising from here (the resource-gap study's bar)
# Stopping rules by name (pretrain.stop_when, posttrain.stop_when; cotmix.registry): the metric an
# evaluation must bring to its bar. `none` never stops; yours: STOP_RULES.register("x", (metric, bar)).
STOP_RULES.register("chain_learnt", ("chain_exact_accuracy", CHAIN_LEARNT))
STOP_RULES.register("greedy_learnt", ("greedy_accuracy", GREEDY_LEARNT))


def rule_met(rule: str, metrics: dict) -> bool:
    """Whether an evaluation meets the stopping rule `rule` ("none" never does)."""
    if rule == "none":
        return False
    key, bar = STOP_RULES[rule]
    return metrics.get(key) is not None and metrics[key] >= bar

# A chain position counts as learnt when it is right this often, teacher-forced, over the held-out
# prompts: at 512 prompts a position at chance scores 0.5 +- 0.022 (binomial sd), one learnt about 1.0.
LEARNT = 0.95


def parting_points(task: Task, prompts: torch.Tensor, long_responses: torch.Tensor):
    """Where each prompt's long and short demonstrations first differ: (position, long token, short
    token), each (rows,). The prefix before it is the same in both, so a model teacher-forced on the
    long answer sees there exactly what greedy decoding sees when it has to choose. Parity: x_1
    against the parity where they differ, else the second chain token against EOS; 3x3
    multiplication: the second answer digit, or a later one where P_0's and the product's agree."""
    short = task.short_demonstrations(prompts).responses
    width = max(long_responses.shape[1], short.shape[1])
    long_responses, short = (torch.nn.functional.pad(r, (0, width - r.shape[1]), value=task.pad_id)
                             for r in (long_responses, short))
    at = (long_responses != short).int().argmax(dim=1)  # the first difference (a long answer is longer)
    rows = torch.arange(len(at))
    return at, long_responses[rows, at], short[rows, at]


@torch.no_grad()
def chain_token_metrics(model, task: Task, batch) -> dict:
    """Teacher-forced metrics on the correct long demonstrations of `batch`'s prompts.

    chain_token_accuracy: at each chain position (after the first, before EOS) the model's most
    likely token other than EOS is the right one. EOS is left out on purpose: whether to stop is
    the long-vs-short choice, measured by the other metrics; these ask only whether the chain itself
    is learnt. chain_exact_accuracy: the share of prompts whose every chain token is right, which is
    the share whose chain greedy decoding writes correctly once it takes the long path (each
    argmax then sees the right prefix): the pre-training stopping rule reads it.
    chain_positions_learnt: the share of chain positions right at least LEARNT of the time.
    Positions are learnt one at a time, each abruptly, so this says how far along the chain is.
    first_token_long_prob: the probability of the long answer's first token (x_1 for parity) as the
    first response token; (1 + p_cot) / 2 for a calibrated NTP model (paper §2).
    first_token_long_greedy: the share of prompts where it is the most likely first token.
    decision_*: the next-token distribution where long and short answers part (parity: after
    y_1 = x_1), given the long prefix. decision_eos_prob is P(EOS), (1-p)/(1+p) when calibrated;
    decision_chain_prob is P(the right next chain token). decision_theory_continue is the share
    of prompts with P(not EOS) > P(EOS), the theory's stop-or-continue rule (threshold p_cot = 1/3);
    decision_greedy_continue the share where the argmax over all tokens is not EOS, what greedy
    decoding does: while c_2 is unlearnt the continue mass splits between 0 and 1 and greedy needs
    p_cot > 1/2. chain_token_accuracy_NAME: the accuracy on the task's named kinds of chain step
    (parity: after_0, the steps that copy, and after_1, the steps that flip).
    parting_*: the same question asked of any task, prompt by prompt, at the first token where the
    prompt's long and short demonstrations differ (`parting_points`): parting_long_prob and
    parting_short_prob are the model's probabilities of the long and of the short token there,
    parting_greedy_long the share of prompts where the long token is the most likely one. For
    multiplication that token is a digit (P_0's against the product's), where a calibrated model
    that knows the product's digit puts about p_cot on the long one."""
    mask = task.chain_token_mask(batch)  # (rows, response_len) bool, on the CPU where the task's code runs
    kinds = task.chain_step_kinds(batch)  # name -> a (rows, response_len) part of mask
    batch = batch.to(model_device(model))
    sequences = batch.sequences()
    logits = model(sequences[:, :-1])[:, task.prompt_len - 1 :].float()  # predictions of the response tokens
    probs = logits.softmax(dim=-1).cpu()  # (rows, response_len, vocab)
    responses = batch.responses.cpu()
    first, first_long = probs[:, 0], responses[:, :1]
    at = task.decision_position
    decision, right_next = probs[:, at], responses[:, at : at + 1]
    eos = decision[:, task.eos_id]
    predicted = logits.index_fill_(-1, torch.tensor([task.eos_id], device=logits.device),
                                   float("-inf")).argmax(dim=-1).cpu()
    at, long_token, short_token = parting_points(task, batch.prompts.cpu(), responses)
    parting = probs[torch.arange(len(at)), at]  # (rows, vocab) where the two answers part
    hits = (predicted == responses) & mask
    counted = mask.sum(dim=0)
    per_position = hits.sum(dim=0)[counted > 0] / counted[counted > 0]
    return {**fraction("chain_token_accuracy", hits[mask], with_n=True),
            **fraction("chain_exact_accuracy", (hits | ~mask).all(dim=1)),
            **fraction("chain_positions_learnt", per_position >= LEARNT, with_n=True),
            "first_token_long_prob": mean(first.gather(1, first_long)),
            **fraction("first_token_long_greedy", first.argmax(dim=-1, keepdim=True).squeeze(1) == first_long[:, 0]),
            "decision_eos_prob": mean(eos), "decision_chain_prob": mean(decision.gather(1, right_next)),
            **fraction("decision_theory_continue", 1 - eos > eos),
            **fraction("decision_greedy_continue", decision.argmax(dim=-1) != task.eos_id),
            "parting_long_prob": mean(parting.gather(1, long_token[:, None])),
            "parting_short_prob": mean(parting.gather(1, short_token[:, None])),
            **fraction("parting_greedy_long", parting.argmax(dim=-1) == long_token),
            **{k: v for name, part in kinds.items()
               for k, v in fraction(f"chain_token_accuracy_{name}", hits[part], with_n=True).items()}}


@torch.no_grad()
def evaluate(model, task: Task, cfg: EvalConfig, with_pass_k: bool = False, split: str = "test",
             run_seed: int | None = None) -> dict:
    """All evaluation metrics of `model` on (up to) cfg.n_prompts test prompts, or on
    cfg.validation_prompts validation prompts (split="validation": what decisions read). The
    prompts depend on cfg.seed alone, so runs compare on the same ones; the sampled decoding draws
    also on `run_seed`, so that seeds differ in sampling noise too (None: on cfg.seed alone)."""
    sample_gen = (torch.Generator().manual_seed(cfg.seed + 1) if run_seed is None
                  else seeded_generator(run_seed, f"eval/{cfg.seed}/{split}"))
    device = model_device(model)
    n = cfg.n_prompts if split == "test" else cfg.validation_prompts
    prompts = task.heldout_prompts(n, cfg.seed, split)
    greedy, greedy_len = _decode_in_chunks(model, task, prompts.to(device), cfg.batch_size, temperature=0.0)
    sampled, sampled_len = _decode_in_chunks(model, task, prompts.to(device), cfg.batch_size,
                                             temperature=cfg.temperature, generator=sample_gen)
    greedy, sampled = greedy.cpu(), sampled.cpu()
    metrics = response_metrics(task.answer_correct(prompts, greedy), greedy_len.cpu(), task.classify(prompts, greedy),
                               task.answer_correct(prompts, sampled), sampled_len.cpu(),
                               task.classify(prompts, sampled))
    metrics.update(chain_token_metrics(model, task, task.long_demonstrations(prompts)))
    if with_pass_k:
        metrics.update(sampled_pass_at_k(model, task, cfg, sample_gen, split))
    return metrics


@torch.no_grad()
def sampled_pass_at_k(model, task: Task, cfg: EvalConfig, generator: torch.Generator, split: str = "test") -> dict:
    """Unbiased pass@k for k in PASS_K from max(PASS_K) samples per prompt (end-to-end correctness)
    on cfg.pass_k_prompts prompts of `split`."""
    n = max(PASS_K)
    device = model_device(model)
    prompts = task.heldout_prompts(cfg.pass_k_prompts, cfg.seed + 2, split).to(device)
    tokens, _ = _decode_in_chunks(model, task, prompts, max(1, cfg.batch_size // n), group_size=n,
                                  temperature=cfg.temperature, generator=generator)
    correct = task.answer_correct(prompts.cpu().repeat_interleave(n, dim=0), tokens.cpu())
    return pass_at_k_metrics(correct.view(-1, n).sum(dim=1).tolist(), n, PASS_K)

"""Evaluate a causal LM on held-out problems: accuracy, response length, long fraction, pass@k.

Greedy decoding gives `greedy_accuracy` and `greedy_length_mean`; `k` sampled responses per
problem (temperature `temperature`) give `accuracy` (= mean over samples, pass@1), the long /
short / malformed fractions (definitions in `cotmix.llm.answers`) and unbiased pass@k.
Lengths are in tokens, up to and including EOS.
"""

from __future__ import annotations

import math

import torch
from tqdm import tqdm

from cotmix.llm.answers import LONG, MALFORMED, SHORT, classify, is_correct


def _pass_at_k(n: int, c: int, k: int) -> float:
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


@torch.no_grad()
def generate_responses(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 16,
                       num_samples: int = 1, temperature: float = 0.0, seed: int = 0,
                       progress: bool = True) -> tuple[list[str], list[int]]:
    """(texts, token lengths) for each prompt x sample, prompt-major. temperature 0 = greedy."""
    torch.manual_seed(seed)
    texts, lengths = [], []
    model.eval()
    eos = tokenizer.eos_token_id
    bar = tqdm(total=len(prompts), desc="generate", disable=not progress, leave=False)
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
        sampling = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if temperature > 0 else \
            dict(do_sample=False, temperature=None, top_k=None, top_p=None)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, num_return_sequences=num_samples,
                             eos_token_id=eos, pad_token_id=tokenizer.pad_token_id, **sampling)
        new = out[:, enc["input_ids"].shape[1] :]
        for row in new:
            ends = (row == eos).nonzero()
            n = int(ends[0]) + 1 if len(ends) else len(row)
            lengths.append(n)
            texts.append(tokenizer.decode(row[:n], skip_special_tokens=True))
        bar.update(len(chunk))
    bar.close()
    return texts, lengths


def evaluate_llm(model, tokenizer, problems: list[dict], max_new_tokens: int = 256, k: int = 4,
                 temperature: float = 1.0, batch_size: int = 16, seed: int = 0, progress: bool = True) -> dict:
    """Metrics over `problems` (rows with `prompt`, `answer`, `format`)."""
    prompts = [p["prompt"] for p in problems]
    greedy, greedy_len = generate_responses(model, tokenizer, prompts, max_new_tokens, batch_size, 1, 0.0, seed,
                                            progress)
    metrics = {
        "n_problems": len(problems),
        "greedy_accuracy": sum(is_correct(t, p["answer"], p["format"]) for t, p in zip(greedy, problems)) / len(problems),
        "greedy_length_mean": sum(greedy_len) / len(greedy_len),
        "greedy_long_fraction": sum(classify(t) == LONG for t in greedy) / len(greedy),
    }
    if k > 0:
        sampled, lengths = generate_responses(model, tokenizer, prompts, max_new_tokens, max(1, batch_size // k), k,
                                              temperature, seed + 1, progress)
        kinds = [classify(t) for t in sampled]
        correct = [is_correct(t, problems[i // k]["answer"], problems[i // k]["format"]) for i, t in enumerate(sampled)]
        per_problem = [sum(correct[i * k : (i + 1) * k]) for i in range(len(problems))]
        metrics |= {
            "accuracy": sum(correct) / len(correct),
            "completions/mean_length": sum(lengths) / len(lengths),
            "long_fraction": kinds.count(LONG) / len(kinds),
            "short_fraction": kinds.count(SHORT) / len(kinds),
            "malformed_fraction": kinds.count(MALFORMED) / len(kinds),
            "long_accuracy": _conditional(correct, kinds, LONG),
            "short_accuracy": _conditional(correct, kinds, SHORT),
        }
        for j in sorted({1, 2, k} & set(range(1, k + 1))):
            metrics[f"pass@{j}"] = sum(_pass_at_k(k, c, j) for c in per_problem) / len(problems)
    return metrics


def _conditional(correct: list[bool], kinds: list[str], kind: str) -> float | None:
    picked = [c for c, kd in zip(correct, kinds) if kd == kind]
    return sum(picked) / len(picked) if picked else None

"""Evaluate a causal LM on held-out problems, in the same vocabulary as the core (cotmix.eval.metrics).

Greedy decoding gives `greedy_accuracy` and the greedy lengths; `k` sampled responses per problem
(temperature `temperature`) give `sampled_accuracy` (pass@1), the long / short / malformed fractions
(definitions in `cotmix.llm.answers`) and unbiased pass@k, each with its interval. Lengths are in
tokens, up to and including EOS.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from cotmix.errors import CotmixError
from cotmix.eval.metrics import pass_at_k_metrics, response_metrics
from cotmix.llm.answers import classify, is_correct
from cotmix.llm.options import EvalOptions


def check_fits_context(model, tokenizer, prompts: list[str], max_new_tokens: int) -> None:
    """CotmixError unless every prompt plus max_new_tokens fits the model's positions and every
    token id fits its vocabulary (a cotmix parity model exported by `cotmix export` reads 13
    positions and 4 tokens, not a GSM8K problem)."""
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    vocab = model.get_input_embeddings().num_embeddings
    ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    longest = max((len(x) for x in ids), default=0)
    if limit and longest + max_new_tokens > limit:
        raise CotmixError(f"the model reads at most {limit} positions; the longest prompt is {longest} tokens and "
                          f"--max-new-tokens is {max_new_tokens} (a smaller --max-new-tokens, or a model made for "
                          "these problems)")
    if any(t is None or t >= vocab for x in ids for t in x):
        raise CotmixError(f"the tokenizer gives ids outside the model's {vocab}-token vocabulary; not a model for "
                          "these problems")


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
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
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


def evaluate_llm(model, tokenizer, problems: list[dict], opts: EvalOptions, progress: bool = True) -> dict:
    """The shared metrics (cotmix.eval.metrics) over `problems` (rows with `prompt`, `answer`, `format`):
    one greedy response and opts.k sampled responses per problem. On a GPU when there is one (the
    model is moved there)."""
    if torch.cuda.is_available():
        model.to("cuda")
    prompts = [p["prompt"] for p in problems]
    check_fits_context(model, tokenizer, prompts, opts.max_new_tokens)

    def score(texts: list[str], per_problem: int):
        rows = [problems[i // per_problem] for i in range(len(texts))]
        correct = torch.tensor([is_correct(t, r["answer"], r["format"]) for t, r in zip(texts, rows)], dtype=torch.bool)
        return correct, torch.tensor([int(classify(t)) for t in texts], dtype=torch.long).view(-1)

    greedy, greedy_len = generate_responses(model, tokenizer, prompts, opts.max_new_tokens, opts.batch_size, 1, 0.0,
                                            opts.seed, progress)
    sampled, lengths = [], []
    if opts.k > 0:
        sampled, lengths = generate_responses(model, tokenizer, prompts, opts.max_new_tokens,
                                              max(1, opts.batch_size // opts.k), opts.k, opts.temperature,
                                              opts.seed + 1, progress)
    greedy_correct, greedy_kinds = score(greedy, 1)
    correct, kinds = score(sampled, max(1, opts.k))
    metrics = response_metrics(greedy_correct, torch.tensor(greedy_len), greedy_kinds,
                               correct, torch.tensor(lengths, dtype=torch.long), kinds)
    if opts.k > 0:
        metrics |= pass_at_k_metrics(correct.view(-1, opts.k).sum(dim=1).tolist(), opts.k, (1, 2, opts.k))
    return metrics

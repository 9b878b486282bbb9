"""Chain and first-token metrics on a model that knows some chain positions and not others."""

import pytest
import torch

from cotmix.config import load_config
from cotmix.eval.evaluate import chain_token_metrics, parting_points
from cotmix.tasks import make_task


class PartialOracle(torch.nn.Module):
    """Parity logits that are right at the chain positions in `known` (response indices) and
    always say 0 elsewhere, so the unknown positions are right half of the time."""

    def __init__(self, task, known: set[int]):
        super().__init__()
        self.task, self.known = task, known
        self.unused = torch.nn.Parameter(torch.zeros(1))  # gives the model a device

    def forward(self, idx):  # (rows, seq) -> (rows, seq, vocab)
        bits = idx[:, : self.task.d]
        prefix_parity = bits.cumsum(dim=1) % 2  # c_1 ... c_d
        logits = torch.zeros(*idx.shape, 5)
        logits[..., 0] = 1.0
        for j in self.known:  # response token j (c_{j+1}) is predicted at position prompt_len - 1 + j
            logits[:, self.task.prompt_len - 1 + j] = 0.0
            logits[torch.arange(len(idx)), self.task.prompt_len - 1 + j, prefix_parity[:, j]] = 1.0
        return logits


def test_chain_positions_learnt_counts_the_positions_the_model_knows():
    task = make_task(load_config(overrides=["task.d=6"]).task)
    batch = task.sample(512, torch.Generator().manual_seed(0), p_cot=1.0)
    metrics = chain_token_metrics(PartialOracle(task, known={1, 2, 3}), task, batch)
    # The chain positions are responses 1..5 (the first is x_1 itself); 3 of those 5 are known.
    assert metrics["chain_positions_learnt"] == pytest.approx(3 / 5)
    # Known positions score 1, the others a fair coin over 512 rows each: mean 0.5, sd 0.022.
    assert metrics["chain_token_accuracy"] == pytest.approx((3 + 2 * 0.5) / 5, abs=4 * 0.022 * 2 / 5)
    # Position 0 unknown: the first token is always 0, so it is x_1 exactly where x_1 = 0.
    x1_is_zero = (batch.responses[:, 0] == 0).float()
    assert metrics["first_token_long_greedy"] == pytest.approx(float(x1_is_zero.mean()))
    e = torch.e
    assert metrics["first_token_long_prob"] == pytest.approx(float(x1_is_zero.mean() * e / (e + 4)
                                                                   + (1 - x1_is_zero.mean()) / (e + 4)))
    knows_all = chain_token_metrics(PartialOracle(task, known=set(range(6))), task, batch)
    assert knows_all["chain_token_accuracy"] == knows_all["chain_positions_learnt"] == 1.0
    assert knows_all["first_token_long_greedy"] == 1.0
    assert knows_all["first_token_long_prob"] == pytest.approx(float(e / (e + 4)))  # logit 1 against 4 zeros


class Copier(torch.nn.Module):
    """Writes x_{j+1} as chain token j: right wherever the previous prefix parity is 0 (the step
    copies the bit) and wrong wherever it is 1 (the step must flip it)."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):  # (rows, seq) -> (rows, seq, vocab)
        d, start = self.task.d, self.task.prompt_len - 1
        logits = torch.zeros(*idx.shape, 5)
        rows = torch.arange(len(idx))[:, None]
        logits[rows, start + torch.arange(d)[None, :], idx[:, :d]] = 1.0
        return logits


def test_chain_accuracy_is_split_into_steps_that_copy_and_steps_that_flip():
    task = make_task(load_config(overrides=["task.d=8"]).task)
    batch = task.sample(256, torch.Generator().manual_seed(0), p_cot=1.0)
    metrics = chain_token_metrics(Copier(task), task, batch)
    assert metrics["chain_token_accuracy_after_0"] == 1.0
    assert metrics["chain_token_accuracy_after_1"] == 0.0
    # The overall accuracy is the share of steps after a 0: c_1..c_7 precede the 7 scored steps.
    after_0 = float((batch.responses[:, : task.d - 1] == 0).float().mean())
    assert metrics["chain_token_accuracy"] == pytest.approx(after_0)
    oracle = chain_token_metrics(PartialOracle(task, known=set(range(8))), task, batch)
    assert oracle["chain_token_accuracy_after_0"] == oracle["chain_token_accuracy_after_1"] == 1.0


def test_decision_split_script_agrees_with_the_greedy_decision_metric(calibrated):
    """scripts/decision_split.py splits greedy's stop-or-continue by the next chain token; summed
    over the split it is the eval's decision_greedy_continue on all the held-out prompts."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from cotmix.train.checkpoint import resolve_checkpoint

    cfg, metrics, run = calibrated
    script = Path(__file__).parents[1] / "scripts" / "decision_split.py"
    out = subprocess.run([sys.executable, str(script), str(resolve_checkpoint(run))], capture_output=True,
                         text=True, check=True).stdout
    found = re.search(r"greedy continues on ([\d.]+) of (\d+)", out)
    overall, n = float(found.group(1)), int(found.group(2))  # n: the held-out prompts, at most eval.n_prompts
    split = [(int(k), float(c)) for k, c in re.findall(r"next token \d: (\d+) prompts, .* continue ([\d.]+)", out)]
    assert len(split) == 2 and sum(k for k, _ in split) == n and 0 < n <= cfg.eval.n_prompts
    assert overall == pytest.approx(sum(k * c for k, c in split) / n, abs=1e-3)
    assert abs(overall - metrics["decision_greedy_continue"]) <= 1e-3  # 3-decimal printing


def test_parting_points_are_where_the_long_and_short_answers_first_differ():
    task = make_task(load_config(overrides=["task.name=multiplication"]).task)  # 2x2, w = 4
    prompts = task.prompts_of(torch.tensor([12, 10]), torch.tensor([34, 34]))
    at, long_token, short_token = parting_points(task, prompts, task.long_demonstrations(prompts).responses)
    # 12 * 34: long 8 4 0 0 ; ..., short 8 0 4 0 -> the second digit. 10 * 34: P_0 = 40 and the
    # product 340 agree on their second digit too (0 4 0 0 against 0 4 3 0) -> the third.
    assert at.tolist() == [1, 2] and long_token.tolist() == [4, 0] and short_token.tolist() == [0, 3]
    parity = make_task(load_config(overrides=["task.d=4"]).task)
    from cotmix.tasks.parity import SEP

    bits = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0]])  # parity 1 = x_1; parity 0 != x_1
    prompts = torch.cat([bits, torch.full((2, 1), SEP)], dim=1)
    at, long_token, short_token = parting_points(parity, prompts, parity.long_demonstrations(prompts).responses)
    assert at.tolist() == [1, 0] and short_token[0] == parity.eos_id and (long_token[1], short_token[1]) == (1, 0)


class ProductWriter(torch.nn.Module):
    """Multiplication logits that write the product's digits (the short answer) at each answer
    position, as a model that has learnt the product would, and nothing else."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):  # (rows, seq) -> (rows, seq, vocab)
        from cotmix.tasks.multiplication import digits_lsb_first

        a, b = self.task.operands(idx[:, : self.task.prompt_len])
        product = digits_lsb_first(a * b, self.task.width)
        logits = torch.zeros(*idx.shape, self.task.vocab_size)
        rows = torch.arange(len(idx))[:, None]
        logits[rows, self.task.prompt_len - 1 + torch.arange(self.task.width)[None, :], product] = 1.0
        return logits


def test_parting_metrics_read_the_models_choice_where_the_answers_part():
    task = make_task(load_config(overrides=["task.name=multiplication", "task.digits_a=3",
                                            "task.digits_b=3"]).task)
    prompts = task.heldout_prompts(256, 0)
    metrics = chain_token_metrics(ProductWriter(task), task, task.long_demonstrations(prompts))
    e, v = torch.e, task.vocab_size
    # The answers part at a digit (a 3-digit b >= 100 makes P_0 and the product differ), where the
    # product's digit has logit 1 against v - 1 zeros: the short token wins on every prompt.
    at, _, _ = parting_points(task, prompts, task.long_demonstrations(prompts).responses)
    assert (at < task.width).all() and (at >= 1).all()
    assert metrics["parting_greedy_long"] == 0.0
    assert metrics["parting_short_prob"] == pytest.approx(e / (e + v - 1))
    assert metrics["parting_long_prob"] == pytest.approx(1 / (e + v - 1))

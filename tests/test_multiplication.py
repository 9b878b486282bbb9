"""The multiplication task: the docstring example, layouts, rewards and the classifier."""

import math

import pytest
import torch

from cotmix.config import load_config
from cotmix.tasks import LONG, MALFORMED, SHORT, MultiplicationTask, make_task
from cotmix.tasks.multiplication import EOS, EQUALS, PAD, STEP, TIMES


def t(*tokens):
    return torch.tensor([tokens])


TASK = MultiplicationTask(2, 2, 0.5)
PROMPT = t(2, 1, TIMES, 4, 3, EQUALS)  # 12 * 34 = 408
LONG_ANSWER = (8, 4, 0, 0, STEP, 0, 6, 3, 0, STEP, 8, 0, 4, 0, EOS)
SHORT_ANSWER = (8, 0, 4, 0, EOS) + (PAD,) * 10


def test_docstring_example():
    assert TASK.chain_tokens(torch.tensor([12]), torch.tensor([34]))[0].tolist() == list(LONG_ANSWER[:-1])
    assert TASK.decode(PROMPT[0], t(*LONG_ANSWER)[0]) == ("21*43=", "8400;0630;8040<eos>")
    assert TASK.long_response_len == len(LONG_ANSWER)


def test_samples_are_correct_worked_products():
    batch = TASK.sample(500, torch.Generator().manual_seed(0))
    assert (TASK.classify(batch.prompts, batch.responses) == torch.where(batch.is_long, LONG, SHORT)).all()
    assert TASK.chain_correct(batch.prompts, batch.responses).all()
    assert TASK.answer_correct(batch.prompts, batch.responses).all()
    a, b = TASK.operands(batch.prompts)
    assert ((a >= 10) & (a < 100) & (b >= 10) & (b < 100)).all()


def test_three_digit_second_factor_has_two_running_sums():
    task = MultiplicationTask(2, 3, 1.0)
    chain = task.chain_tokens(torch.tensor([25]), torch.tensor([123]))[0].tolist()
    blocks = "".join(str(x) if x < 10 else ";" for x in chain).split(";")
    values = [int(block[::-1]) for block in blocks]
    assert values == [75, 500, 575, 2500, 3075] and values[-1] == 25 * 123


def test_rewards_and_classifier_on_hand_made_responses():
    cases = {  # response: (kind, e2e, chain)
        LONG_ANSWER: (LONG, True, True),
        (8, 4, 0, 0, STEP, 0, 6, 3, 1, STEP, 8, 0, 4, 0, EOS): (LONG, True, False),  # wrong step, right answer
        (8, 4, 0, 0, STEP, 0, 6, 3, 0, STEP, 8, 0, 4, 1, EOS): (LONG, False, False),
        SHORT_ANSWER: (SHORT, True, True),
        (8, 0, 4, 1, EOS) + (PAD,) * 10: (SHORT, False, False),
        (8, 0, 4, EOS) + (PAD,) * 11: (MALFORMED, False, False),
        (8, 0, 4, 0) + (PAD,) * 11: (MALFORMED, False, False),  # no EOS
        (8, 4, 0, 0, 0, 0, 6, 3, 0, STEP, 8, 0, 4, 0, EOS): (MALFORMED, True, False),  # digit where `;` belongs
    }
    for response, (kind, e2e, chain) in cases.items():
        r = t(*response)
        assert int(TASK.classify(PROMPT, r)) == kind, response
        assert bool(TASK.answer_correct(PROMPT, r)) == e2e, response
        assert bool(TASK.chain_correct(PROMPT, r)) == chain, response


def test_long_share_is_binomial_around_p_cot():
    n, p = 20000, 0.25
    batch = MultiplicationTask(2, 2, p).sample(n, torch.Generator().manual_seed(1))
    assert abs(batch.is_long.float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_config_selects_the_task():
    cfg = load_config(overrides=["task.name=multiplication", "task.digits_a=3", "task.digits_b=2"])
    task = make_task(cfg.task)
    assert isinstance(task, MultiplicationTask) and task.width == 5 and task.prompt_len == 7


@pytest.mark.slow
def test_runs_through_the_same_pipeline(tmp_path):
    """NTP, RL and the baseline run unchanged on multiplication (the task interface is enough)."""
    from conftest import TINY

    import cotmix

    parity_free = [o for o in TINY if not o.startswith("task.d=")]  # multiplication has no d
    cfg = load_config(overrides=parity_free + ["task.name=multiplication", "task.p_cot=0.5", "posttrain.steps=2"])
    summary = cotmix.run(cfg, tmp_path / "run", progress=False)
    assert {"pretrain", "posttrain", "baseline"} <= summary.keys()
    assert 0 <= summary["posttrain"]["eval"]["greedy_accuracy"] <= 1
    assert summary["pretrain"]["eval"]["chain_token_accuracy"] is not None


@pytest.mark.slow
def test_ntp_learns_the_worked_chain_of_held_out_pairs_but_not_the_product(tmp_path):
    """2x2 multiplication at p_cot = 0.5, 1500 NTP steps of a 2-layer width-64 model (about 90 s on
    one core): on held-out pairs the greedy worked chain is right end to end (Wilson lower end
    > 0.9) while short answers are almost never the product (upper end < 0.1). With the product
    unknown, calibration predicts that greedy takes the long path at any p_cot (docs/theory.md),
    and it does (lower end > 0.85). Three seeds gave chain 0.971-0.979, short 0.037-0.038, greedy
    long 0.936-0.975 here."""
    from cotmix.loops.pretrain import train_ntp
    from cotmix.rundir import read_summary

    cfg = load_config(overrides=["task.name=multiplication", "task.digits_a=2", "task.digits_b=2", "task.p_cot=0.5",
                                 "model.n_layer=2", "model.d_model=64", "pretrain.steps=1500",
                                 "pretrain.batch_size=128", "pretrain.lr=3e-3", "pretrain.stop_when=none",
                                 "pretrain.eval_interval=1500", "pretrain.ckpt_interval=1500",
                                 "pretrain.eval_early=false", "eval.n_prompts=512"])
    entry = train_ntp(cfg, tmp_path, progress=False)
    e = entry["eval"]
    assert e["chain_exact_accuracy_ci95"][0] > 0.9, e["chain_exact_accuracy"]
    assert e["short_accuracy_ci95"][1] < 0.1, e["short_accuracy"]
    assert e["greedy_long_fraction_ci95"][0] > 0.85, e["greedy_long_fraction"]
    heldout = read_summary(tmp_path)["heldout"]
    assert heldout["overlap_count"] == 0 and heldout["decision_test_overlap"] == 0

"""The digit-sum task (cotmix.tasks.digitsum): demonstrations are right, responses are judged by
format and value, the short answer carries no trace of any d - 1 digits, the held-out split holds,
and a small model never learns the short answer, greedy going long only above the predicted
threshold 1/11."""

import itertools

import pytest
import torch

from cotmix.config import load_config
from cotmix.tasks import LONG, MALFORMED, SHORT, DigitSumTask, make_task
from cotmix.tasks.digitsum import EOS, PAD, SEP
from cotmix.theory import closed_form as cf


def test_demonstrations_and_how_responses_are_judged():
    task = DigitSumTask(d=4, p_cot=0.5)
    prompts = torch.tensor([[3, 9, 4, 5, SEP]])  # running sums 3 2 6 1
    long, short = task.long_demonstrations(prompts), task.short_demonstrations(prompts)
    assert long.responses.tolist() == [[3, 2, 6, 1, EOS]] and short.responses.tolist() == [[1, EOS, PAD, PAD, PAD]]
    cases = {  # response -> (kind, final answer right, exactly a correct demonstration)
        (3, 2, 6, 1, EOS): (LONG, True, True), (1, EOS, PAD, PAD, PAD): (SHORT, True, True),
        (7, EOS, PAD, PAD, PAD): (SHORT, False, False), (3, 2, 5, 1, EOS): (LONG, True, False),
        (3, 2, 6, 1, 1): (MALFORMED, False, False), (3, SEP, EOS, PAD, PAD): (MALFORMED, False, False),
        (3, 1, EOS, PAD, PAD): (MALFORMED, True, False)}
    for response, (kind, right, exact) in cases.items():
        r = torch.tensor([response])
        assert int(task.classify(prompts, r)) == kind, response
        assert bool(task.answer_correct(prompts, r)) == right and bool(task.chain_correct(prompts, r)) == exact


def test_keys_round_trip_and_the_split_holds():
    for d in (3, 8, 20):
        task = DigitSumTask(d=d, p_cot=0.3).set_heldout(0.25, 1, 0.125)
        batch = task.sample(500, torch.Generator().manual_seed(d))
        keys = task.input_keys(batch.prompts)
        if d <= 18:
            assert torch.equal(task.prompts_at(keys), batch.prompts)
        test = set(task.input_keys(task.heldout_prompts(200, 0)).tolist())
        assert not task.partition.reserved(keys).any() and not test & set(keys.tolist())


def test_the_short_answer_says_nothing_about_it_from_any_d_minus_1_digits():
    """Enumerated at d = 3: given any two digits, the sum mod 10 is uniform over the ten values."""
    d = 3
    for fixed in itertools.combinations(range(d), d - 1):
        for values in itertools.product(range(10), repeat=d - 1):
            counts = [0] * 10
            for free in range(10):
                digits = [0] * d
                for i, v in zip(fixed, values):
                    digits[i] = v
                digits[next(i for i in range(d) if i not in fixed)] = free
                counts[sum(digits) % 10] += 1
            assert counts == [1] * 10


@pytest.mark.slow
@pytest.mark.parametrize("p_cot, goes_long", [(0.06, False), (0.25, True)])
def test_greedy_goes_long_only_above_one_eleventh_and_the_short_answer_stays_at_chance(tmp_path, p_cot, goes_long):
    """d = 6 (a million inputs: no memorising in this budget), 1500 NTP steps. Above 1/11 the chain
    is learnt (each step one addition mod 10) and greedy writes it and is right; below, greedy answers
    short and is right about 1 time in 10, as the calibration argument predicts. The short answer stays
    far from learnt either way (below 0.25 where chance is 0.1). Judged on 512 test prompts by their Wilson intervals."""
    from cotmix.loops.pretrain import train_ntp

    assert (p_cot > cf.greedy_threshold(10)) == goes_long
    cfg = load_config(overrides=["task.name=digitsum", "task.d=6", f"task.p_cot={p_cot}", "model.d_model=64",
                                 "model.n_head=4", "pretrain.steps=1500", "pretrain.batch_size=128",
                                 "pretrain.stop_when=none", "pretrain.eval_interval=1500", "pretrain.ckpt_interval=1500", "pretrain.eval_early=false",
                                 "eval.n_prompts=512", "eval.validation_prompts=64"])
    metrics = train_ntp(cfg, tmp_path, progress=False)["eval"]
    assert metrics["short_accuracy_ci95"][1] < 0.25  # the short answer is not learnt (chance: 0.1)
    if goes_long:
        assert metrics["chain_token_accuracy_ci95"][0] > 0.95
        # Clearly on the long side, and right where long: at 1500 steps the last chain positions are still
        # settling (greedy 0.926 [0.900, 0.945] on this machine), so the bar is the decision, not perfection.
        assert metrics["greedy_long_fraction_ci95"][0] > 0.8 and metrics["greedy_accuracy_ci95"][0] > 0.8
    else:
        assert metrics["greedy_long_fraction_ci95"][1] < 0.1 and metrics["greedy_accuracy_ci95"][1] < 0.25


def test_make_task_builds_it_from_the_config():
    task = make_task(load_config(overrides=["task.name=digitsum", "task.d=5", "task.p_cot=0.1"]).task)
    assert isinstance(task, DigitSumTask) and task.d == 5 and task.input_space_size == 10**5
    assert task.describe({"d": 5}) == "sum mod 10 of d=5 digits"

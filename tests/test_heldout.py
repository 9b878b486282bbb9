"""The held-out split: no trainer emits a reserved input, evaluation uses only reserved inputs, and the
counter that checks this during training catches a leak when one is injected."""

import json
import math

import pytest
import torch

from cotmix.config import load_config
from cotmix.eval.stats import wilson
from cotmix.loops.pretrain import train_ntp
from cotmix.tasks import MultiplicationTask, ParityTask, make_task
from cotmix.tasks.heldout import TEST, VALIDATION, HeldoutCounter

TASKS = [ParityTask(d=7, p_cot=0.3), ParityTask(d=9, p_cot=0.3, leap=2), MultiplicationTask(2, 2, p_cot=0.3),
         ParityTask(d=50, p_cot=0.25), ParityTask(d=80, p_cot=0.25)]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: f"{type(t).__name__}-{t.input_space_size}")
def test_training_samples_are_never_reserved_and_eval_prompts_always_are(task):
    gen = torch.Generator().manual_seed(0)
    train = task.sample(4000, gen)
    assert not task.partition.reserved(task.input_keys(train.prompts)).any()
    heldout = task.sample(500, gen, split="heldout")
    assert task.partition.reserved(task.input_keys(heldout.prompts)).all()
    prompts = task.heldout_prompts(300, seed=1)
    keys = task.input_keys(prompts)
    assert task.partition.reserved(keys).all()
    assert len(set(keys.tolist())) == len(keys)  # distinct: no prompt counted twice
    train_keys = set(task.input_keys(train.prompts).tolist())
    assert not train_keys & set(keys.tolist())


@pytest.mark.parametrize("task", TASKS[:3], ids=["parity-7", "leap-2", "multiplication"])
def test_small_spaces_reserve_an_exact_share_and_evaluate_each_reserved_input_once(task):
    size = task.input_space_size
    reserved = task.partition.table()
    assert int(reserved.sum()) == round(0.25 * size)
    prompts = task.heldout_prompts(10**6, seed=0)  # more than there are: all of them, once each
    assert len(prompts) == round(0.25 * size)
    assert torch.equal(task.prompts_at(task.input_keys(prompts)), prompts)  # keys index the space exactly


def test_a_larger_eval_set_only_adds_prompts():
    task = ParityTask(d=12, p_cot=0.2)
    assert torch.equal(task.heldout_prompts(500, seed=3)[:100], task.heldout_prompts(100, seed=3))
    big = ParityTask(d=40, p_cot=0.2)
    assert torch.equal(big.heldout_prompts(300, seed=3)[:50], big.heldout_prompts(50, seed=3))


def test_tiny_spaces_keep_both_sides_non_empty():
    task = ParityTask(d=2, p_cot=0.5)
    assert 1 <= int(task.partition.table().sum()) <= 3


def test_large_space_reserves_the_configured_share_within_the_binomial_interval():
    task = ParityTask(d=50, p_cot=0.25).set_heldout(0.2, seed=5)
    n = 20000
    reserved = task.partition.reserved(task.input_keys(task.draw(n, torch.Generator().manual_seed(2)).prompts))
    lo, hi = wilson(float(reserved.sum()), n, z=4.0)
    assert lo <= 0.2 <= hi


def test_the_reserved_side_is_balanced_in_parity():
    """A linear hash would make the reserved side a union of cosets, whose parity can be constant;
    the mixed key keeps parity at 1/2 within the binomial interval."""
    task = ParityTask(d=14, p_cot=0.2)
    prompts = task.heldout_prompts(10**6, seed=0)
    parity = task.parity(prompts)
    lo, hi = wilson(float(parity.sum()), len(parity), z=4.0)
    assert lo <= 0.5 <= hi


def test_the_partition_depends_on_its_seed():
    a = ParityTask(d=10, p_cot=0.2).set_heldout(0.25, seed=0).partition.table()
    b = ParityTask(d=10, p_cot=0.2).set_heldout(0.25, seed=1).partition.table()
    assert not torch.equal(a, b)


def test_counter_counts_what_it_is_shown():
    task = ParityTask(d=8, p_cot=0.3)
    counter = HeldoutCounter(task, task.heldout_prompts(40, seed=0))
    counter.observe(task.sample(256, torch.Generator().manual_seed(0)).prompts)
    assert counter.report()["overlap_count"] == 0 and counter.reserved_hits == 0
    leak = task.heldout_prompts(40, seed=0)[:3]
    counter.observe(leak)
    report = counter.report()
    assert report["overlap_count"] == 3 and report["overlap_prompts"] == [0, 1, 2] and report["reserved_hits"] == 3


def _tiny(d, *extra):
    return load_config(overrides=[f"task.d={d}", "task.p_cot=0.25", "model.d_model=32", "model.n_head=2",
                                  "pretrain.steps=12", "pretrain.batch_size=32", "pretrain.stop_when=none",
                                  "pretrain.eval_interval=6", "pretrain.ckpt_interval=6", "eval.n_prompts=64",
                                  *extra])


@pytest.mark.slow
@pytest.mark.parametrize("d", [7, 50])
def test_a_training_run_measures_zero_overlap(tmp_path, d):
    entry = train_ntp(_tiny(d), tmp_path, progress=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    block = summary["heldout"]
    assert block["overlap_count"] == 0 and block["reserved_hits"] == 0
    assert block["eval_prompts"] == (32 if d == 7 else 64)  # d = 7: all 32 reserved inputs
    assert entry["heldout"]["train_inputs"] == 12 * 32
    if d == 7:  # 96 training inputs, 384 draws: each seen with probability 1 - (95/96)^384 ~ 0.98
        assert 0.9 <= block["train_inputs_seen_fraction"] <= 1.0
    else:
        assert block["train_inputs_seen_fraction"] is None


@pytest.mark.slow
def test_an_injected_leak_is_counted(tmp_path, monkeypatch):
    """A sampler that ignores the partition: the counter, not the construction, reports it."""
    monkeypatch.setattr(ParityTask, "sample", lambda self, n, gen, p_cot=None, split="train": self.draw(n, gen, p_cot))
    train_ntp(_tiny(7), tmp_path, progress=False)
    block = json.loads((tmp_path / "summary.json").read_text())["heldout"]
    assert block["reserved_hits"] > 0
    assert block["overlap_count"] > 0


@pytest.mark.slow
def test_the_count_survives_a_resume(tmp_path):
    cfg = _tiny(7)
    (tmp_path / "whole").mkdir(), (tmp_path / "cut").mkdir()
    whole = train_ntp(cfg, tmp_path / "whole", progress=False)["heldout"]
    train_ntp(cfg, tmp_path / "cut", steps=6, progress=False)  # stops at the step-6 checkpoint
    resumed = train_ntp(cfg, tmp_path / "cut", resume=True, progress=False)["heldout"]
    assert resumed == whole


def test_wilson_interval_known_values_and_edges():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    lo, hi = wilson(2048, 2048)
    assert hi == 1.0 and 0.998 < lo < 1.0  # all right on 2048 prompts: >= 0.998, not exactly 1
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 0) is None


def exact_coverage(interval, p: float, n: int) -> float:
    """P(the interval of k ~ Bin(n, p) successes contains p), summed exactly over k."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)
               if interval(k, n)[0] <= p <= interval(k, n)[1])


def wald(k: int, n: int) -> list[float]:
    half = 1.96 * math.sqrt(k / n * (1 - k / n) / n)
    return [k / n - half, k / n + half]


def test_wilson_interval_covers_the_truth_95_percent_of_the_time_where_wald_does_not():
    """Exact coverage, not a simulation: Wilson's stays near 0.95 over p in [0.05, 0.95] and at the
    rare-event corners where the normal approximation (Wald) collapses, so the test tells them apart."""
    for n in (20, 50, 100):
        coverage = [exact_coverage(wilson, i / 100, n) for i in range(5, 96)]
        assert 0.94 <= sum(coverage) / len(coverage) <= 0.96 and min(coverage) >= 0.92
    for p, n in ((0.02, 50), (0.1, 30), (0.98, 100), (0.01, 200)):
        assert exact_coverage(wilson, p, n) >= 0.92 and exact_coverage(wald, p, n) <= 0.87, (p, n)


def test_make_task_applies_the_configured_partition():
    cfg = load_config(overrides=["task.d=10", "task.heldout_fraction=0.1", "task.heldout_seed=3"])
    task = make_task(cfg.task)
    assert int((task.partition.table() == TEST).sum()) == round(0.1 * 1024)
    assert int((task.partition.table() == VALIDATION).sum()) == round(cfg.task.validation_fraction * 1024)
    same = ParityTask(d=10, p_cot=0.2).set_heldout(0.1, 3, cfg.task.validation_fraction).partition.table()
    assert torch.equal(task.partition.table(), same)


@pytest.mark.slow
def test_a_run_draws_its_partition_once_and_validation_draws_none(tmp_path, monkeypatch):
    """`cotmix run` builds its task once for all three phases: one partition of the input space,
    not one per phase (and config validation, which reads the task's sizes, draws none)."""
    import cotmix
    from cotmix.tasks import base

    drawn = []
    real = base.Partition
    monkeypatch.setattr(base, "Partition", lambda *a, **k: drawn.append(1) or real(*a, **k))
    cfg = _tiny(6, "posttrain.steps=2", "posttrain.prompts_per_step=8", "posttrain.group_size=2",
                "posttrain.eval_interval=2", "posttrain.ckpt_interval=2", "posttrain.stop_when=none")
    assert drawn == []
    summary = cotmix.run(cfg, tmp_path / "run", progress=False)
    assert {"pretrain", "posttrain", "baseline"} <= summary.keys()
    assert len(drawn) == 1

"""The three-way split: training, validation and test inputs are disjoint; decisions (stop rules, the
RL preflight) read validation inputs only, which the run's heldout block counts; sampled evaluation
draws differ between seeds while the prompts do not."""

import pytest
import torch

from cotmix.config import load_config
from cotmix.loops.pretrain import train_ntp
from cotmix.rundir import prepare_run_dir, read_summary, release_run_dir
from cotmix.tasks import ParityTask, make_task
from cotmix.tasks.heldout import TEST, TRAIN, VALIDATION

TINY = ["task.d=6", "task.p_cot=0.5", "model.d_model=16", "model.n_head=2", "pretrain.steps=8",
        "pretrain.batch_size=16", "pretrain.eval_interval=4", "pretrain.ckpt_interval=8", "eval.n_prompts=16",
        "eval.validation_prompts=8"]


@pytest.mark.parametrize("d", [2, 6, 10, 40])
def test_the_three_sides_are_disjoint_and_sized(d):
    task = ParityTask(d=d, p_cot=0.3).set_heldout(0.25, seed=3, validation_fraction=0.125)
    gen = torch.Generator().manual_seed(0)
    train = task.input_keys(task.sample(3000, gen).prompts)
    test = task.input_keys(task.heldout_prompts(400, seed=1))
    validation = task.input_keys(task.heldout_prompts(400, seed=1, split="validation"))
    sides = task.partition.sides
    assert (sides(train) == TRAIN).all() and (sides(test) == TEST).all() and (sides(validation) == VALIDATION).all()
    assert not set(train.tolist()) & set(test.tolist()) and not set(validation.tolist()) & set(test.tolist())
    if task.partition.enumerable:
        counts = torch.bincount(task.partition.table().long(), minlength=3).tolist()
        size = 2**d
        assert counts[TEST] == min(size - 1, max(1, round(0.25 * size)))
        assert counts[VALIDATION] == min(size - 1 - counts[TEST], max(1, round(0.125 * size)))
        assert counts[TRAIN] >= 1


def test_the_test_inputs_are_those_of_the_two_way_split():
    """Adding a validation side takes its inputs from the training side: the test prompts (the
    reported numbers) are exactly the ones a run without validation inputs reports on."""
    for d in (8, 40):
        old = ParityTask(d=d, p_cot=0.3).set_heldout(0.25, seed=0)
        new = ParityTask(d=d, p_cot=0.3).set_heldout(0.25, seed=0, validation_fraction=0.125)
        assert torch.equal(old.heldout_prompts(200, seed=5), new.heldout_prompts(200, seed=5))


def test_without_validation_inputs_decisions_read_test_and_the_summary_says_so(tmp_path):
    for fraction, read, overlap in ((0.125, "validation", 0), (0.0, "test (no validation inputs)", 8)):
        cfg = load_config(overrides=TINY + [f"task.validation_fraction={fraction}", "pretrain.stop_when=chain_learnt"])
        out = tmp_path / f"v{fraction}"
        prepare_run_dir(out, cfg.to_dict(), resume=False)
        train_ntp(cfg, out, progress=False)
        release_run_dir(out)
        heldout = read_summary(out)["heldout"]
        assert heldout["decisions_read"] == read and heldout["overlap_count"] == 0
        assert heldout["decision_test_overlap"] == overlap, heldout


def test_a_decision_that_reads_the_test_split_is_caught(tmp_path, monkeypatch):
    """Inject a stop rule that looks at the test prompts: the heldout block counts it."""
    from cotmix.train import phase as phase_module

    def reads_test(self, last_eval=None):
        test_prompts = self.task.heldout_prompts(self.cfg.eval.n_prompts, self.cfg.eval.seed)
        self.heldout.decided(self.task.input_keys(test_prompts))
        return self.last_eval if last_eval is None else last_eval

    monkeypatch.setattr(phase_module.Phase, "decision_metrics", reads_test)
    cfg = load_config(overrides=TINY + ["pretrain.stop_when=chain_learnt"])
    prepare_run_dir(tmp_path / "run", cfg.to_dict(), resume=False)
    train_ntp(cfg, tmp_path / "run", progress=False)
    release_run_dir(tmp_path / "run")
    assert read_summary(tmp_path / "run")["heldout"]["decision_test_overlap"] == cfg.eval.n_prompts


@pytest.mark.parametrize("validation, test, stops", [(1.0, 0.0, True), (0.0, 1.0, False)])
def test_the_stop_rule_reads_validation_not_test(tmp_path, monkeypatch, validation, test, stops):
    from cotmix.train import phase as phase_module

    real = phase_module.evaluate

    def rigged(model, task, cfg, with_pass_k=False, split="test", run_seed=None):
        metrics = real(model, task, cfg, with_pass_k=with_pass_k, split=split, run_seed=run_seed)
        return metrics | {"chain_exact_accuracy": validation if split == "validation" else test}

    monkeypatch.setattr(phase_module, "evaluate", rigged)
    cfg = load_config(overrides=TINY + ["pretrain.stop_when=chain_learnt"])
    prepare_run_dir(tmp_path / "run", cfg.to_dict(), resume=False)
    entry = train_ntp(cfg, tmp_path / "run", progress=False)
    release_run_dir(tmp_path / "run")
    assert (entry["stop_reason"] == "chain_learnt") == stops
    assert entry["steps"] == (4 if stops else 8)


def test_sampled_draws_differ_between_seeds_on_the_same_prompts():
    from cotmix.eval.evaluate import evaluate
    from cotmix.model.transformer import build_model

    cfg = load_config(overrides=["task.d=8", "model.d_model=16", "model.n_head=2", "eval.n_prompts=64"])
    task = make_task(cfg.task)
    torch.manual_seed(0)
    model = build_model(cfg.model, task).eval()  # random weights: sampling is nearly uniform
    a, b = (evaluate(model, task, cfg.eval, run_seed=s) for s in (0, 1))
    again = evaluate(model, task, cfg.eval, run_seed=0)
    assert a == again  # a seed reproduces
    assert a["greedy_accuracy"] == b["greedy_accuracy"] and a["n_prompts"] == b["n_prompts"]  # same prompts
    assert a["sampled_length_mean"] != b["sampled_length_mean"]  # independent sampling draws

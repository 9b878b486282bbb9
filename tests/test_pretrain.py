"""NTP pre-training: schedule, which tokens carry loss, exact resume, and calibration (paper §2)."""

import json
import math

import pytest
import torch

from cotmix.config import PretrainConfig, load_config
from cotmix.loops.pretrain import train_ntp
from cotmix.model.transformer import build_model
from cotmix.rundir import read_metrics, read_summary
from cotmix.tasks import make_task
from cotmix.tasks.parity import EOS
from cotmix.train.checkpoint import resolve_checkpoint
from cotmix.train.losses import ntp_loss
from cotmix.train.optim import lr_at
from cotmix.train.phase import Phase


def test_warmup_then_cosine_to_the_floor():
    cfg = PretrainConfig(lr=1.0, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_at(0, cfg, 110) == pytest.approx(0.1)
    assert lr_at(9, cfg, 110) == pytest.approx(1.0)
    assert lr_at(60, cfg, 110) == pytest.approx(0.55)
    assert lr_at(110, cfg, 110) == pytest.approx(0.1)
    constant = PretrainConfig(lr=1.0, warmup_steps=0, schedule="constant")
    assert lr_at(0, constant, 50) == lr_at(49, constant, 50) == 1.0


def test_loss_covers_response_tokens_only_by_default(tiny_cfg):
    cfg = tiny_cfg()
    task = make_task(cfg.task)
    torch.manual_seed(0)
    model = build_model(cfg.model, task)
    batch = task.sample(16, torch.Generator().manual_seed(0))
    base = ntp_loss(model, task, batch)
    # Reference: the mean negative log-likelihood over exactly the response targets (not PAD).
    sequences = batch.sequences()
    logits = model(sequences[:, :-1])
    logp = torch.log_softmax(logits, -1).gather(2, sequences[:, 1:, None]).squeeze(-1)
    response_targets = torch.zeros_like(logp, dtype=torch.bool)
    response_targets[:, task.prompt_len - 1 :] = sequences[:, task.prompt_len :] != task.pad_id
    assert base.item() == pytest.approx(-logp[response_targets].mean().item(), rel=1e-5)
    assert (sequences[:, task.prompt_len:][sequences[:, task.prompt_len:] != task.pad_id] == EOS).sum() == 16
    with_prompt = ntp_loss(model, task, batch, loss_on_prompt=True)
    all_targets = response_targets.clone()
    all_targets[:, : task.prompt_len - 1] = True
    assert with_prompt.item() == pytest.approx(-logp[all_targets].mean().item(), rel=1e-5)


def _strip_times(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def test_interrupted_run_resumes_to_the_same_result(tiny_cfg, tmp_path, monkeypatch):
    cfg = tiny_cfg()
    straight = tmp_path / "straight"
    straight.mkdir()
    train_ntp(cfg, straight, progress=False)

    killed = tmp_path / "killed"
    killed.mkdir()
    original_log = Phase.log

    def log_then_die(self, metrics):
        record = original_log(self, metrics)
        if self.step == 15:  # after the checkpoint at step 10, with records past it on disk
            raise KeyboardInterrupt
        return record

    monkeypatch.setattr(Phase, "log", log_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_ntp(cfg, killed, progress=False)
    monkeypatch.setattr(Phase, "log", original_log)
    assert "pretrain" not in read_summary(killed)
    train_ntp(cfg, killed, resume=True, progress=False)

    assert read_summary(killed)["pretrain"]["eval"] == read_summary(straight)["pretrain"]["eval"]
    assert read_summary(killed)["pretrain"]["compute"] == read_summary(straight)["pretrain"]["compute"]
    assert _strip_times(read_metrics(killed)) == _strip_times(read_metrics(straight))


@pytest.mark.slow
def test_same_seed_same_numbers_other_seed_differs(tiny_cfg, tmp_path):
    results = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        (tmp_path / name).mkdir()
        results.append(train_ntp(tiny_cfg(f"seed={seed}"), tmp_path / name, progress=False)["eval"])
    assert results[0] == results[1]
    assert results[0] != results[2]


def test_metrics_records_carry_phase_step_samples_and_time(tiny_cfg, tmp_path):
    train_ntp(tiny_cfg(), tmp_path, progress=False)
    records = read_metrics(tmp_path)
    assert all({"phase", "step", "samples_seen", "wall_s"} <= r.keys() for r in records)
    evals = [r for r in records if r.get("eval")]
    assert [r["step"] for r in evals] == [10, 20]
    assert evals[-1]["samples_seen"] == 20 * 32
    summary = json.loads((tmp_path / "summary.json").read_text())["pretrain"]
    assert summary["steps"] == 20 and summary["samples"] == 640 and "greedy_accuracy" in summary["eval"]


def test_ntp_is_length_calibrated(calibrated):
    """Paper §2: long ≈ p_cot, short answers at chance, greedy at chance for p_cot < 1/3.

    Each sampled metric is a binomial mean over the n = 256 held-out prompts of d = 10; the
    tolerance is 4 standard errors plus 0.02 for the fitted model's own miscalibration (finite
    training)."""
    cfg, metrics, _ = calibrated
    n, p = metrics["n_prompts"], cfg.task.p_cot
    assert n == 256  # a quarter of the 1024 inputs, each once

    def tol(q, count):
        return 4 * math.sqrt(q * (1 - q) / count)

    assert metrics["chain_exact_accuracy"] >= 0.99  # the chain is learnt
    assert metrics["chain_token_accuracy"] > 0.99
    assert metrics["chain_positions_learnt"] == 1.0  # at every position
    assert abs(metrics["long_fraction"] - p) <= tol(p, n) + 0.02
    assert metrics["long_accuracy"] >= 0.9
    short_n = int(metrics["short_fraction"] * n)
    assert abs(metrics["short_accuracy"] - 0.5) <= tol(0.5, short_n) + 0.01  # parity not learnt
    assert abs(metrics["greedy_accuracy"] - 0.5) <= tol(0.5, n) + 0.01
    assert metrics["greedy_length_median"] == 2
    # The first token is x_1 with probability (1 + p) / 2 > 1/2 on every prompt, so it is the mode.
    assert metrics["first_token_long_prob"] == pytest.approx((1 + p) / 2, abs=0.03)
    assert metrics["first_token_long_greedy"] >= 0.95


def test_continue_probability_matches_theory(calibrated):
    """Given y_1 = x_1 the model continues with probability 2p/(1+p) (exact model probabilities)."""
    cfg, _, run = calibrated
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    task = make_task(cfg.task)
    model = build_model(cfg.model, task)
    load_checkpoint(resolve_checkpoint(run)).load_model(model)
    prompts = task.heldout_prompts(256, seed=99)
    first = prompts[:, :1]  # y_1 = x_1
    with torch.no_grad():
        probs = torch.softmax(model(torch.cat([prompts, first], 1))[:, -2:], -1)
    p = cfg.task.p_cot
    assert probs[:, 0, :2].gather(1, first).mean().item() == pytest.approx((1 + p) / 2, abs=0.03)
    p_continue = 1 - probs[:, 1, EOS].mean().item()
    assert p_continue == pytest.approx(2 * p / (1 + p), abs=0.05)


@pytest.mark.slow
def test_pretraining_stops_when_the_chain_is_learnt(tmp_path, capsys):
    """The default rule: the first evaluation with held-out long answers right end to end >= 0.99
    ends pre-training, well before the cap, and the summary says where and why."""
    from conftest import CALIBRATION

    cfg = load_config(overrides=CALIBRATION + ["pretrain.stop_when=chain_learnt", "pretrain.steps=3000",
                                               "pretrain.eval_interval=100"])
    entry = train_ntp(cfg, tmp_path, progress=False)
    assert entry["stop_reason"] == "chain_learnt" and entry["steps"] < 3000 and entry["steps"] % 100 == 0
    assert entry["eval"]["validation"]["chain_exact_accuracy"] >= 0.99  # what the rule read (the test side only reports)
    evals = [r for r in read_metrics(tmp_path) if r.get("eval") and r["step"] % 100 == 0]  # the rule reads these
    assert all(r["validation"]["chain_exact_accuracy"] < 0.99 for r in evals[:-1])  # it stopped at the first one
    assert resolve_checkpoint(tmp_path).name == f"step_{entry['steps']:06d}"  # and saved the model there
    said = capsys.readouterr().err  # a bar left short of its cap is explained, with the value the rule read
    assert f"pretrain: stopped at step {entry['steps']} of 3000 by pretrain.stop_when=chain_learnt" in said
    assert all(r["step"] % 100 == 0 for r in evals if r["step"] >= 100)  # early evaluations only below the interval


def test_early_evaluations_change_no_training_number(tmp_path, tiny_cfg):
    """pretrain.eval_early adds evaluations at 10, 20, 50, ... for the curves: the training stream,
    the losses and the weights are the same as without them."""
    import torch

    from cotmix.train.checkpoint import load_checkpoint

    runs = {}
    for early in (True, False):
        cfg = tiny_cfg(f"pretrain.eval_early={early}", "pretrain.steps=60", "pretrain.eval_interval=60",
                       "pretrain.ckpt_interval=60")
        (tmp_path / str(early)).mkdir()
        train_ntp(cfg, tmp_path / str(early), progress=False)
        records = read_metrics(tmp_path / str(early))
        runs[early] = ([(r["step"], r["loss"]) for r in records if "loss" in r and not r.get("eval")],
                       [r["step"] for r in records if r.get("eval")],
                       load_checkpoint(resolve_checkpoint(tmp_path / str(early))).model_tensors)
    assert runs[True][0] == runs[False][0] and runs[True][1] == [10, 20, 50, 60] and runs[False][1] == [60]
    assert all(torch.equal(runs[True][2][k], runs[False][2][k]) for k in runs[False][2])


def test_pretraining_that_hits_its_cap_says_so(tmp_path, capsys, tiny_cfg):
    entry = train_ntp(tiny_cfg("pretrain.stop_when=chain_learnt"), tmp_path, progress=False)
    assert entry["stop_reason"] == "steps" and entry["steps"] == 20
    assert "pretrain.stop_when=chain_learnt was not met within pretrain.steps=20" in capsys.readouterr().err


@pytest.mark.slow
def test_above_one_third_ntp_alone_greedy_goes_long_and_is_right(tmp_path):
    """The other side of the threshold: at p_cot = 0.6 a calibrated model continues after y_1 with
    probability 0.6 / (0.6 + 0.4 / 2) = 0.75 > 1/2, so greedy decoding writes the chain and is right.
    Judged on the 256 test prompts of d = 10: the Wilson lower ends must clear 0.9."""
    from conftest import CALIBRATION

    from cotmix.loops.pretrain import train_ntp

    cfg = load_config(overrides=CALIBRATION + ["task.p_cot=0.6"])
    metrics = train_ntp(cfg, tmp_path, progress=False)["eval"]
    assert metrics["n_prompts"] == 256
    assert metrics["greedy_long_fraction_ci95"][0] > 0.9 and metrics["greedy_accuracy_ci95"][0] > 0.9
    assert metrics["greedy_length_median"] == cfg.task.d + 1

"""cotmix.experiments.report.resource_gap: the pre-registered gap verdict and the growth fits, on
sweeps whose outcome is known because their summaries are written here."""

import json
import math

import pytest

from cotmix.config import load_config
from cotmix.experiments.report.data import load_sweep
from cotmix.experiments.report.resource_gap import growth, resource_gap, verdict


def write_sweep(root, runs):
    """runs: (d, arm, seed, pretrain samples, pretrain stop reason, RL samples or 0, RL stop reason)."""
    (root / "runs").mkdir(parents=True)
    (root / "sweep.json").write_text(json.dumps({"name": "gap", "command": "run", "grid": {"task.d": []},
                                                 "arms": {"ntp_only": {}, "ntp_rl": {}}, "seeds": [0]}))
    for d, arm, seed, pre, pre_stop, rl, rl_stop in runs:
        name = f"task.d={d},arm={arm},seed={seed}"
        cfg = load_config(overrides=[f"task.d={d}", f"seed={seed}", f"posttrain.steps={10 if rl else 0}"])
        summary = {"pretrain": {"samples": pre, "stop_reason": pre_stop, "compute": {"flops": 6 * pre}}}
        if rl:
            summary["posttrain"] = {"steps": 10, "samples": rl, "stop_reason": rl_stop, "compute": {"flops": 8 * rl}}
        run = root / "runs" / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps(cfg.to_dict()))
        (run / "summary.json").write_text(json.dumps(summary))
        (run / "status.json").write_text(json.dumps({"state": "done", "name": name, "arm": arm}))


CAP = 5_000_000


def gap_runs(alone_at_8=("steps", CAP)):
    runs = []
    for d in (6, 8, 10):
        for seed in (0, 1):
            runs.append((d, "ntp_rl", seed, 1000 * d, "chain_learnt", 500, "greedy_learnt"))
            stop, samples = alone_at_8 if d == 8 else ("steps", CAP)
            runs.append((d, "ntp_only", seed, samples, stop, 0, None))
    return runs


def test_the_gap_is_met_when_ntp_alone_is_censored_above_every_ntp_rl_total(tmp_path):
    write_sweep(tmp_path, gap_runs())
    word, line = verdict(tmp_path)
    assert word == "met" and "at 3 of 3 d" in line and "NTP alone in 0 of 6" in line


def test_an_ntp_alone_run_cheaper_than_ntp_rl_breaks_the_gap_at_its_d(tmp_path):
    write_sweep(tmp_path, gap_runs(alone_at_8=("greedy_learnt", 4000)))
    word, line = verdict(tmp_path)
    assert word == "mixed" and "at 2 of 3 d (not at d = 8)" in line


def test_a_run_that_never_generalised_with_rl_breaks_the_gap(tmp_path):
    runs = [r if not (r[0] == 6 and r[1] == "ntp_rl" and r[2] == 0) else (6, "ntp_rl", 0, 6000, "chain_learnt", 500, "steps")
            for r in gap_runs()]
    write_sweep(tmp_path, runs)
    word, line = verdict(tmp_path)
    assert word == "mixed" and "NTP+RL reached 0.99 in 5 of 6" in line


def test_growth_tells_an_exponential_from_a_power_and_recovers_its_rate():
    exponential = [(d, 100 * math.exp(0.7 * d)) for d in range(6, 15)]
    fit = growth(exponential)
    assert fit["better"] == "exponential" and fit["exponential"]["slope"] == pytest.approx(0.7)
    power = [(d, 3 * d ** 2.5) for d in range(6, 15)]
    fit = growth(power)
    assert fit["better"] == "power" and fit["power"]["slope"] == pytest.approx(2.5)
    assert growth([(6, 10.0), (8, 20.0)])["better"] is None  # two d fit either law exactly
    assert growth([(6, 10.0), (6, 20.0)]) is None


def test_the_figure_draws_samples_and_flops_with_censored_runs_counted(tmp_path):
    write_sweep(tmp_path, gap_runs())
    fig, measured = resource_gap(load_sweep(tmp_path))
    samples, flops = fig.axes[:2]
    assert "FLOPs" in flops.get_ylabel()
    drawn = {c.get_label(): len(c.get_offsets()) for c in samples.collections}
    assert drawn["NTP alone: not reached by the cap (> value)"] == 6 and drawn["NTP + RL (each seed)"] == 6
    assert "NTP + RL: 6 of 6 runs reached" in measured and "NTP alone: 0 of 6 runs reached" in measured
    assert [t.get_text() for t in samples.texts] == ["2 of 2"] * 3

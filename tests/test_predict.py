"""cotmix.rl.predict and `cotmix predict`: the prediction from a starting model's validation
measurements, its closed forms, the block in every posttrain summary, and the replay over runs."""

import itertools
import json
import math
from pathlib import Path

import pytest

from cotmix.cli import main
from cotmix.experiments.replay import fit_step_scale, replay, within_factor_2
from cotmix.loops.posttrain import posttrain, posttrain_config
from cotmix.loops.pretrain import train_ntp
from cotmix.rl.predict import STEP_FIT_SWEEPS, STEP_SCALE, pg_steps, predict, star_rounds, step_time, zero_std_share
from cotmix.theory.closed_form import star_rounds_to_generalise
from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


@pytest.mark.parametrize("p0", [0.02, 0.1, 0.25, 0.3])
def test_star_rounds_with_a_perfect_chain_are_theorem_2s(p0):
    assert star_rounds(p0, 1.0, 0.5, 1 / 3)["round_past_threshold"] == star_rounds_to_generalise(p0)


def test_a_chain_with_errors_slows_star_and_one_worse_than_the_short_answers_never_gets_there():
    """The long odds grow by c / s a round (Theorem 2: 2): from odds 1/9 to 1/2 that is 3 rounds at
    c = 1 and 5 at c = 0.7, where greedy goes long but is not right; below c = s, never."""
    assert star_rounds(0.1, 1.0, 0.5, 1 / 3)["round_past_threshold"] == 3
    slowed = star_rounds(0.1, 0.7, 0.5, 1 / 3)
    assert slowed["round_past_threshold"] == 5 and slowed["round_greedy_right"] is None
    assert star_rounds(0.1, 0.4, 0.5, 1 / 3)["round_past_threshold"] is None


def test_zero_std_share_by_enumerating_the_groups():
    """P(all rewards equal) over every 0/1 reward pattern of a group of 4, by enumeration."""
    right = 0.25 * 1.0 + 0.75 * 0.5
    patterns = itertools.product([0, 1], repeat=4)
    share = sum(right ** sum(g) * (1 - right) ** (4 - sum(g)) for g in patterns if len(set(g)) == 1)
    assert zero_std_share(0.25, 1.0, 0.5, 4) == pytest.approx(share)


def test_an_unlearnt_chain_predicts_no_and_rl_does_not_generalise(tiny_cfg, tmp_path, capsys):
    cfg = tiny_cfg("pretrain.stop_when=none")
    (tmp_path / "ntp").mkdir()
    train_ntp(cfg, tmp_path / "ntp", progress=False)
    start = load_checkpoint(resolve_checkpoint(tmp_path / "ntp"))
    (tmp_path / "rl").mkdir()
    entry = posttrain(posttrain_config(start.config, []), tmp_path / "rl", start, progress=False)
    assert entry["prediction"]["generalises"] == "no" and "chain is not learnt" in entry["prediction"]["reason"]
    assert entry["eval"]["greedy_accuracy"] < 0.99


def test_predict_command_and_its_replay(calibrated, tmp_path, capsys):
    _, _, run = calibrated
    assert main(["predict", str(run), "posttrain.algorithm=star", "posttrain.steps=1", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["generalises"] == "no" and "needs 2 rounds" in said["reason"] and said["star"]["round_past_threshold"] == 2
    assert main(["predict", str(run), "posttrain.steps=40"]) == 0
    assert "generalises: yes" in capsys.readouterr().out
    assert main(["predict"]) == 2


def test_the_step_models_time_is_the_integral_of_its_rate():
    """dz/dt = sigmoid(z) (k = 1): integrating it numerically from p = 0.05 until z reaches the target
    (twice the threshold's odds, p = 1/2 for parity) takes step_time's closed form."""
    z, t, dt = math.log(0.05 / 0.95), 0.0, 1e-4
    while z < 0.0:
        z += dt / (1 + math.exp(-z))
        t += dt
    assert step_time(0.05, 1 / 3) == pytest.approx(t, rel=1e-3)
    assert step_time(0.6, 1 / 3) == 0.0 and step_time(0.0, 1 / 3) is None


def test_predicted_steps_scale_with_the_update_size():
    """Twice lr x inner steps, half the steps; a rarer long answer needs more of them."""
    assert pg_steps(0.1, 1 / 3, 4e-4) == pytest.approx(pg_steps(0.1, 1 / 3, 2e-4) / 2)
    assert pg_steps(0.05, 1 / 3, 2e-4) > pg_steps(0.2, 1 / 3, 2e-4) > 0


def test_the_step_scale_is_the_fit_on_its_named_sweeps_only():
    """STEP_SCALE is what fit_step_scale gives on the committed runs of STEP_FIT_SWEEPS."""
    fit = fit_step_scale([RESULTS / name for name in STEP_FIT_SWEEPS])
    assert fit["runs"] >= 20 and fit["step_scale"] == pytest.approx(STEP_SCALE, abs=0.005)


def test_speed_is_compared_at_the_evaluation_interval():
    assert within_factor_2(10, 19, 5) and not within_factor_2(10, 21, 5)
    assert within_factor_2(0, 5, 5) and within_factor_2(2, 9, 5) and not within_factor_2(2, 11, 5)


def test_a_budget_below_the_predicted_steps_is_uncertain_and_below_half_is_no(calibrated):
    """From the calibrated checkpoint's validation block: RL's answer turns from yes to uncertain to
    no as the budget falls below the predicted steps and below half of them."""
    cfg, final, _ = calibrated
    start = final["validation"]
    needed = predict(posttrain_config(cfg, ["posttrain.steps=1000"]), start)["steps"]
    assert needed > 4
    said = {n: predict(posttrain_config(cfg, [f"posttrain.steps={n}"]), start)["generalises"]
            for n in (math.ceil(needed), math.floor(needed * 0.75), math.floor(needed / 2) - 1)}
    assert list(said.values()) == ["yes", "uncertain", "no"], said


def test_replay_keeps_the_sweeps_it_was_designed_on_apart():
    """fig-headline's runs are in sample (the rules were written after them), fig-digitsum's out,
    whether the replay starts at the results folder or at the sweep."""
    both = replay(RESULTS)
    sample = {r["sweep"]: r["in_sample"] for r in both["rows"]}
    assert sample["fig-headline"] and not sample["fig-digitsum"]
    assert both["out_of_sample"]["runs"] == sum(not r["in_sample"] for r in both["rows"]) < both["summary"]["runs"]
    alone = replay(RESULTS / "fig-digitsum")
    assert {r["sweep"] for r in alone["rows"]} == {"fig-digitsum"} and alone["out_of_sample"]["runs"] == 3


def test_the_replay_verdict_is_met_only_when_both_goals_are(monkeypatch):
    """replay.verdict reads the out-of-sample runs only: none in fig-headline (designed on), so not
    met; fig-digitsum (3 of 3 right, none timed) mixed; study-false-positive-reward (9 of 9 right
    and timed) met, and mixed once the speed goal is out of reach."""
    from cotmix.experiments import replay as module

    assert module.verdict(RESULTS / "fig-headline")[0] == "not met"
    assert module.verdict(RESULTS / "fig-digitsum")[0] == "mixed"
    assert module.verdict(RESULTS / "study-false-positive-reward")[0] == "met"
    monkeypatch.setattr(module, "GOAL_SPEED", 1.01)
    word, line = module.verdict(RESULTS / "study-false-positive-reward")
    assert word == "mixed" and "9 of 9" in line


def test_the_predictor_figure_counts_what_the_replay_counts():
    """On study-predictor (108 runs): the confusion cells read 25 and 2 in the yes row, 4 and 5 in
    the uncertain row, 0 and 72 in the no row; every timed run is a point, each "yes" that never got
    there an x (the two REINFORCE runs still climbing at step 60)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.predictor import predictor

    fig, caption = predictor(load_sweep(RESULTS / "study-predictor"))
    left, right = fig.axes[:2]
    cells = [t.get_text() for t in left.texts]
    assert cells == ["25 right", "2", "4", "5", "0", "72 right"]
    scatters = [c for c in right.collections if isinstance(c, PathCollection)]
    points = sum(len(c.get_offsets()) for c in scatters if c.get_label() != "_never")
    never = sum(len(c.get_offsets()) for c in scatters if c.get_label() == "_never")
    rows = replay(RESULTS / "study-predictor")["rows"]
    assert points == sum(r["predicted"] == "yes" and r["observed_steps"] is not None for r in rows) == 25
    assert never == sum(r["predicted"] == "yes" and r["observed"] == "no" for r in rows) == 2
    assert caption.startswith("Out of sample")
    plt.close(fig)


def test_the_seed_spread_yardstick_counts_runs_near_their_own_settings_median():
    """Three seeds of one setting at 10, 10 and 40 steps: the median is 10, so 2 of 3 are within a
    factor of 2; a setting with one timed run says nothing and is left out; untimed runs are not
    counted; an observation under the evaluation interval counts as one interval."""
    from cotmix.experiments.replay import seed_spread

    def row(name, steps, sweep="s", interval=5, timed=True):
        out = {"run": f"{sweep}/runs/{name}", "sweep": sweep, "observed_steps": steps, "eval_interval": interval}
        return out | ({"speed_right": True} if timed else {})

    rows = [row("a=1,seed=0", 10), row("a=1,seed=1", 10), row("a=1,seed=2", 40),
            row("a=2,seed=0", 300), row("a=1,seed=3", 999, timed=False),
            row("a=1,seed=0", 2, sweep="t", interval=5), row("a=1,seed=1", 9, sweep="t", interval=5)]
    out = seed_spread(rows)
    assert (out["seed_spread_settings"], out["seed_spread_runs"], out["seed_spread_right"]) == (2, 5, 4)


def test_a_chain_measured_on_too_few_prompts_is_uncertain(calibrated):
    """The same learnt chain, all right: on the calibrated checkpoint's own validation side the answer
    is yes; read as all right on 16 prompts (interval [0.806, 1]) it is uncertain, and on 512
    ([0.993, 1]) yes again. An unlearnt chain is no whatever its interval."""
    from cotmix.eval.stats import wilson

    cfg, final, _ = calibrated
    rl = posttrain_config(cfg, ["posttrain.steps=1000"])
    start = final["validation"]
    assert start["chain_exact_accuracy"] >= 0.99 and predict(rl, start)["generalises"] == "yes"
    said = {n: predict(rl, start | {"chain_exact_accuracy": 1.0, "chain_exact_accuracy_ci95": wilson(n, n)})
            for n in (16, 512)}
    assert said[16]["generalises"] == "uncertain" and "too few" in said[16]["reason"]
    assert said[512]["generalises"] == "yes"
    unlearnt = start | {"chain_exact_accuracy": 0.5, "chain_exact_accuracy_ci95": wilson(8, 16)}
    assert predict(rl, unlearnt)["generalises"] == "no"

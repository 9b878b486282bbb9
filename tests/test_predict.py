"""cotmix.rl.predict and `cotmix predict`: the prediction from a starting model's validation
measurements, its closed forms, the block in every posttrain summary, and the replay over runs."""

import itertools
import json

import pytest

from cotmix.cli import main
from cotmix.loops.posttrain import posttrain, posttrain_config
from cotmix.loops.pretrain import train_ntp
from cotmix.rl.predict import star_rounds, zero_std_share
from cotmix.theory.closed_form import star_rounds_to_generalise
from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint


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

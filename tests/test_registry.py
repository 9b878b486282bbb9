"""cotmix.registry: one mechanism for every name a config or a study chooses. A registry refuses a
duplicate, names what it allows on a miss (with a suggestion), loads `module:attribute` and entry
points, and is where config validation takes its choices from."""

import sys
import textwrap

import pytest
import torch

from cotmix.cli import main
from cotmix.config import load_config
from cotmix.errors import ConfigError, CotmixError
from cotmix.registry import AGGREGATIONS, ALGORITHMS, FIGURES, REWARDS, STOP_RULES, TASKS, Registry


def one_error_line(capsys, code) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("cotmix: warning:")]
    assert code == 2 and len(err) == 1 and err[0].startswith("cotmix: error:"), (code, err)
    return err[0]


def test_a_name_registered_twice_is_refused_with_both_places():
    registry = Registry("thing")

    @registry.register("x")
    def first():
        pass

    with pytest.raises(CotmixError, match=r"'x' is registered twice: by .*first and by .*second"):
        @registry.register("x")
        def second():
            pass
    assert registry["x"] is first
    with pytest.raises(CotmixError, match="without ':'"):
        registry.register("a:b", first)


def test_the_built_in_names_are_all_there():
    assert {"parity", "multiplication"} <= set(TASKS.names())
    assert {"star", "reinforce", "rloo", "grpo", "dr_grpo", "dapo"} <= set(ALGORITHMS.names())
    assert {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"} <= set(AGGREGATIONS.names())
    assert {"e2e", "chain"} <= set(REWARDS.names()) and {"chain_learnt", "greedy_learnt"} <= set(STOP_RULES.names())
    assert {"curves", "curves_by", "threshold", "resource_gap"} <= set(FIGURES.names())


@pytest.mark.parametrize("override, fragment", [
    ("posttrain.algorithm=grpoo", "did you mean 'grpo'"),
    ("posttrain.reward=chian", "did you mean 'chain'"),
    ("task.name=parrity", "did you mean 'parity'"),
    ("posttrain.loss_agg=token_man", "did you mean 'token_mean'"),
    ("pretrain.stop_when=chain_lernt", "did you mean 'chain_learnt'"),
    ("task.name=no_such_module_x:Task", "cannot import 'no_such_module_x'"),
    ("task.name=cotmix.tasks:NoSuchTask", "has no 'NoSuchTask'"),
    ("task.name=cotmix.config:Config", "is not a cotmix Task class"),
    ("posttrain.algorithm=cotmix.config:MAX_SEED", "is not a function"),
    ("task.name=:", "expected module:attribute"),
])
def test_unknown_names_and_bad_module_paths_are_one_line_listing_what_is_allowed(capsys, override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(overrides=[override])
    assert fragment in one_error_line(capsys, main(["config", override]))


def test_a_miss_lists_the_allowed_names():
    with pytest.raises(ConfigError) as exc:
        load_config(overrides=["posttrain.algorithm=ppo"])
    for name in ("star", "grpo", "dr_grpo", "dapo", "module:attribute"):
        assert name in str(exc.value)


def test_a_users_algorithm_and_reward_load_from_module_paths(tmp_path, monkeypatch):
    (tmp_path / "my_rl.py").write_text(textwrap.dedent('''
        import torch
        from cotmix.rl.algorithms import ALGORITHMS

        calls = []

        def half_grpo(ctx):
            calls.append(ctx.cfg.posttrain.prompts_per_step)
            return ALGORITHMS["grpo"](ctx)

        def short_is_good(task, prompts, responses):
            return (task.response_lengths(responses) <= 2).float()
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = load_config(overrides=["posttrain.algorithm=my_rl:half_grpo", "posttrain.reward=my_rl:short_is_good"])
    assert ALGORITHMS[cfg.posttrain.algorithm].__name__ == "half_grpo"
    from cotmix.tasks import make_task

    task = make_task(cfg.task)
    batch = task.sample(16, torch.Generator().manual_seed(0))
    rewards = task.reward(batch.prompts, batch.responses, cfg.posttrain.reward)
    assert torch.equal(rewards, (~batch.is_long).float())  # short demonstrations are 2 tokens long


def test_entry_points_register_installed_packages(tmp_path, monkeypatch):
    dist = tmp_path / "cotmix_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cotmix-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[cotmix.test_entries]\nchain_again = cotmix.rl.rewards:exact_chain\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("posttrain.reward", builtins=("cotmix.rl.rewards",), group="cotmix.test_entries")
    from cotmix.rl.rewards import exact_chain

    assert registry["chain_again"] is exact_chain and "chain_again" in registry.names()


def test_dr_grpo_and_dapo_are_grpo_with_their_own_normalisation_and_clip():
    from cotmix.registry import ADVANTAGES
    from cotmix.rl.losses import policy_loss

    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert torch.allclose(ADVANTAGES["group_norm"](rewards, 4, scale=False), rewards - 0.25)
    # A ratio of 1.25 on a positive advantage: clipped at 1.2 by GRPO's 0.2, not by DAPO's upper 0.28.
    logp, old = torch.log(torch.tensor([[1.25]])), torch.zeros(1, 1)
    grpo_loss, grpo_clipped = policy_loss(logp, old, torch.tensor([1.0]), 0.2)
    dapo_loss, dapo_clipped = policy_loss(logp, old, torch.tensor([1.0]), 0.2, 0.28)
    assert bool(grpo_clipped) and not bool(dapo_clipped)
    assert float(grpo_loss) == pytest.approx(-1.2) and float(dapo_loss) == pytest.approx(-1.25)
    # Below 1: both clip at 1 - 0.2 for a negative advantage.
    low = torch.log(torch.tensor([[0.7]]))
    assert float(policy_loss(low, old, torch.tensor([-1.0]), 0.2, 0.28)[0]) == pytest.approx(0.8)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    from cotmix.loops.pretrain import train_ntp
    from cotmix.rundir import prepare_run_dir, release_run_dir
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    run = tmp_path_factory.mktemp("pre") / "run"
    cfg = load_config(overrides=["task.d=6", "model.d_model=16", "model.n_head=2", "pretrain.steps=20",
                                 "pretrain.batch_size=32", "pretrain.stop_when=none", "eval.n_prompts=16",
                                 "eval.pass_k_prompts=8", "posttrain.steps=2", "posttrain.prompts_per_step=8",
                                 "posttrain.group_size=4", "posttrain.stop_when=none"])
    prepare_run_dir(run, cfg.to_dict(), resume=False)
    train_ntp(cfg, run, progress=False)
    release_run_dir(run)
    return load_checkpoint(resolve_checkpoint(run))


def rl_records(pretrained, out, overrides):
    """The RL metrics records of a tiny post-training, without wall times."""
    from cotmix.loops.posttrain import posttrain, posttrain_config
    from cotmix.rundir import read_metrics

    out.mkdir()
    posttrain(posttrain_config(pretrained.config, overrides), out, pretrained, progress=False)
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in read_metrics(out, "posttrain")]


def test_loss_agg_auto_is_each_algorithms_own_and_changes_no_number(pretrained, tmp_path):
    auto = rl_records(pretrained, tmp_path / "auto", ["posttrain.loss_agg=auto"])
    explicit = rl_records(pretrained, tmp_path / "explicit", ["posttrain.loss_agg=token_mean"])
    assert auto == explicit and any("loss" in r for r in auto)
    dr = rl_records(pretrained, tmp_path / "dr", ["posttrain.algorithm=dr_grpo"])
    assert {r["loss_agg"] for r in dr if "loss_agg" in r} == {"seq_mean_token_sum_norm"}
    assert dr != auto


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


def test_a_task_of_your_own_declares_its_options_and_the_checkpoint_fixes_its_shape(tmp_path, monkeypatch):
    """A task's own settings (task.KEY, or task.options.KEY) are typed and range-checked by its Options
    dataclass, a key it does not declare is refused with the ones it has, and post-training may change
    p_cot but not a setting that shapes the task."""
    (tmp_path / "leapn.py").write_text(textwrap.dedent('''
        from dataclasses import dataclass

        from cotmix.options import opt
        from cotmix.tasks import ParityTask


        class LeapN(ParityTask):
            @dataclass
            class Options(ParityTask.Options):
                leap: int = opt(3, "write every leap-th prefix parity", lo=1, hi=8)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    from cotmix.loops.posttrain import posttrain_config
    from cotmix.tasks import make_task

    cfg = load_config(overrides=["task.name=leapn:LeapN", "task.d=9", "task.options.leap=4"])
    assert cfg.task.options == {"d": 9, "leap": 4, "chain_noise": 0.0} and make_task(cfg.task).leap == 4
    assert load_config(overrides=["task.name=leapn:LeapN"]).task.leap == 3  # its default
    assert cfg.to_dict()["task"]["leap"] == 4  # config.json holds it beside the shared settings
    for bad, fragment in (("task.leap=0", r"task.leap=0: must be in \[1, 8\]"),
                          ("task.options.leap=9", r"task.leap=9: must be in \[1, 8\]"),
                          ("task.leep=2", "unknown config key 'task.leep' \\(did you mean 'task.leap'\\?\\): the "
                                          "leapn:LeapN task has d, leap, chain_noise"),
                          ("task.leap=x", "expected an integer"),
                          ("task.leap=9", r"task.leap=9: must be in \[1, 8\]")):
        with pytest.raises(ConfigError, match=fragment):
            load_config(overrides=["task.name=leapn:LeapN", bad])
    with pytest.raises(ConfigError, match="the multiplication task has digits_a, digits_b"):
        load_config(overrides=["task.name=multiplication", "task.leap=2"])
    assert posttrain_config(cfg, ["task.p_cot=0.4"]).task.p_cot == 0.4
    for frozen in ("task.leap=2", "task.options.leap=2", "task.d=10", "task.validation_fraction=0.2", "model.n_layer=3"):
        with pytest.raises(ConfigError, match=f"{frozen.split('=')[0].replace('options.', '')}: cannot change after "
                                              "pre-training"):
            posttrain_config(cfg, [frozen])


def test_each_built_in_task_states_its_theory_hooks():
    """Where greedy decides (the response index of the long/short split) and the calibrated greedy
    threshold there: 1/3 for parity's two answers, 1/11 for the digit sum's ten; multiplication decides
    by value at its second answer digit, with no single threshold (docs/theory.md)."""
    from cotmix.tasks import DigitSumTask, MultiplicationTask, ParityTask

    assert ParityTask.greedy_threshold() == pytest.approx(1 / 3)
    assert DigitSumTask.greedy_threshold() == pytest.approx(1 / 11)
    assert MultiplicationTask.greedy_threshold() is None
    assert ParityTask(d=8, p_cot=0.2).decision_position == DigitSumTask(d=8, p_cot=0.2).decision_position == 1
    task = MultiplicationTask(digits_a=3, digits_b=3, p_cot=0.2)
    assert task.decision_position == task.answer_len == 6  # the separator after P_0 vs EOS (the value decision comes earlier, at digit 2)

"""RL post-training: every algorithm runs and reports TRL-named metrics; STaR follows the
recursion p_{n+1} = 2 p_n / (1 + p_n); a killed posttrain resumes to the same result."""

import math

import pytest
import torch

from cotmix.errors import ConfigError
from cotmix.loops.posttrain import posttrain, posttrain_config, preflight_warnings
from cotmix.loops.pretrain import train_ntp
from cotmix.registry import ALGORITHMS
from cotmix.rundir import read_metrics, read_summary
from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint
from cotmix.train.phase import Phase

STEP_METRICS = {"reward", "reward_std", "frac_reward_zero_std", "completions/mean_length",
                "completions/min_length", "completions/max_length", "completions/clipped_ratio",
                "completions/long_fraction", "entropy", "clip_ratio"}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    from conftest import TINY

    from cotmix.config import load_config

    run = tmp_path_factory.mktemp("pre")
    cfg = load_config(overrides=TINY)
    train_ntp(cfg, run, progress=False)
    return load_checkpoint(resolve_checkpoint(run))


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS.names()))
def test_each_algorithm_runs_logs_and_changes_the_model(pretrained, tmp_path, algorithm):
    cfg = posttrain_config(pretrained.config, [f"posttrain.algorithm={algorithm}", "posttrain.lr=1e-2"])
    entry = posttrain(cfg, tmp_path, pretrained, progress=False)
    steps = [r for r in read_metrics(tmp_path, "posttrain") if not r.get("eval")]
    assert len(steps) == cfg.posttrain.steps
    assert all(STEP_METRICS <= r.keys() for r in steps)
    evals = [r for r in read_metrics(tmp_path, "posttrain") if r.get("eval")]
    assert [r["step"] for r in evals] == [0, 2, 4]
    assert {"pass@1", "pass@2", "pass@4", "pass@8"} <= evals[-1].keys()
    assert entry["samples"] == 4 * 8 * 4 and entry["algorithm"] == algorithm
    final = load_checkpoint(resolve_checkpoint(tmp_path, "posttrain"))
    changed = any(not torch.equal(final.model_tensors[k], v) for k, v in pretrained.model_tensors.items())
    assert changed
    own = {"star": None, "dr_grpo": "seq_mean_token_sum_norm"}.get(algorithm, "token_mean")  # loss_agg=auto
    assert all(r.get("loss_agg") == own for r in steps)


@pytest.mark.parametrize("kl_coef", [0.0, 0.1])
def test_kl_is_computed_and_logged_only_with_a_kl_penalty(pretrained, tmp_path, kl_coef):
    """As TRL at beta = 0: without a KL term the reference model is not run."""
    cfg = posttrain_config(pretrained.config, ["posttrain.algorithm=grpo", "posttrain.steps=2",
                                               f"posttrain.kl_coef={kl_coef}"])
    posttrain(cfg, tmp_path, pretrained, progress=False)
    steps = [r for r in read_metrics(tmp_path, "posttrain") if not r.get("eval")]
    if kl_coef:
        assert all(r["kl"] >= 0 for r in steps)  # the k3 estimator is non-negative
        assert steps[-1]["kl"] > 0  # the policy moved away from the start
    else:
        assert not any("kl" in r for r in steps)


def test_posttrain_refuses_to_change_the_model_shape(pretrained):
    with pytest.raises(ConfigError, match="cannot change after pre-training"):
        posttrain_config(pretrained.config, ["model.d_model=64"])
    with pytest.raises(ConfigError, match="max_new_tokens=99"):
        posttrain_config(pretrained.config, ["posttrain.max_new_tokens=99"])
    # where it runs is not part of the shape: a GPU-trained checkpoint continues on a laptop
    assert posttrain_config(pretrained.config, ["device=cpu", "precision=fp32"]).device == "cpu"


@pytest.mark.slow
def test_killed_posttrain_resumes_to_the_same_result(pretrained, tmp_path, monkeypatch):
    cfg = posttrain_config(pretrained.config, ["posttrain.algorithm=grpo", "posttrain.steps=5"])
    (tmp_path / "straight").mkdir()
    posttrain(cfg, tmp_path / "straight", pretrained, progress=False)
    original = Phase.log

    def die_at_three(self, metrics):
        record = original(self, metrics)
        if self.step == 3 and not metrics.get("eval"):
            raise KeyboardInterrupt
        return record

    (tmp_path / "killed").mkdir()
    monkeypatch.setattr(Phase, "log", die_at_three)
    with pytest.raises(KeyboardInterrupt):
        posttrain(cfg, tmp_path / "killed", pretrained, progress=False)
    monkeypatch.setattr(Phase, "log", original)
    posttrain(cfg, tmp_path / "killed", pretrained, resume=True, progress=False)

    def strip(records):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]

    assert strip(read_metrics(tmp_path / "killed")) == strip(read_metrics(tmp_path / "straight"))
    assert read_summary(tmp_path / "killed")["posttrain"]["eval"] == read_summary(tmp_path / "straight")["posttrain"]["eval"]
    assert read_summary(tmp_path / "killed")["posttrain"]["compute"] == read_summary(tmp_path / "straight")["posttrain"]["compute"]


def test_star_follows_the_long_fraction_recursion(calibrated, tmp_path):
    """Paper §3: with the chain reward each STaR round keeps long samples at rate p and short
    correct ones at (1-p)/2, so the next long fraction is 2p/(1+p).

    The long fraction of each round's 2048 rollouts is a binomial mean (4 standard errors
    ~0.04); 0.05 more is allowed for how closely 3 epochs of NTP fit the kept samples."""
    cfg0, _, run = calibrated
    start = load_checkpoint(resolve_checkpoint(run))
    cfg = posttrain_config(start.config, ["posttrain.algorithm=star", "posttrain.reward=chain", "posttrain.steps=3",
                                          "posttrain.prompts_per_step=512", "posttrain.group_size=4",
                                          "posttrain.star_epochs=3", "posttrain.lr=1e-3", "posttrain.eval_interval=10"])
    posttrain(cfg, tmp_path, start, progress=False)
    rounds = [r["completions/long_fraction"] for r in read_metrics(tmp_path, "posttrain") if not r.get("eval")]
    n = 2048
    for before, after in zip(rounds, rounds[1:]):
        predicted = 2 * before / (1 + before)
        assert abs(after - predicted) <= 4 * math.sqrt(predicted * (1 - predicted) / n) + 0.05, rounds
    assert rounds[-1] > rounds[0] + 0.15  # the long fraction grows, though length is never rewarded


def test_false_positive_rewards_wrong_answers_and_logs_the_true_reward(pretrained, tmp_path):
    cfg = posttrain_config(pretrained.config, ["posttrain.false_positive=1.0", "posttrain.steps=2",
                                               "posttrain.reward=e2e"])
    posttrain(cfg, tmp_path, pretrained, progress=False)
    steps = [r for r in read_metrics(tmp_path, "posttrain") if not r.get("eval")]
    assert all(r["reward"] == 1.0 for r in steps)  # every response rewarded
    assert all(r["rewards/true_mean"] < 1.0 for r in steps)  # ~half the tiny model's answers are wrong


def test_token_logprobs_of_length_groups_match_one_padded_forward(pretrained):
    """Cutting each length group to its own length (cotmix.buckets) changes no log-prob: they equal
    those of one forward pass over the padded batch, and are 0 after each row's last token."""
    from cotmix.model.sampler import generate
    from cotmix.model.transformer import build_model
    from cotmix.rl.algorithms import token_logprobs
    from cotmix.tasks import make_task

    cfg = pretrained.config
    task = make_task(cfg.task)
    model = build_model(cfg.model, task)
    pretrained.load_model(model)
    prompts = task.sample(32, torch.Generator().manual_seed(3)).prompts
    gen = generate(model, prompts, group_size=4, max_new_tokens=task.long_response_len, eos_id=task.eos_id,
                   pad_id=task.pad_id, generator=torch.Generator().manual_seed(4))
    assert len(gen.lengths.unique()) >= 2  # both short and long answers: more than one group
    prompts = prompts.repeat_interleave(4, dim=0)
    logp, entropy = token_logprobs(model, prompts, gen.tokens, 1.3, gen.mask)
    sequences = torch.cat([prompts, gen.tokens], dim=1)
    full = torch.log_softmax(model(sequences[:, :-1])[:, prompts.shape[1] - 1 :] / 1.3, dim=-1)
    reference = full.gather(2, gen.tokens[..., None]).squeeze(-1)
    torch.testing.assert_close(logp[gen.mask], reference[gen.mask], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(entropy[gen.mask], -(full.exp() * full).sum(-1)[gen.mask], rtol=1e-5, atol=1e-5)
    assert (logp[~gen.mask] == 0).all() and (entropy[~gen.mask] == 0).all()


def test_preflight_warns_when_the_chain_is_not_learnt(pretrained, tmp_path, capsys):
    """TINY pre-trains 20 steps: its long answers are not right end to end, which RL cannot fix."""
    assert pretrained.state["last_eval"]["chain_exact_accuracy"] < 0.99
    cfg = posttrain_config(pretrained.config, ["posttrain.steps=1"])
    entry = posttrain(cfg, tmp_path, pretrained, progress=False)
    err = capsys.readouterr().err
    assert "cotmix: warning: posttrain: RL starts from a model whose held-out long answers are right end to end only" in err
    assert entry["preflight"] and "amplifies the long answers as they are" in entry["preflight"][0]
    cfg = posttrain_config(pretrained.config, ["posttrain.steps=0"])  # an NTP-only arm: no RL to warn about
    assert preflight_warnings(cfg, pretrained.state["last_eval"]) == []


def test_no_preflight_warning_from_a_learnt_chain(calibrated, tmp_path, capsys):
    _, metrics, run = calibrated
    assert metrics["chain_exact_accuracy"] >= 0.99
    start = load_checkpoint(resolve_checkpoint(run))
    cfg = posttrain_config(start.config, ["posttrain.steps=1", "posttrain.prompts_per_step=16"])
    assert posttrain(cfg, tmp_path, start, progress=False)["preflight"] == []
    assert "warning" not in capsys.readouterr().err


def test_rl_stops_once_greedy_generalises(calibrated, tmp_path):
    """posttrain.stop_when=greedy_learnt ends RL at the first evaluation whose greedy accuracy on the
    validation prompts (never the test ones) is >= 0.99, and says so."""
    _, _, run = calibrated
    start = load_checkpoint(resolve_checkpoint(run))
    cfg = posttrain_config(start.config, ["posttrain.stop_when=greedy_learnt", "posttrain.steps=40",
                                          "posttrain.eval_interval=2", "posttrain.prompts_per_step=32"])
    entry = posttrain(cfg, tmp_path, start, progress=False)
    evals = [r for r in read_metrics(tmp_path, "posttrain") if r.get("eval")]
    assert entry["stop_reason"] == "greedy_learnt" and entry["steps"] < 40
    # cotmix.rl.predict said so before the first step, from the validation inputs (0.25 < 1/3: NTP alone short)
    assert entry["prediction"]["generalises"] == "yes" and entry["prediction"]["measured_on"] == "validation"
    assert entry["prediction"]["ntp_alone"]["greedy"] == "short"
    decided = [r["validation"]["greedy_accuracy"] for r in evals]
    assert decided[-1] >= 0.99 and all(value < 0.99 for value in decided[:-1])

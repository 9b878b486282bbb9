"""Advantages, clipping and the three loss aggregations on hand-computed examples."""

import math

import pytest
import torch

from cotmix.rl.losses import ADVANTAGES, aggregate, group_reward_stats, kl_k3, policy_loss

REWARDS = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # two groups of 4


def test_group_norm_centres_and_scales_by_unbiased_group_std():
    adv = ADVANTAGES["group_norm"](REWARDS, 4, scale=True, eps=1e-4)
    expected = 0.5 / (math.sqrt(1 / 3) + 1e-4)  # deviation 0.5, unbiased std sqrt(1/3), TRL's eps
    assert adv[:4].tolist() == pytest.approx([expected, -expected, -expected, expected])
    assert adv[4:].tolist() == [0.0] * 4  # a group with equal rewards carries no signal
    unscaled = ADVANTAGES["group_norm"](REWARDS, 4, scale=False)
    assert unscaled.tolist() == [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0]


def test_rloo_uses_the_mean_of_the_other_samples():
    adv = ADVANTAGES["rloo"](REWARDS, 4)
    assert adv[:4].tolist() == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])
    assert adv[4:].tolist() == [0.0] * 4


def test_reinforce_baselines():
    assert ADVANTAGES["none"](REWARDS, 4).tolist() == REWARDS.tolist()
    assert ADVANTAGES["batch_mean"](REWARDS, 4).tolist() == pytest.approx([0.25, -0.75, -0.75, 0.25] + [0.25] * 4)


def test_reward_group_stats_use_trl_names():
    stats = group_reward_stats(REWARDS, 4)
    assert stats["reward_std"] == pytest.approx(math.sqrt(1 / 3) / 2)
    assert stats["frac_reward_zero_std"] == 0.5


LOSS = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])
MASK = torch.tensor([[True, True, True], [True, False, False]])


def test_token_mean_averages_over_all_real_tokens():
    assert aggregate(LOSS, MASK, "token_mean", 3).item() == pytest.approx(10 / 4)


def test_seq_mean_token_mean_averages_within_sequences_first():
    assert aggregate(LOSS, MASK, "seq_mean_token_mean", 3).item() == pytest.approx((2 + 4) / 2)


def test_seq_mean_token_sum_norm_divides_by_a_constant():
    assert aggregate(LOSS, MASK, "seq_mean_token_sum_norm", 5).item() == pytest.approx(10 / (2 * 5))


def test_seq_mean_token_mean_weights_short_answers_more():
    """Per-token gradient weight: 1/len in original GRPO, the same for every token in DAPO."""
    logp = torch.zeros(2, 4, requires_grad=True)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    aggregate(logp * 1.0, mask, "seq_mean_token_mean", 4).backward()
    assert logp.grad[0, 0] == pytest.approx(2 * logp.grad[1, 0])
    logp.grad = None
    aggregate(logp * 1.0, mask, "token_mean", 4).backward()
    assert logp.grad[0, 0] == pytest.approx(logp.grad[1, 0])


def test_clipped_surrogate_by_hand():
    old = torch.zeros(4, 1)
    logp = torch.log(torch.tensor([[1.5], [1.5], [0.5], [0.5]]))
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, clipped = policy_loss(logp, old, adv, clip_eps=0.2)
    # -min(r A, clip(r) A): r=1.5,A=+1 -> -1.2 (clipped); r=1.5,A=-1 -> 1.5; r=.5,A=+1 -> -.5; r=.5,A=-1 -> .8 (clipped)
    assert loss.squeeze(1).tolist() == pytest.approx([-1.2, 1.5, -0.5, 0.8])
    assert clipped.squeeze(1).tolist() == [True, False, False, True]


def test_unclipped_gradient_at_ratio_one_is_reinforce():
    logp = torch.tensor([[-0.7, -1.2]], requires_grad=True)
    loss, _ = policy_loss(logp, logp.detach(), torch.tensor([0.3]), clip_eps=None)
    loss.sum().backward()
    assert logp.grad[0].tolist() == pytest.approx([-0.3, -0.3])


def test_k3_kl_is_zero_at_equality_and_positive_otherwise():
    a = torch.tensor([-0.5, -1.0, -2.0])
    assert kl_k3(a, a).abs().max() == 0
    assert (kl_k3(a, a + torch.tensor([0.3, -0.2, 0.1])) > 0).all()

"""Advantage estimators, the clipped policy-gradient loss, and loss aggregation.

Small functions registered by name (cotmix.registry), as in veRL: an algorithm picks an advantage
estimator and an aggregation mode; adding one means registering a function, here or in your own
module (`@AGGREGATIONS.register("my_norm")`).

Shapes: rewards (rows,) with rows = prompts * group_size, the `group_size` rows of one
prompt adjacent; per-token tensors (rows, max_new_tokens) with a bool `mask` of real
response tokens.
"""

from __future__ import annotations

import torch

from cotmix.registry import ADVANTAGES, AGGREGATIONS

register_advantage = ADVANTAGES.register


@register_advantage("none")
def advantage_none(rewards: torch.Tensor, group_size: int, **_) -> torch.Tensor:
    """A = r: plain REINFORCE, no baseline."""
    return rewards.clone()


@register_advantage("batch_mean")
def advantage_batch_mean(rewards: torch.Tensor, group_size: int, **_) -> torch.Tensor:
    """A = r - mean(r over the whole batch)."""
    return rewards - rewards.mean()


@register_advantage("rloo")
def advantage_rloo(rewards: torch.Tensor, group_size: int, **_) -> torch.Tensor:
    """A_i = r_i - mean of the *other* rewards of its group (leave-one-out, unbiased baseline)."""
    grouped = rewards.view(-1, group_size)
    others = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - others).view(-1)


@register_advantage("group_norm")
def advantage_group_norm(rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4,
                         **_) -> torch.Tensor:
    """GRPO: A = (r - group mean) / (group std + eps), the std unbiased as in TRL; scale=False
    keeps only the centring (Dr. GRPO)."""
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale and group_size > 1:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.view(-1)


def group_reward_stats(rewards: torch.Tensor, group_size: int) -> dict:
    """TRL's reward_std (mean over groups of the group's std) and frac_reward_zero_std."""
    grouped = rewards.view(-1, group_size)
    std = grouped.std(dim=1) if group_size > 1 else torch.zeros(grouped.shape[0])
    return {"reward_std": float(std.mean()), "frac_reward_zero_std": float((std == 0).float().mean())}


def aggregate(loss: torch.Tensor, mask: torch.Tensor, mode: str, max_new_tokens: int) -> torch.Tensor:
    """Reduce per-token losses (rows, T) with the real-token mask (rows, T) to a scalar, by the
    aggregation registered as `mode`."""
    return AGGREGATIONS[mode](loss, mask.float(), max_new_tokens)


@AGGREGATIONS.register("token_mean")
def token_mean(loss: torch.Tensor, mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Sum over all real tokens / their number (DAPO)."""
    return (loss * mask).sum() / mask.sum().clamp(min=1)


@AGGREGATIONS.register("seq_mean_token_mean")
def seq_mean_token_mean(loss: torch.Tensor, mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Mean over rows of (row sum / row length): original GRPO. A token of a 2-token answer weighs
    (d+1)/2 times a token of a long one, a bias to short answers."""
    return ((loss * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).mean()


@AGGREGATIONS.register("seq_mean_token_sum_norm")
def seq_mean_token_sum_norm(loss: torch.Tensor, mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Sum over all real tokens / (rows * max_new_tokens): Dr. GRPO, a constant normaliser."""
    return (loss * mask).sum() / (loss.shape[0] * max_new_tokens)


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                clip_eps: float | None, clip_eps_high: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO surrogate -min(ratio * A, clip(ratio) * A) with ratio = exp(logp - old_logp),
    clipped to [1 - clip_eps, 1 + clip_eps_high] (clip_eps_high defaults to clip_eps; DAPO's
    clip-higher sets it larger, so rare tokens with positive advantage can grow faster).

    logp, old_logp: (rows, T); advantages: (rows,). With clip_eps=None it is -ratio * A, whose
    gradient at ratio = 1 is the REINFORCE gradient -A * grad logp. Returns (loss (rows, T),
    clipped (rows, T) bool: where the clipped branch was the active one)."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    unclipped = -adv * ratio
    if clip_eps is None:
        return unclipped, torch.zeros_like(unclipped, dtype=torch.bool)
    high = clip_eps if clip_eps_high is None else clip_eps_high
    clipped = -adv * ratio.clamp(1 - clip_eps, 1 + high)
    return torch.maximum(unclipped, clipped), clipped > unclipped


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate exp(ref - logp) - (ref - logp) - 1 (>= 0)."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1

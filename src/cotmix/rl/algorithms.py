"""RL algorithms, each one function registered by name (cotmix.registry): `ALGORITHMS[name](ctx) -> metrics`.

One call is one step (one STaR round): sample `prompts_per_step x group_size` responses
from the current policy on fresh prompts, score them with the task's reward, update the
model. Every algorithm reports the same rollout metrics (TRL's names) so runs compare.
Length is never rewarded by any of them.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from cotmix.config import Config
from cotmix.model.buckets import length_buckets
from cotmix.model.device import model_device
from cotmix.model.sampler import Generation, generate
from cotmix.registry import ADVANTAGES, ALGORITHMS
from cotmix.rl.losses import aggregate, group_reward_stats, kl_k3, policy_loss
from cotmix.tasks import LONG, Batch, Task
from cotmix.train.losses import ntp_loss


@dataclass
class RLContext:
    cfg: Config
    task: Task
    model: torch.nn.Module
    ref_model: torch.nn.Module  # frozen copy of the starting model: the KL penalty (kl_coef > 0), STaR's `kl`
    optimizer: torch.optim.Optimizer
    data_gen: torch.Generator  # prompts (and STaR's shuffling)
    sample_gen: torch.Generator  # the policy's samples
    max_new_tokens: int
    observe: Callable[[torch.Tensor], None] = lambda prompts: None  # sees every batch of training prompts


@dataclass
class Rollout:
    """prompts (rows, prompt_len), gen (rows, max_new_tokens) tensors, rewards (rows,)."""

    prompts: torch.Tensor
    gen: Generation
    rewards: torch.Tensor


def rollout(ctx: RLContext) -> tuple[Rollout, dict]:
    p = ctx.cfg.posttrain
    device = model_device(ctx.model)
    prompts = ctx.task.sample(p.prompts_per_step, ctx.data_gen).prompts
    ctx.observe(prompts)
    gen = generate(ctx.model, prompts.to(device), group_size=p.group_size, max_new_tokens=ctx.max_new_tokens,
                   temperature=p.temperature, top_k=p.top_k, eos_id=ctx.task.eos_id,
                   pad_id=ctx.task.pad_id, generator=ctx.sample_gen)
    prompts = prompts.repeat_interleave(p.group_size, dim=0)
    tokens = gen.tokens.cpu()  # scored on the CPU, where the task's code and the generators live
    rewards = true_rewards = ctx.task.reward(prompts, tokens, p.reward)
    if p.false_positive > 0:  # a noisy verifier: some wrong responses are rewarded too
        lucky = torch.rand(rewards.shape, generator=ctx.sample_gen) < p.false_positive
        rewards = torch.where(lucky, torch.ones_like(rewards), rewards)
    lengths = gen.lengths.float()
    clipped = ~(tokens == ctx.task.eos_id).any(dim=1)
    metrics = {
        "reward": float(rewards.mean()),
        **group_reward_stats(rewards, p.group_size),
        "completions/mean_length": float(lengths.mean()),
        "completions/min_length": float(lengths.min()),
        "completions/max_length": float(lengths.max()),
        "completions/clipped_ratio": float(clipped.float().mean()),
        "completions/long_fraction": float((ctx.task.classify(prompts, tokens) == LONG).float().mean()),
    }
    if p.false_positive > 0:
        metrics["rewards/true_mean"] = float(true_rewards.mean())
    return Rollout(prompts.to(device), gen, rewards.to(device)), metrics


def token_logprobs(model, prompts: torch.Tensor, tokens: torch.Tensor, temperature: float,
                   mask: torch.Tensor):
    """Log-probs (rows, T) of `tokens` given `prompts` under softmax(logits / temperature), and the
    per-token entropy (rows, T) of that distribution; both 0 after a row's last real token (`mask`,
    (rows, T) bool). Rows run in groups of equal response length, each cut to that length (see
    cotmix.model.buckets), so a 2-token answer does not pay for d+1 positions."""
    rows, width = tokens.shape
    logp = torch.zeros(rows, width, device=tokens.device)
    entropy = torch.zeros(rows, width, device=tokens.device)
    lengths = mask.sum(dim=1)
    sequences = torch.cat([prompts, tokens], dim=1)
    for idx in length_buckets(lengths):
        n = max(1, int(lengths[idx].max()))  # response tokens scored in this group
        seq = sequences[idx, : prompts.shape[1] + n]
        logits = model(seq[:, :-1])[:, prompts.shape[1] - 1 :].float() / temperature
        logp_all = F.log_softmax(logits, dim=-1)
        logp[idx, :n] = logp_all.gather(2, seq[:, prompts.shape[1] :, None]).squeeze(-1)
        entropy[idx, :n] = -(logp_all.exp() * logp_all).sum(dim=-1)
    return logp * mask, entropy * mask


def _optimizer_step(ctx: RLContext, loss: torch.Tensor) -> float:
    ctx.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip = ctx.cfg.posttrain.grad_clip
    norm = torch.nn.utils.clip_grad_norm_(ctx.model.parameters(), clip if clip > 0 else float("inf"))
    ctx.optimizer.step()
    return float(norm)


def policy_gradient_update(ctx: RLContext, ro: Rollout, advantages: torch.Tensor, inner_steps: int,
                           clip_eps: float | None, clip_eps_high: float | None = None,
                           loss_agg: str | None = None) -> dict:
    """`inner_steps` optimizer steps on one rollout with the surrogate of `policy_loss`, the
    per-token losses reduced by `loss_agg` (default: posttrain.loss_agg, or the algorithm's own
    when that is `auto`).

    The old log-probs are those of the first inner step's forward pass (detached), so the
    first step is exactly on-policy (ratio = 1) and clipping acts from the second."""
    p = ctx.cfg.posttrain
    loss_agg = loss_agg or p.loss_agg
    tokens, mask = ro.gen.tokens, ro.gen.mask
    ref_logp = None
    if p.kl_coef > 0:  # as in TRL (beta = 0): no KL term, no reference forward pass, no `kl` metric
        with torch.no_grad():
            ref_logp, _ = token_logprobs(ctx.ref_model, ro.prompts, tokens, p.temperature, mask)
    old_logp = None
    stats = defaultdict(float)
    ctx.model.train()
    for _ in range(inner_steps):
        logp, entropy = token_logprobs(ctx.model, ro.prompts, tokens, p.temperature, mask)
        if old_logp is None:
            old_logp = logp.detach()
        per_token, clipped = policy_loss(logp, old_logp, advantages, clip_eps, clip_eps_high)
        real = mask.float().sum().clamp(min=1)
        if ref_logp is not None:
            kl = kl_k3(logp, ref_logp)
            per_token = per_token + p.kl_coef * kl
            stats["kl"] += float((kl.detach() * mask).sum() / real) / inner_steps
        loss = aggregate(per_token, mask, loss_agg, ctx.max_new_tokens)
        grad_norm = _optimizer_step(ctx, loss)
        for name, value in (("loss", loss.item()), ("grad_norm", grad_norm),
                            ("entropy", float((entropy.detach() * mask).sum() / real)),
                            ("clip_ratio", float((clipped & mask).sum() / real))):
            stats[name] += value / inner_steps
    return {**stats, "loss_agg": loss_agg}


@torch.no_grad()
def sample_stats(ctx: RLContext, ro: Rollout) -> dict:
    """kl to the start and entropy of the sampled tokens, for algorithms without a PG update."""
    t = ctx.cfg.posttrain.temperature
    logp, entropy = token_logprobs(ctx.model, ro.prompts, ro.gen.tokens, t, ro.gen.mask)
    ref_logp, _ = token_logprobs(ctx.ref_model, ro.prompts, ro.gen.tokens, t, ro.gen.mask)
    mask = ro.gen.mask.float()
    real = mask.sum().clamp(min=1)
    return {"kl": float((kl_k3(logp, ref_logp) * mask).sum() / real),
            "entropy": float((entropy * mask).sum() / real), "clip_ratio": 0.0}


register_algorithm = ALGORITHMS.register


def aggregation(ctx: RLContext, own: str) -> str:
    """posttrain.loss_agg, or the algorithm's `own` when the config leaves it at `auto`."""
    return own if ctx.cfg.posttrain.loss_agg == "auto" else ctx.cfg.posttrain.loss_agg


@register_algorithm("reinforce")
def reinforce(ctx: RLContext) -> dict:
    """REINFORCE: one on-policy gradient step per rollout on -A * log pi(response), with
    A = r (baseline `none`) or r minus the batch mean reward (baseline `mean`). Keeps the
    chosen loss aggregation and the optional KL penalty; drops groups, ratios and clipping."""
    ro, metrics = rollout(ctx)
    name = "batch_mean" if ctx.cfg.posttrain.baseline == "mean" else "none"
    adv = ADVANTAGES[name](ro.rewards, ctx.cfg.posttrain.group_size)
    return {**metrics, **policy_gradient_update(ctx, ro, adv, inner_steps=1, clip_eps=None,
                                                loss_agg=aggregation(ctx, "token_mean"))}


@register_algorithm("rloo")
def rloo(ctx: RLContext) -> dict:
    """RLOO: REINFORCE whose baseline for each sample is the mean reward of the other samples
    of its group (unbiased; no std scaling, no ratio clipping, one step per rollout)."""
    ro, metrics = rollout(ctx)
    adv = ADVANTAGES["rloo"](ro.rewards, ctx.cfg.posttrain.group_size)
    return {**metrics, **policy_gradient_update(ctx, ro, adv, inner_steps=1, clip_eps=None,
                                                loss_agg=aggregation(ctx, "token_mean"))}


@register_algorithm("grpo")
def grpo(ctx: RLContext) -> dict:
    """GRPO: advantages are rewards centred on their group mean and (if scale_rewards) divided
    by the group std; `inner_steps` optimizer steps per rollout on the PPO clipped ratio
    objective; KL to the frozen start only if kl_coef > 0 (off by default, as in recent
    practice). No value network, no GAE. Groups whose rewards are all equal give zero advantage."""
    p = ctx.cfg.posttrain
    ro, metrics = rollout(ctx)
    adv = ADVANTAGES["group_norm"](ro.rewards, p.group_size, scale=p.scale_rewards)
    return {**metrics, **policy_gradient_update(ctx, ro, adv, inner_steps=p.inner_steps, clip_eps=p.clip_eps,
                                                clip_eps_high=p.clip_eps_high or None,
                                                loss_agg=aggregation(ctx, "token_mean"))}


@register_algorithm("dr_grpo")
def dr_grpo(ctx: RLContext) -> dict:
    """Dr. GRPO (Liu et al., 2025, "Understanding R1-Zero-like training"): GRPO without its two
    length and difficulty biases. Advantages are centred on the group mean but never divided by the
    group std (whatever posttrain.scale_rewards says), and the loss is divided by a constant
    (seq_mean_token_sum_norm: rows x max_new_tokens) unless posttrain.loss_agg names another.
    Keeps GRPO's ratio clipping and inner steps."""
    p = ctx.cfg.posttrain
    ro, metrics = rollout(ctx)
    adv = ADVANTAGES["group_norm"](ro.rewards, p.group_size, scale=False)
    return {**metrics, **policy_gradient_update(ctx, ro, adv, inner_steps=p.inner_steps, clip_eps=p.clip_eps,
                                                clip_eps_high=p.clip_eps_high or None,
                                                loss_agg=aggregation(ctx, "seq_mean_token_sum_norm"))}


DAPO_CLIP_HIGH = 0.28  # DAPO's (Yu et al., 2025) upper clip, beside its lower 0.2


@register_algorithm("dapo")
def dapo(ctx: RLContext) -> dict:
    """DAPO's clip-higher (Yu et al., 2025): GRPO whose ratio is clipped to [1 - clip_eps,
    1 + clip_eps_high] with clip_eps_high = 0.28 unless posttrain.clip_eps_high sets it, so that
    unlikely tokens with a positive advantage (here: the first step of a rare long answer) can grow
    faster; token-mean loss. Kept from DAPO: clip-higher and token-level averaging. Not kept:
    dynamic sampling (regrowing zero-variance groups) and overlong reward shaping (no response here
    is ever truncated for length). Groups with equal rewards give zero advantage, as in GRPO."""
    p = ctx.cfg.posttrain
    ro, metrics = rollout(ctx)
    adv = ADVANTAGES["group_norm"](ro.rewards, p.group_size, scale=p.scale_rewards)
    return {**metrics, **policy_gradient_update(ctx, ro, adv, inner_steps=p.inner_steps, clip_eps=p.clip_eps,
                                                clip_eps_high=p.clip_eps_high or DAPO_CLIP_HIGH,
                                                loss_agg=aggregation(ctx, "token_mean"))}


@register_algorithm("star")
def star(ctx: RLContext) -> dict:
    """STaR (expert iteration, rejection-sampling fine-tuning): keep the samples with reward 1
    and run `star_epochs` epochs of NTP on them (minibatches of `star_batch_size`). No negative
    signal, no baseline, no KL. With star_restart every round trains the *pre-trained* weights
    (fresh optimizer) on samples from the current model, as the original STaR did."""
    p = ctx.cfg.posttrain
    ro, metrics = rollout(ctx)
    metrics.update(sample_stats(ctx, ro))
    keep = ro.rewards > 0.5
    kept = Batch(ro.prompts[keep], ro.gen.tokens[keep], torch.zeros(int(keep.sum()), dtype=torch.bool))
    if p.star_restart:
        ctx.model.load_state_dict(ctx.ref_model.state_dict())
        ctx.optimizer.state = defaultdict(dict)
    losses = []
    ctx.model.train()
    for _ in range(p.star_epochs if len(kept.prompts) else 0):
        order = torch.randperm(len(kept.prompts), generator=ctx.data_gen)
        for idx in order.split(p.star_batch_size):
            mini = Batch(kept.prompts[idx], kept.responses[idx], kept.is_long[idx])
            loss = ntp_loss(ctx.model, ctx.task, mini)
            _optimizer_step(ctx, loss)
            losses.append(loss.item())
    return {**metrics, "star/kept": int(keep.sum()), "loss": sum(losses) / max(1, len(losses))}


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    ref = copy.deepcopy(model).eval()
    for param in ref.parameters():
        param.requires_grad_(False)
    return ref

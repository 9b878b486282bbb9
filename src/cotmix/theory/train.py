"""Algorithm 3 of the paper (averaged SGD per position) and STaR on the linear model.

Algorithm 3: every weight starts at 0; each step takes fresh samples; position k does
    w <- w - eta_t (lambda w + grad of its logistic loss),   eta_t = 1 / (lambda t),
where t counts the steps that gave position k a sample (chain positions only count long
samples); the output is the average of the iterates; each position stops at its horizon.

What we vectorise, and why the estimator is still the paper's:
- `runs` (seeds or p_cot values) are independent copies side by side;
- a step may use a minibatch of B samples (the gradient is their mean; B = 1 is the paper's);
- positions 1 and 2a learn from a stream of D(p) samples, and the chain positions either from
  the long samples of that same stream (`chain_from_mixture`, the paper's Algorithm 3 to the
  letter, for sample-complexity counts) or from a separate stream of long samples (their only
  data in the paper too: each position's estimator is the paper's, only the coupling between
  positions through shared samples is dropped, which no theorem uses).

STaR (Theorem 2): each round samples N responses from the current model, keeps those with
reward 1, and runs Algorithm 3 from zero on the kept samples (one pass, minibatches of B).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cotmix.theory.linear_model import (
    LinearARModel,
    chain_correct,
    correct,
    prefix_parities,
    random_inputs,
    stop_features,
)


def loss_slope(logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """d(logistic loss)/d(logit) = -y sigmoid(-y logit), zero for samples a run does not see."""
    return -labels * torch.sigmoid(-labels * logits) * valid[..., None]


class AveragedSGD:
    """Weights (R, K, F) for K positions that share their samples, with the iterate average."""

    def __init__(self, runs: int, positions: int, features: int, lam: float):
        self.lam = lam
        self.w = torch.zeros(runs, positions, features)
        self.average = torch.zeros_like(self.w)
        self.t = torch.zeros(runs)

    def step(self, phi: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> None:
        """phi (R, B, K, F), labels (R, B, K) in ±1, valid (R, B) bool: which samples this run sees."""
        weight = loss_slope(torch.einsum("rbkf,rkf->rbk", phi, self.w), labels, valid)
        self.apply(torch.einsum("rbk,rbkf->rkf", weight, phi), valid.sum(dim=1))

    def apply(self, grad_sum: torch.Tensor, count: torch.Tensor) -> None:
        """One step from the summed loss gradient (R, K, F) of `count` (R,) samples per run."""
        grad = grad_sum / count.clamp(min=1)[:, None, None]
        active = count > 0
        self.t += active
        eta = 1.0 / (self.lam * self.t.clamp(min=1))
        new_w = self.w - eta[:, None, None] * (self.lam * self.w + grad)
        self.w = torch.where(active[:, None, None], new_w, self.w)
        new_average = self.average + (self.w - self.average) / self.t.clamp(min=1)[:, None, None]
        self.average = torch.where(active[:, None, None], new_average, self.average)


@dataclass
class Fit:
    """The three position groups being trained, and the model their averages define."""

    first: AveragedSGD
    stop: AveragedSGD
    chain: AveragedSGD

    @classmethod
    def new(cls, runs: int, d: int, lam: float, lam_chain: float) -> "Fit":
        return cls(AveragedSGD(runs, 1, d, lam), AveragedSGD(runs, 1, 2 * d + 2, lam),
                   AveragedSGD(runs, d - 1, 3 * d - 1, lam_chain))

    def model(self) -> LinearARModel:
        return LinearARModel(self.first.average[:, 0].clone(), self.stop.average[:, 0].clone(),
                             self.chain.average.clone())

    def step_first_and_stop(self, x, y1, is_long, valid) -> None:
        """x (R, B, d); y1, is_long, valid (R, B). Stop label +1 = EOS (short), -1 = continue."""
        self.first.step(x[:, :, None], y1[..., None], valid)
        stop_label = torch.where(is_long, -1.0, 1.0)
        self.stop.step(stop_features(x, y1)[:, :, None], stop_label[..., None], valid)

    def step_chain(self, x, y, valid) -> None:
        """Long responses y (R, B, d): position l learns y_l from phi_l(x, y_<l).

        Same step as `self.chain.step(chain_features(x, y), y[..., 1:], valid)`, computed from
        the three blocks of phi_l ([x, visible y, y_{l-1} x]) without building the
        (R, B, d-1, 3d-1) feature tensor, which dominated memory traffic at d = 50."""
        d = x.shape[-1]
        w = self.chain.w
        w_x, w_y, w_p = w[..., :d], w[..., d : 2 * d - 1], w[..., 2 * d - 1 :]
        visible = torch.arange(d - 1)[None, :] <= torch.arange(d - 1)[:, None]  # (K, d-1): y_j seen at l = k+2
        context, last = y[..., : d - 1], y[..., : d - 1]  # y_1..y_{d-1}; y_{l-1} for l = 2..d
        logits = (torch.einsum("rbd,rkd->rbk", x, w_x) + torch.einsum("rbj,rkj->rbk", context, w_y * visible)
                  + last * torch.einsum("rbd,rkd->rbk", x, w_p))
        weight = loss_slope(logits, y[..., 1:], valid)
        grad = torch.cat([torch.einsum("rbk,rbd->rkd", weight, x),
                          torch.einsum("rbk,rbj->rkj", weight, context) * visible,
                          torch.einsum("rbk,rbd->rkd", weight * last, x)], dim=-1)
        self.chain.apply(grad, valid.sum(dim=1))


def mixture_batch(p: torch.Tensor, batch: int, d: int, generator: torch.Generator):
    """Demonstrations of D(p) for each run's p (R,): x (R, B, d), y1 (R, B), is_long (R, B)."""
    x = random_inputs(len(p), batch, d, generator)
    is_long = torch.rand(len(p), batch, generator=generator) < p[:, None]
    y1 = torch.where(is_long, x[..., 0], x.prod(dim=-1))
    return x, y1, is_long


def pretrain_linear(p: torch.Tensor, d: int, lam: float, lam_chain: float, steps: int, chain_steps: int,
                    batch: int, generator: torch.Generator, chain_from_mixture: bool = False) -> LinearARModel:
    """Algorithm 3 on D(p) for each run: positions 1 and 2a for `steps` minibatches of D(p); the chain
    positions on the long samples of those same minibatches (chain_from_mixture, the paper's
    Algorithm 3 exactly: about p x steps x batch samples), or else on `chain_steps` minibatches of a
    separate stream of long demonstrations."""
    runs = len(p)
    fit = Fit.new(runs, d, lam, lam_chain)
    everyone = torch.ones(runs, batch, dtype=torch.bool)
    for _ in range(steps):
        x, y1, is_long = mixture_batch(p, batch, d, generator)
        fit.step_first_and_stop(x, y1, is_long, everyone)
        if chain_from_mixture:
            fit.step_chain(x, prefix_parities(x), is_long)
    if chain_from_mixture:
        return fit.model()
    for _ in range(chain_steps):
        x = random_inputs(runs, batch, d, generator)
        fit.step_chain(x, prefix_parities(x), everyone)
    return fit.model()


def _to_front(mask: torch.Tensor, *tensors: torch.Tensor):
    """Per run, move the samples where mask (R, N) holds to the front (stable); return them and
    the valid mask of the new order."""
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    moved = [t.gather(1, order.view(*order.shape, *([1] * (t.dim() - 2))).expand_as(t)) for t in tensors]
    valid = torch.arange(mask.shape[1])[None, :] < mask.sum(dim=1, keepdim=True)
    return moved, valid


def star_round(model: LinearARModel, samples: int, lam: float, lam_chain: float, batch: int, reward: str,
               chain_steps: int, generator: torch.Generator, chunk: int = 1 << 16) -> tuple[LinearARModel, dict]:
    """One STaR round: sample `samples` responses per run, keep the reward-1 ones, and run
    Algorithm 3 from zero over them in one pass: positions 1 and 2a on all kept samples,
    the chain positions on the kept long ones (minibatches of `batch`; horizon `chain_steps`).
    Returns the new model and per-run statistics of the rollouts ((R,) tensors)."""
    runs, d = model.first.shape
    chunk = min(chunk, samples)  # a small round draws no more than it asks for
    fit = Fit.new(runs, d, lam, lam_chain)
    totals = {"rollout_long": torch.zeros(runs), "kept": torch.zeros(runs), "kept_long": torch.zeros(runs)}
    for _ in range(0, samples, chunk):
        x = random_inputs(runs, chunk, d, generator)
        y, is_long = model.decode(x, greedy=False, generator=generator)
        keep = chain_correct(x, y, is_long) if reward == "chain" else correct(x, y, is_long)
        totals["rollout_long"] += is_long.sum(-1)
        totals["kept"] += keep.sum(-1)
        totals["kept_long"] += (keep & is_long).sum(-1)
        (x_kept, y_kept, long_kept), valid = _to_front(keep, x, y, is_long)
        for start in range(0, int(valid.sum(1).max()), batch):
            part = slice(start, start + batch)
            fit.step_first_and_stop(x_kept[:, part], y_kept[:, part, 0], long_kept[:, part], valid[:, part])
        (x_long, y_long), valid = _to_front(keep & is_long, x, y)
        for start in range(0, int(valid.sum(1).max()), batch):
            if (fit.chain.t >= chain_steps).all():
                break
            part = slice(start, start + batch)
            fit.step_chain(x_long[:, part], y_long[:, part], valid[:, part] & (fit.chain.t < chain_steps)[:, None])
    n = (samples + chunk - 1) // chunk * chunk
    stats = {"rollout_long_fraction": totals["rollout_long"] / n, "kept_fraction": totals["kept"] / n,
             "kept_long_fraction": totals["kept_long"] / totals["kept"].clamp(min=1)}
    return fit.model(), stats

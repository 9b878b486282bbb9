"""The autoregressive linear model of the paper's theory (the paper's §5; docs/theory.md), in ±1 encoding.

One linear predictor per output position on fixed features:

- position 1:     logit <w_1, x> for y_1 (x in {±1}^d)
- position "2a":  logit <w_2a, phi_2(x, y_1)> + b_2a for stop (+1 = EOS) vs continue (-1)
- position l = 2..d: logit <w_l, phi_l(x, y_1..y_{l-1})> for y_l

phi_l(z) = [z_1..z_{d+l-1}, z_{d+l-1} x_1, .., z_{d+l-1} x_d]: the whole context z = (x, y_<l)
and the products of its last token with every input bit. The chain step y_l = y_{l-1} x_l
is the single feature z_{d+l-1} x_l, so it is linear in phi_l; the parity of x is not linear
in anything position 1 sees.

Every tensor carries a leading `runs` axis R: independent models (seeds, or different p_cot)
trained and evaluated side by side. Weights:

    first   (R, d)              position 1
    stop    (R, 2d + 2)         position 2a: phi_2 (2d + 1 features) and the bias b_2a last
    chain   (R, d - 1, 3d - 1)  positions 2..d: phi_l zero-padded to the longest (l = d)

A long response is y_1..y_d (its EOS is implied after y_d); a short one is y_1 then EOS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def chain_features(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """phi_l for every chain position l = 2..d at once.

    x: (..., d) and y: (..., d) in ±1 (only y_1..y_{d-1} are used). Returns (..., d-1, 3d-1):
    row l-2 is [x, y_1..y_{l-1}, 0-padding, y_{l-1} * x]."""
    d = x.shape[-1]
    positions = torch.arange(2, d + 1)  # l
    visible = torch.arange(d - 1)[None, :] < (positions - 1)[:, None]  # (d-1, d-1): y_j visible at l
    context_y = y[..., None, : d - 1] * visible  # (..., d-1, d-1)
    last = y[..., : d - 1]  # y_{l-1} for l = 2..d
    products = last[..., :, None] * x[..., None, :]  # (..., d-1, d)
    x_rep = x[..., None, :].expand(*x.shape[:-1], d - 1, d)
    return torch.cat([x_rep, context_y, products], dim=-1)


def stop_features(x: torch.Tensor, y1: torch.Tensor) -> torch.Tensor:
    """phi_2(x, y_1) followed by a constant 1 for the bias: (..., 2d + 2)."""
    return torch.cat([x, y1[..., None], y1[..., None] * x, torch.ones_like(y1)[..., None]], dim=-1)


@dataclass
class LinearARModel:
    first: torch.Tensor  # (R, d)
    stop: torch.Tensor  # (R, 2d + 2)
    chain: torch.Tensor  # (R, d - 1, 3d - 1)

    @classmethod
    def zeros(cls, runs: int, d: int) -> "LinearARModel":
        return cls(torch.zeros(runs, d), torch.zeros(runs, 2 * d + 2), torch.zeros(runs, d - 1, 3 * d - 1))

    @property
    def d(self) -> int:
        return self.first.shape[-1]

    # --- per-position logits; x is (R, N, d) -------------------------------------------
    def first_logit(self, x):
        return torch.einsum("rnd,rd->rn", x, self.first)

    def stop_logit(self, x, y1):
        """<w_2a, phi_2(x, y_1)> + b_2a without materialising phi_2: (R, N)."""
        d, w = self.d, self.stop
        products = torch.einsum("rnd,rd->rn", x, w[:, d + 1 : 2 * d + 1])
        return torch.einsum("rnd,rd->rn", x, w[:, :d]) + y1 * (w[:, d, None] + products) + w[:, -1, None]

    def chain_logit(self, x, y, l: int):
        """Logit of y_l (l = 2..d) given y_1..y_{l-1}, without materialising phi_l: (R, N)."""
        d, w = self.d, self.chain[:, l - 2]
        logit = torch.einsum("rnd,rd->rn", x, w[:, :d])
        logit = logit + torch.einsum("rnj,rj->rn", y[..., : l - 1], w[:, d : d + l - 1])
        return logit + y[..., l - 2] * torch.einsum("rnd,rd->rn", x, w[:, 2 * d - 1 :])

    # --- decoding -----------------------------------------------------------------------
    def decode(self, x: torch.Tensor, greedy: bool, generator: torch.Generator | None = None):
        """Responses to x (R, N, d): y (R, N, d) in ±1 (zeros after a stop) and is_long (R, N)."""
        def draw(logit):
            if greedy:
                return torch.where(logit > 0, 1.0, -1.0)
            u = torch.rand(logit.shape, generator=generator)
            return torch.where(u < torch.sigmoid(logit), 1.0, -1.0)

        y = torch.zeros_like(x)
        y[..., 0] = draw(self.first_logit(x))
        is_long = draw(self.stop_logit(x, y[..., 0])) < 0  # +1 means EOS
        # Only long responses need the chain: decode it for them alone, moved to the front per run.
        order = torch.argsort((~is_long).to(torch.int8), dim=1, stable=True)
        width = int(is_long.sum(dim=1).max())
        rows = order[:, :width, None].expand(-1, -1, self.d)
        x_long, y_long = x.gather(1, rows), y.gather(1, rows)
        for l in range(2, self.d + 1):
            y_long[..., l - 1] = draw(self.chain_logit(x_long, y_long, l))
        y.scatter_(1, rows, y_long)
        y[..., 1:] *= is_long[..., None]
        return y, is_long

    def long_probability(self, x: torch.Tensor) -> torch.Tensor:
        """Exact probability (R, N) that a sampled response to x is long (sums over y_1 = ±1)."""
        p_first = torch.sigmoid(self.first_logit(x))
        ones = torch.ones(x.shape[:-1])
        p_continue_plus = torch.sigmoid(-self.stop_logit(x, ones))
        p_continue_minus = torch.sigmoid(-self.stop_logit(x, -ones))
        return p_first * p_continue_plus + (1 - p_first) * p_continue_minus


def random_inputs(runs: int, n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """(runs, n, d) uniform ±1 bits."""
    return torch.randint(0, 2, (runs, n, d), generator=generator).float() * 2 - 1


def prefix_parities(x: torch.Tensor) -> torch.Tensor:
    """Running products c_l = x_1 ... x_l in ±1: (..., d)."""
    return torch.cumprod(x, dim=-1)


def correct(x: torch.Tensor, y: torch.Tensor, is_long: torch.Tensor) -> torch.Tensor:
    """End-to-end correctness (R, N): the last answer token equals the parity of x."""
    parity = x.prod(dim=-1)
    final = torch.where(is_long, y[..., -1], y[..., 0])
    return final == parity


def chain_correct(x: torch.Tensor, y: torch.Tensor, is_long: torch.Tensor) -> torch.Tensor:
    """Chain reward (R, N): a long response is the exact chain, a short one the parity."""
    chain = prefix_parities(x)
    long_ok = (y == chain).all(dim=-1)
    short_ok = y[..., 0] == chain[..., -1]
    return torch.where(is_long, long_ok, short_ok)


def evaluate_linear(model: LinearARModel, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-run metrics (each a (R,) tensor) on n fresh inputs: long_fraction is the exact
    expectation over those inputs; the accuracies come from sampled and greedy decoding."""
    runs, d = model.first.shape
    x = random_inputs(runs, n, d, generator)
    y, is_long = model.decode(x, greedy=False, generator=generator)
    ok = correct(x, y, is_long)
    gy, g_long = model.decode(x, greedy=True)
    long_count = is_long.sum(-1).clamp(min=1)
    short_count = (~is_long).sum(-1).clamp(min=1)
    return {
        "long_fraction": model.long_probability(x).mean(-1),
        "sampled_long_fraction": is_long.float().mean(-1),
        "sampled_accuracy": ok.float().mean(-1),
        "long_accuracy": (ok & is_long).sum(-1) / long_count,
        "short_accuracy": (ok & ~is_long).sum(-1) / short_count,
        "greedy_accuracy": correct(x, gy, g_long).float().mean(-1),
        "greedy_long_fraction": g_long.float().mean(-1),
    }

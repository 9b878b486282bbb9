"""The one place figures get their conventions: uncertainty bands and bars, and the theory's overlays.

Uncertainty, everywhere (sweep figures, a single run's curves, the linear model's points): the mean
over seeds with a 95% interval from Student's t over the seeds, and, for an accuracy or a fraction
measured on n prompts, the binomial error 1.96 sqrt(m (1 - m) / n) added in quadrature. Every seed is
scored on the same held-out prompts, so seeds that agree exactly still leave that error, which the
t interval alone would call zero. A single seed is the one-seed case of the same rule.

Theory overlays come from cotmix.theory.closed_form, never a number typed here: chance accuracy 1/2,
the greedy threshold p_cot = 1/3, the long length d + 1, calibration (long fraction = p_cot), and
the STaR recursion p_{n+1} = 2 p_n / (1 + p_n).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cotmix.eval.stats import t95  # noqa: E402
from cotmix.files import atomic_file, starts_with  # noqa: E402
from cotmix.theory import closed_form as cf  # noqa: E402

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def mean_ci(values: list[float], n_prompts: int | None = None) -> tuple[float, float]:
    """(mean, half-width of the 95% interval) over seeds; with n_prompts, for a fraction measured on
    that many prompts, the binomial half-width is added in quadrature. None (a run of a partial report
    that has not reached the metric's phase) is left out; with nothing left the mean is nan."""
    values = [v for v in values if v is not None]
    if not values:
        return math.nan, 0.0
    k = len(values)
    mean = sum(values) / k
    half = 0.0
    if k > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
        half = t95(k - 1) * sd / math.sqrt(k)
    if n_prompts:
        half = math.hypot(half, 1.96 * math.sqrt(max(0.0, mean * (1 - mean)) / n_prompts))
    return mean, half


def average_curves(curves: list[list[tuple[float, float]]], n_prompts: int | None = None
                   ) -> list[tuple[float, float, float]]:
    """(x, mean, half-width) at the x values every curve has (seeds evaluate at the same sample counts).
    A curve marked `held` (a run that stopped once greedy decoding was learnt) counts with its last
    value beyond its end, so the mean does not end where the fastest seed stopped."""
    if not curves or not all(curves):
        return []
    values = [dict(c) for c in curves]

    def at(i: int, x: float):
        if x in values[i]:
            return values[i][x]
        return curves[i][-1][1] if getattr(curves[i], "held", False) and x > curves[i][-1][0] else None

    points = []
    for x in sorted({x for c in curves for x, _ in c}):
        ys = [at(i, x) for i in range(len(curves))]
        if None not in ys:
            points.append((x, *mean_ci(ys, n_prompts)))
    return points


def band(ax, curves: list[list[tuple[float, float]]], label, color, n_prompts: int | None = None, top=None,
         style="-") -> None:
    """The mean of the seeds' curves with its 95% band, clipped to the quantity's range (>= 0, <= `top`).
    With several seeds their own curves are drawn thin as well: seeds that split (some generalise,
    some do not) give a mean no seed had."""
    points = average_curves(curves, n_prompts)
    if len(curves) > 1:
        for curve in curves:
            if curve:
                ax.plot(*zip(*curve), "-", color=color, lw=0.6, alpha=0.45)
    if not points:
        return
    xs, means, halves = zip(*points)
    ax.plot(xs, means, style, color=color, label=label, lw=1.8, marker="o" if len(xs) < 30 else None, markersize=3)
    lows = [max(0.0, m - h) for m, h in zip(means, halves)]
    highs = [m + h if top is None else min(top, m + h) for m, h in zip(means, halves)]
    ax.fill_between(xs, lows, highs, color=color, alpha=0.18, lw=0)


def spread_x(ax, curves: list[list[tuple[float, float]]], ratio: float = 100.0) -> None:
    """A symmetric-log x axis when the curves' positive x span more than `ratio` (RL's thousands of
    samples beside an NTP-only arm's millions), linear up to the smallest of them, so x = 0 stays."""
    xs = [x for curve in curves for x, _ in curve if x > 0]
    if xs and max(xs) > ratio * min(xs):
        ax.set_xscale("symlog", linthresh=min(xs))


def bars(ax, xs, per_x: list[list[float]], n_prompts: int | None = None, **kwargs) -> list[tuple[float, float]]:
    """Mean and 95% interval (mean_ci) at each x, as points with error bars, clipped to [0, 1] for a
    fraction (n_prompts given); returns the (mean, half)."""
    stats = [mean_ci(values, n_prompts) for values in per_x]
    low = [min(h, m) if n_prompts else h for m, h in stats]
    high = [min(h, 1 - m) if n_prompts else h for m, h in stats]
    ax.errorbar(xs, [m for m, _ in stats], yerr=[low, high], capsize=3, **kwargs)
    return stats


# --- the theory, overlaid ---------------------------------------------------------------------

def chance(ax, label="chance", symbols: int = 2) -> None:
    """Chance accuracy of an answer among `symbols` values: 1/2 for parity."""
    ax.axhline(1 / symbols, color="grey", ls=":", lw=1, label=label)


def threshold(ax, label=None, symbols: int = 2) -> None:
    """The greedy threshold 1/(symbols + 1) of a calibrated model: 1/3 for parity."""
    ax.axvline(cf.greedy_threshold(symbols), color="grey", ls=":", lw=1,
               label=label or f"p_cot = 1/{symbols + 1}")


def greedy_theory(ax, lo: float, hi: float, label="theory", symbols: int = 2) -> None:
    """Greedy accuracy of a calibrated model: chance (1/symbols) below the threshold, 1 above."""
    t = cf.greedy_threshold(symbols)
    ax.step([lo, t, t, hi], [1 / symbols, 1 / symbols, 1, 1], where="post", color="k", ls="--", lw=1, label=label)


def long_length(ax, d: int, label="d + 1 (long)") -> None:
    ax.axhline(d + 1, color="grey", ls=":", lw=1, label=label)


def star_recursion(ax, p0: float, rounds: int, start_round: int = 0, label="2p/(1+p)", **kwargs) -> None:
    """The STaR recursion from p0, one point per round from start_round."""
    xs = list(range(start_round, start_round + rounds))
    kwargs.setdefault("color", "k")
    ax.plot(xs, [cf.star_closed_form(p0, n - start_round) for n in xs], "--", lw=1, label=label, **kwargs)


# matplotlib writes this mark into a PNG's and an SVG's first bytes: the figures a later command may
# replace are the ones that carry it (or matplotlib's own, from before cotmix marked its figures).
FIGURE_MARK = "cotmix"


def is_figure(path) -> bool:
    """A figure that cotmix drew (the only kind of file a figure command replaces)."""
    return any(starts_with(mark)(path) for mark in (FIGURE_MARK.encode(), b"Matplotlib", b"matplotlib"))


def save(fig, path, dpi: int = 120, close: bool = True) -> None:
    """fig.savefig to `path` (PNG or SVG by its suffix), written atomically and marked as cotmix's."""
    path = Path(path)
    key = "Creator" if path.suffix == ".svg" else "Software"
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:], dpi=dpi, metadata={key: FIGURE_MARK})
    if close:
        plt.close(fig)

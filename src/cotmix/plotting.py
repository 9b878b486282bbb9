"""The one place figures get their conventions: uncertainty bands and bars, and the theory's overlays.

Uncertainty, everywhere (sweep figures, a single run's curves, the linear model's points), is a 95%
interval of the mean over seeds that stays inside what the quantity can be:
- a fraction measured on n prompts (an accuracy, the long fraction), one seed: Wilson's interval;
  several seeds: a bootstrap that resamples the seeds and, within each, its n prompts (a binomial
  draw at the seed's value), so both the seed spread and the prompts' sampling error count, seeds
  that agree exactly still leave the latter, and no end leaves [0, 1];
- anything else (a length, a loss): a bootstrap over the seeds, which stays within the seeds' own
  values (a length never below 2); one seed has no interval.
The bootstrap draws from a fixed seed: a figure redrawn from the same data is the same figure.

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
import numpy as np  # noqa: E402

from cotmix.eval.stats import wilson  # noqa: E402
from cotmix.files import atomic_file, starts_with  # noqa: E402
from cotmix.theory import closed_form as cf  # noqa: E402

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
RESAMPLES = 2000


def interval(values: list[float], n_prompts: int | None = None) -> tuple[float, float, float]:
    """(mean, low, high): the mean over seeds and its 95% interval (module docstring); n_prompts
    given: a fraction measured on that many prompts. None (a run of a partial report that has not
    reached the metric's phase) is left out; with nothing left the mean is nan."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return math.nan, math.nan, math.nan
    mean = sum(values) / len(values)
    if n_prompts and len(values) == 1:
        low, high = wilson(round(mean * n_prompts), n_prompts)
        return mean, min(low, mean), max(high, mean)
    if len(values) == 1:
        return mean, mean, mean
    rng = np.random.default_rng(0)
    picked = np.asarray(values)[rng.integers(0, len(values), (RESAMPLES, len(values)))]
    if n_prompts:
        picked = rng.binomial(n_prompts, np.clip(picked, 0.0, 1.0)) / n_prompts
    low, high = np.percentile(picked.mean(axis=1), [2.5, 97.5])
    return mean, min(float(low), mean), max(float(high), mean)


def average_curves(curves: list[list[tuple[float, float]]], n_prompts: int | None = None
                   ) -> list[tuple[float, float, float, float]]:
    """(x, mean, low, high) at the x values every curve has (seeds evaluate at the same sample counts).
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
            points.append((x, *interval(ys, n_prompts)))
    return points


def band(ax, curves: list[list[tuple[float, float]]], label, color, n_prompts: int | None = None,
         style="-", marker="o") -> None:
    """The mean of the seeds' curves with its 95% band (`interval`: a fraction on n_prompts stays in
    [0, 1]). With several seeds their own curves are drawn thin as well: seeds that split (some
    generalise, some do not) give a mean no seed had."""
    points = average_curves(curves, n_prompts)
    if len(curves) > 1:
        for curve in curves:  # with markers where points are few: a seed that stopped early stays visible
            if curve:
                ax.plot(*zip(*curve), style, color=color, lw=0.6, alpha=0.45, marker=marker if len(curve) < 30 else None,
                        markersize=2)
    if not points:
        return
    xs, means, lows, highs = zip(*points)
    ax.plot(xs, means, style, color=color, label=label, lw=1.8, marker=marker if len(xs) < 30 else None, markersize=3)
    ax.fill_between(xs, lows, highs, color=color, alpha=0.18, lw=0)


def count_label(value: float, _position=None) -> str:
    """A tick label: 5k, 1.3M for counts (long labels ran into each other), 0.4 for a loss. Plain
    below 1000, because an SI prefix under 1 reads as a unit (a loss of 0.8 as "800m")."""
    from matplotlib.ticker import EngFormatter

    return f"{value:g}" if abs(value) < 1000 else EngFormatter(sep="")(value)


def tidy(fig) -> None:
    """Counts on the axes as 5k and 1.3M rather than 130000, and log axes as 0.4, not 4 x 10^-1."""
    from matplotlib.ticker import FuncFormatter

    column = lambda ax: ax.get_subplotspec().colspan if ax.get_subplotspec() else None  # noqa: E731
    counted = {column(ax) for ax in fig.axes if "samples" in ax.get_xlabel()}
    for ax in fig.axes:  # and the panels above them, which share the column's x but not its label
        if "samples" in ax.get_xlabel() or (column(ax) is not None and column(ax) in counted):
            ax.xaxis.set_major_formatter(FuncFormatter(count_label))
        if ax.get_yscale() == "log":
            low, high = ax.get_ylim()
            if 0 < low and high < 10 * low:  # a loss spans less than a decade: its minor ticks need labels
                ax.yaxis.set_minor_formatter(FuncFormatter(count_label))
            ax.yaxis.set_major_formatter(FuncFormatter(count_label))


def spread_x(ax, curves: list[list[tuple[float, float]]], ratio: float = 100.0) -> None:
    """A symmetric-log x axis when the curves' positive x span more than `ratio` (RL's thousands of
    samples beside an NTP-only arm's millions), linear up to the smallest of them, so x = 0 stays."""
    xs = [x for curve in curves for x, _ in curve if x > 0]
    if xs and max(xs) > ratio * min(xs):
        ax.set_xscale("symlog", linthresh=min(xs))


def bars(ax, xs, per_x: list[list[float]], n_prompts: int | None = None, **kwargs) -> list[tuple[float, float, float]]:
    """Mean and 95% interval (`interval`) at each x, as points with error bars; returns the
    (mean, low, high). A fraction (n_prompts given) never has a bar past 0 or 1."""
    stats = [interval(values, n_prompts) for values in per_x]
    seeds = [(x, v) for x, values in zip(xs, per_x) for v in values if v is not None]
    if any(len(values) > 1 for values in per_x):  # each seed as a dot: seeds that split are seen as such
        ax.scatter(*zip(*seeds), s=9, color=kwargs.get("color", COLORS[0]), alpha=0.45, lw=0, zorder=3)
    ax.errorbar(xs, [m for m, _, _ in stats], yerr=[[m - lo for m, lo, _ in stats], [hi - m for m, _, hi in stats]],
                capsize=3, **kwargs)
    return stats


# --- the theory, overlaid ---------------------------------------------------------------------

def chance(ax, label="chance", symbols: int | None = 2) -> None:
    """Chance accuracy of an answer among `symbols` values: 1/2 for parity (none for a task without a
    one-token answer, such as multiplication)."""
    if symbols is None:
        return
    ax.axhline(1 / symbols, color="grey", ls=":", lw=1, label=label)


def threshold(ax, label=None, symbols: int | None = 2) -> None:
    """The greedy threshold 1/(symbols + 1) of a calibrated model: 1/3 for parity."""
    if symbols is None:
        return
    ax.axvline(cf.greedy_threshold(symbols), color="grey", ls=":", lw=1,
               label=label or f"p_cot = 1/{symbols + 1}")


def greedy_theory(ax, lo: float, hi: float, label="theory", symbols: int | None = 2) -> None:
    """Greedy accuracy of a calibrated model: chance (1/symbols) below the threshold, 1 above."""
    if symbols is None:
        return
    t = cf.greedy_threshold(symbols)
    ax.step([lo, t, t, hi], [1 / symbols, 1 / symbols, 1, 1], where="post", color="k", ls="--", lw=1, label=label)


def long_length(ax, tokens: int, label="long answer") -> None:
    """The long response's length in tokens (parity: d + 1)."""
    ax.axhline(tokens, color="grey", ls=":", lw=1, label=f"{label} ({tokens} tokens)")


def preregistered(ax, criteria, metric: str, phase: str = "pretrain") -> None:
    """The bar of each pre-registered criterion (cotmix.experiments.verdicts) on `metric` of `phase`,
    drawn over the p_cot values it applies to: what was predicted, beside what came out."""
    for criterion in criteria:
        ps = criterion.where.get("task.p_cot")
        if criterion.phase != phase or criterion.metric != metric or criterion.op == "chance" or not ps:
            continue
        bar = float(criterion.bar)
        ax.plot([min(ps) - 0.01, max(ps) + 0.01], [bar, bar], color="tab:red", lw=3, alpha=0.35,
                solid_capstyle="butt", label=f"pre-registered: {criterion.op} {bar:g}")


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

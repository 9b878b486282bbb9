"""Figures of `cotmix theory`: measured points (mean and 95% interval over seeds, cotmix.plotting's
convention) on the theory's curves."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter  # noqa: E402

from cotmix import plotting  # noqa: E402
from cotmix.theory import closed_form as cf  # noqa: E402


def _points(ax, xs, per_x, **kw):
    """Mean with its 95% interval over seeds for each x."""
    plotting.bars(ax, xs, [list(map(float, v)) for v in per_x], fmt="o", **kw)


def plot_theory(result: dict, out: Path) -> list[Path]:
    out = Path(out)
    d = result["config"]["d"]
    rows = result["pretrain"]
    ps = [r["p_cot"] for r in rows]
    line = np.linspace(0, max(ps + [0.5]), 200)
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    ax.plot(line, line, color="tab:red", lw=1, label="theory: long = p")
    ax.plot(line, (1 + line) / 2, color="tab:green", lw=1, label="theory: sampled accuracy = (1+p)/2")
    ax.axhline(0.5, color="tab:blue", lw=1, label="theory: short accuracy = 1/2")
    _points(ax, ps, [r["measured"]["long_fraction"] for r in rows], color="tab:red", label="long fraction")
    _points(ax, ps, [r["measured"]["sampled_accuracy"] for r in rows], color="tab:green", label="sampled accuracy")
    _points(ax, ps, [r["measured"]["short_accuracy"] for r in rows], color="tab:blue", label="short accuracy")
    ax.set(xlabel="p_cot", ylabel="probability", title=f"Linear model after Algorithm 3 (d = {d}): length-calibrated")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(out / "calibration.png")
    plotting.save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    ax.step([0, cf.GREEDY_THRESHOLD, cf.GREEDY_THRESHOLD, 1], [0.5, 0.5, 1, 1], where="post", color="0.3",
            label="theory: 1/2 below 1/3, 1 above")
    ax.axvline(cf.GREEDY_THRESHOLD, color="0.5", ls="--", lw=1)
    _points(ax, ps, [r["measured"]["greedy_accuracy"] for r in rows], color="tab:purple", label="measured greedy accuracy")
    ax.set(xlim=(min(ps) - 0.03, max(ps) + 0.03), ylim=(0.4, 1.05), xlabel="p_cot", ylabel="greedy accuracy",
           title=f"Greedy decoding generalises only above p_cot = 1/3 (d = {d})")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    paths.append(out / "threshold.png")
    plotting.save(fig, paths[-1])

    star = result["star"]
    if star["rounds"]:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
        rounds = [r["round"] for r in star["rounds"]]
        fine = np.linspace(0, max(rounds), 200)
        for i, p0 in enumerate(star["p0"]):
            color = f"C{i}"
            left.plot(fine, [cf.star_closed_form(p0, n) for n in fine], color=color, lw=1)
            _points(left, rounds, [r["long_fraction"][i] for r in star["rounds"]], color=color, label=f"p0 = {p0:g}")
            _points(right, rounds, [r["greedy_accuracy"][i] for r in star["rounds"]], color=color, label=f"p0 = {p0:g}")
            right.axvline(star["predicted_round_to_generalise"][i], color=color, ls=":", lw=1)
        left.axhline(cf.GREEDY_THRESHOLD, color="0.5", ls="--", lw=1)
        left.set(xlabel="STaR round", ylabel="long fraction",
                 title="points: measured; lines: p_n = 2^n p0 / (2^n p0 + 1 - p0)")
        right.set(xlabel="STaR round", ylabel="greedy accuracy", ylim=(0.4, 1.05),
                  title="dotted: round the closed form predicts greedy = 1")
        for ax in (left, right):
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.suptitle(f"STaR with the chain reward on the linear model (d = {d})")
        paths.append(out / "star.png")
        plotting.save(fig, paths[-1])
    if "complexity" in result:
        fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
        c = result["complexity"]
        for i, p0 in enumerate(sorted({r["p_cot"] for r in c["rows"]})):
            rows = [r for r in c["rows"] if r["p_cot"] == p0]
            found = [(r["d"], r["samples"]) for r in rows if r["samples"]]
            capped = [r["d"] for r in rows if not r["samples"]]
            fits = (c.get("fits") or {}).get(str(p0)) or {}
            label = f"p_cot = {p0:g}"
            if found:
                ax.plot(*zip(*found), "o", color=f"C{i}", label=label)
                _draw_fits(ax, fits, [d for d, _ in found], [n for _, n in found], f"C{i}")
            if capped:
                ax.scatter(capped, [c["cap_samples"]] * len(capped), marker="^", facecolors="none",
                           color=f"C{i}", label=f"p_cot = {p0:g}: > cap")
        ds = sorted({r["d"] for r in c["rows"]})
        ax.set(xscale="log", yscale="log", xlabel="d", ylabel="pre-training samples",
               title="Samples after which STaR generalises (linear model)")
        ax.set_xticks(ds, [str(d) for d in ds])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_locator(LogLocator(subs=(2, 5)))
        for axis_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
            axis_formatter(EngFormatter(sep=""))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
        paths.append(out / "complexity.png")
        plotting.save(fig, paths[-1])
    return paths


def _draw_fits(ax, fits: dict, ds: list[int], samples: list[int], color: str) -> None:
    """Both fitted forms through the found budgets, each labelled with its slope's 95% interval; the
    one with the smaller residual drawn solid. Nothing below 3 points (two fit either form exactly)."""
    if not fits.get("power") or not fits.get("exponential") or fits["power"]["points"] < 3:
        return
    xs = [min(ds) + (max(ds) - min(ds)) * i / 50 for i in range(51)]
    mean_log = sum(math.log(n) for n in samples) / len(samples)
    for form, fx, text in (("power", math.log, "d^{:.2f} [{:.2f}, {:.2f}]"),
                           ("exponential", float, "e^({:.3f} d) [{:.3f}, {:.3f}]")):
        fit = fits[form]
        centre = sum(fx(d) for d in ds) / len(ds)
        ys = [math.exp(mean_log + fit["slope"] * (fx(x) - centre)) for x in xs]
        better = fits.get("better") == form
        ax.plot(xs, ys, "-" if better else ":", color=color, lw=1,
                label=text.format(fit["slope"], *fit["ci95"]) + (" (better fit)" if better else ""))

"""Figures of the paper-scale studies: the resource gap between NTP alone and NTP+RL against d, and
STaR's long fraction round by round against Theorem 2's recursion.

Both follow cotmix.plotting's conventions and return (figure, what was measured), like the other kinds.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from cotmix import plotting
from cotmix.eval.evaluate import GREEDY_LEARNT
from cotmix.experiments.report.data import Curve, Run, Sweep
from cotmix.plotting import COLORS
from cotmix.rundir import read_metrics
from cotmix.theory.closed_form import star_rounds_to_generalise


def samples_to_generalise(run: Run) -> tuple[int, bool]:
    """(samples, reached): NTP demonstrations plus RL samples until greedy >= 0.99 on held-out inputs.
    A run that stopped at its cap instead is a censored point: it needs more than `samples`."""
    pre, rl = run.summary.get("pretrain", {}), run.summary.get("posttrain", {})
    if rl.get("steps"):  # the NTP+RL arm: the chain was learnt, then RL until greedy generalised
        return pre.get("samples", 0) + rl.get("samples", 0), rl.get("stop_reason") == "greedy_learnt"
    reached = pre.get("stop_reason") == "greedy_learnt" or rl.get("stop_reason") == "greedy_learnt"
    return pre.get("samples", 0), reached


def _fit(ds: list[float], samples: list[float], log_x: bool) -> tuple[float, float] | None:
    """Least squares of log(samples) on d (exponential growth) or on log d (polynomial growth)."""
    if len(set(ds)) < 2:
        return None
    xs = [math.log(d) if log_x else d for d in ds]
    ys = [math.log(s) for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def resource_gap(sweep: Sweep):
    """Samples to greedy >= 0.99 against d, NTP alone and NTP+RL, log scale; censored runs drawn as
    open triangles at their cap (they needed more)."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    lines = []
    for i, (arm, label, log_x) in enumerate((("ntp_only", "NTP alone", False), ("ntp_rl", "NTP + RL", True))):
        runs = [r for r in sweep.done() if r.values.get("arm") == arm]
        points = [(r.config["task"]["d"], *samples_to_generalise(r)) for r in runs]
        reached = [(d, s) for d, s, ok in points if ok]
        censored = [(d, s) for d, s, ok in points if not ok]
        color = COLORS[i]
        if reached:
            ax.scatter(*zip(*reached), color=color, label=f"{label} (each seed)", s=18)
        if censored:
            ax.scatter(*zip(*censored), color=color, marker="^", facecolors="none", s=40,
                       label=f"{label}: not reached by the cap (> value)")
            for d in sorted({d for d, _ in censored}):  # seeds censored at one cap draw as one marker
                at = [s for dd, s in censored if dd == d]
                n = sum(1 for dd, _, _ in points if dd == d)
                ax.annotate(f"{len(at)} of {n}", (d, max(at)), textcoords="offset points", xytext=(0, 7),
                            ha="center", fontsize=7, color=color)
        rl_part = None
        if arm == "ntp_rl":  # the RL part of each total: what RL itself needed once the chain was learnt
            rl = [(d, r.summary["posttrain"]["samples"]) for r, (d, _, ok) in zip(runs, points) if ok]
            if rl:
                ax.scatter(*zip(*rl), color=color, marker="o", facecolors="none", s=18, label=f"{label}: of which RL")
                rl_part = f"{label}: RL's part of it {min(s for _, s in rl):.2g}-{max(s for _, s in rl):.2g} samples"
        fit = _fit([d for d, _ in reached], [s for _, s in reached], log_x)
        if fit:
            ds = sorted({d for d, _ in reached})  # the fit's own range: no line over censored-only d
            curve = [math.exp(fit[0] + fit[1] * (math.log(d) if log_x else d)) for d in ds]
            ax.plot(ds, curve, "--", color=color, lw=1)
            exponent = round(fit[1], 1) + 0.0  # + 0.0: no "-0.0"
            growth = f"~ d^{exponent}" if log_x else f"x{math.exp(fit[1]):.2f} per extra bit"
            lines.append(f"{label}: {growth} (fit to {len(reached)} runs that got there)")
        lines.append(f"{label}: {len(reached)} of {len(points)} runs reached greedy >= 0.99" +
                     (f"; {len(censored)} censored at their cap" if censored else ""))
        if rl_part:
            lines.append(rl_part)
    ax.set(yscale="log", xlabel="d (input bits)", ylabel="samples until held-out greedy accuracy >= 0.99")
    ax.set_xticks(sorted({r.config["task"]["d"] for r in sweep.done()}))
    ax.set_ylim(top=ax.get_ylim()[1] * 2.5)  # room for the "k of n" above the censored markers
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)  # below: the data fill the box
    ax.grid(alpha=0.3, which="both")
    p_cot = sweep.done()[0].config["task"]["p_cot"] if sweep.done() else "?"
    return fig, f"p_cot = {p_cot}. " + "; ".join(lines) + "."


def _by_round(run: Run, key: str) -> Curve:
    """(round, value) of the RL phase's held-out evaluations: round 0 is the pre-trained model, round n
    the model after n STaR rounds (a resumed run's repeated evaluation counts once)."""
    values = {int(r["step"]): r[key] for r in read_metrics(run.path, "posttrain") if r.get("eval") and key in r}
    return Curve(sorted(values.items()))


def star_rounds(sweep: Sweep):
    """Per p_0 and arm: STaR's held-out long fraction after each round against p_{n+1} = 2 p_n / (1 + p_n)
    from the measured p_0 (one panel per arm, colour by p_0), and the first round with greedy >= 0.99
    against the round the closed form predicts (runs that never got there: open markers at the rounds
    they ran, i.e. "more than"; arms by marker, nudged apart)."""
    by_arm: dict = {}
    for setting, runs in sweep.settings().items():
        by_arm.setdefault(runs[0].values.get("arm"), {})[setting] = runs
    fig, axes = plt.subplots(1, len(by_arm) + 1, figsize=(5.5 * (len(by_arm) + 1), 4))
    first, colors, lines, top = axes[-1], {}, [], 3
    for j, (lf, (arm, settings)) in enumerate(zip(axes, by_arm.items())):
        marker = "osD^v"[j % 5]
        for setting, runs in settings.items():
            p_cot = runs[0].config["task"]["p_cot"]
            color = colors.setdefault(p_cot, COLORS[len(colors) % len(COLORS)])
            per_seed = [_by_round(r, "long_fraction") for r in runs]
            plotting.band(lf, per_seed, f"p_cot = {p_cot}", color, sweep.n_prompts())
            starts = [c[0][1] for c in per_seed if c and c[0][0] == 0]
            if not starts:
                continue
            p0 = sum(starts) / len(starts)
            plotting.star_recursion(lf, p0, max(c[-1][0] for c in per_seed if c) + 1, label=None, color=color)
            predicted = star_rounds_to_generalise(p0)
            greedy = [_by_round(r, "greedy_accuracy") for r in runs]
            measured = [next((n for n, g in c if g >= GREEDY_LEARNT), None) for c in greedy]
            got = [m for m in measured if m is not None]
            censored = [c[-1][0] for c, m in zip(greedy, measured) if m is None and c]
            x = predicted + 0.12 * (j - (len(by_arm) - 1) / 2)
            first.scatter([x] * len(got), got, color=color, marker=marker, s=30)
            first.scatter([x] * len(censored), censored, color=color, marker=marker, facecolors="none", s=30)
            top = max([top, predicted, *got, *censored])
            lines.append(f"{setting}: p_0 {p0:.3f}, predicted round {predicted}, measured "
                         f"{', '.join('>' + str(c[-1][0]) if m is None else str(m) for c, m in zip(greedy, measured))}")
        lf.set(title=f"arm = {arm}" if arm else None, xlabel="STaR round (0: the pre-trained model)",
               ylabel="held-out long fraction (dashed: 2p/(1+p))", ylim=(0, 1.02))
        lf.legend(fontsize=7)
        first.scatter([], [], color="gray", marker=marker, label=f"arm = {arm}" if arm else "measured")
    first.scatter([], [], color="gray", marker="o", facecolors="none", label="not by the last round (open)")
    first.plot([0, top + 1], [0, top + 1], "k:", lw=1)
    first.set(xlabel="round the closed form predicts (first p_n > 1/3)", ylabel="first round with greedy >= 0.99",
              xlim=(0, top + 1), ylim=(0, top + 1))
    first.legend(fontsize=7)
    return fig, "; ".join(lines) + "."

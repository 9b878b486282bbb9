"""The STaR-rounds figure: STaR's long fraction round by round against Theorem 2's recursion, and the
round greedy generalises against the closed form's. It follows cotmix.plotting's conventions and
returns (figure, what was measured), like the other kinds (the resource gap: report/resource_gap.py).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from cotmix import plotting
from cotmix.eval.evaluate import GREEDY_LEARNT
from cotmix.experiments.report.data import Curve, Run, Sweep
from cotmix.plotting import COLORS
from cotmix.rundir import read_metrics
from cotmix.theory.closed_form import star_rounds_to_generalise


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

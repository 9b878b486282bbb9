"""study-predictor's figure: `cotmix predict` against what each run did (cotmix.experiments.replay).

Left, will RL generalise: predicted (yes / uncertain / no) against observed (final greedy >= 0.99),
a count per cell. Right, how fast: predicted against observed steps to greedy >= 0.99, log-log, for
the runs predicted and observed to generalise, with the factor-of-2 band the goal is stated in; a
run predicted "yes" that never got there is drawn at the top as "never".
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from cotmix.experiments.replay import replay, summary_lines
from cotmix.experiments.report.data import Sweep, arm_of
from cotmix.plotting import COLORS

PREDICTED = ("yes", "uncertain", "no")
OBSERVED = ("yes", "no")


def _arm(run: str) -> str:
    return arm_of(Path(run).name) or "run"


def predictor(sweep: Sweep):
    table = replay(sweep.path)
    rows = table["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    counts = [[sum(r["predicted"] == p and r["observed"] == o for r in rows) for o in OBSERVED] for p in PREDICTED]
    left.imshow(counts, cmap="Blues", aspect="auto")
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            right_cell = PREDICTED[i] == OBSERVED[j]
            left.text(j, i, f"{n}" + (" right" if right_cell and n else ""), ha="center", va="center", fontsize=9,
                      color="white" if n > max(map(max, counts)) / 2 else "black")
    left.set_xticks(range(len(OBSERVED)), ["generalised", "did not"])
    left.set_yticks(range(len(PREDICTED)), PREDICTED)
    left.set(xlabel="observed", ylabel="predicted", title=f"will RL reach greedy >= 0.99? ({len(rows)} runs)")

    timed = [r for r in rows if r["predicted"] == "yes" and r["predicted_steps"] is not None]
    top = max([1.0] + [r["predicted_steps"] or 1 for r in timed] + [r["observed_steps"] or 1 for r in timed]) * 3
    arms = sorted({_arm(r["run"]) for r in timed})
    for k, arm in enumerate(arms):
        mine = [r for r in timed if _arm(r["run"]) == arm]
        got = [r for r in mine if r["observed_steps"] is not None]
        right.scatter([max(r["predicted_steps"], 1) for r in got], [max(r["observed_steps"], 1) for r in got],
                      s=18, color=COLORS[k % len(COLORS)], label=arm)
        never = [r for r in mine if r["observed_steps"] is None]
        right.scatter([max(r["predicted_steps"], 1) for r in never], [top] * len(never), marker="x", s=24,
                      color=COLORS[k % len(COLORS)], label="_never")
    line = [0.5, top * 1.5]
    right.plot(line, line, color="black", lw=1, label="observed = predicted")
    right.fill_between(line, [x / 2 for x in line], [x * 2 for x in line], color="grey", alpha=0.2,
                       label="within a factor of 2")
    right.set(xscale="log", yscale="log", xlim=(0.7, top * 1.5), ylim=(0.7, top * 1.5),
              xlabel="predicted steps (rounds for STaR)", ylabel="observed: first step with greedy >= 0.99",
              title="how fast (x at the top: never within the budget)")
    right.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig, "Out of sample: " + "; ".join(summary_lines(table["out_of_sample"])) + "."

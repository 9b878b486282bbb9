"""The resource gap between NTP alone and NTP+RL against d: samples (and, where runs counted them,
training FLOPs, RL's generation included) until held-out greedy accuracy >= 0.99, with censored runs,
both candidate growth laws fitted, and the verdict the resource-gap studies pre-register.

An arm whose runs have no RL steps is "NTP alone" (several such arms, e.g. two model sizes, are told
apart by their model); the others are "NTP + RL", whose cost is NTP until the chain was learnt plus
RL until greedy generalised. A run that stopped at its cap instead is censored: it needed more.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt

from cotmix.eval.stats import growth_laws
from cotmix.experiments.report.data import Run, Sweep, load_sweep
from cotmix.plotting import COLORS


def samples_to_generalise(run: Run) -> tuple[int, bool]:
    """(samples, reached): NTP demonstrations plus RL samples until greedy >= 0.99 on held-out inputs.
    A run that stopped at its cap instead is a censored point: it needs more than `samples`."""
    pre, rl = run.summary.get("pretrain", {}), run.summary.get("posttrain", {})
    if rl.get("steps"):  # the NTP+RL arm: the chain was learnt, then RL until greedy generalised
        return pre.get("samples", 0) + rl.get("samples", 0), rl.get("stop_reason") == "greedy_learnt"
    reached = pre.get("stop_reason") == "greedy_learnt" or rl.get("stop_reason") == "greedy_learnt"
    return pre.get("samples", 0), reached


def flops_to_generalise(run: Run) -> int | None:
    """Training FLOPs of the same span (cotmix.train.compute); None for a run from before they were counted."""
    phases = [run.summary.get("pretrain", {})] + ([run.summary["posttrain"]] if run.summary.get("posttrain", {}).get("steps") else [])
    counts = [p.get("compute", {}).get("flops") for p in phases]
    return None if any(c is None for c in counts) else sum(counts)


def _model(run: Run) -> str:
    m = run.config["model"]
    return f"{m['d_model']}x{m['n_layer']}"


def arms(sweep: Sweep) -> dict[str, list[Run]]:
    """Label -> runs: 'NTP alone' (with the model, when two NTP-alone arms differ in it) and 'NTP + RL'."""
    groups: dict[tuple, list[Run]] = {}
    for run in sweep.done():
        rl = run.config["posttrain"]["steps"] > 0
        groups.setdefault((rl, run.values.get("arm", "")), []).append(run)
    alone = [key for key in groups if not key[0]]
    labels = {}
    for key, runs in sorted(groups.items(), key=lambda kv: kv[0]):
        label = "NTP + RL" if key[0] else "NTP alone"
        if key[0] is False and len({_model(r) for k in alone for r in groups[k]}) > 1:
            label += f" ({_model(runs[0])})"
        if label in labels:  # two arms alike in all but their name
            label += f" ({key[1]})"
        labels[label] = runs
    return labels


def growth(points: list[tuple[int, float]]) -> dict | None:
    """cotmix.eval.stats.growth_laws on the (d, cost) of the runs that got there, with which runs and d."""
    fit = growth_laws([d for d, _ in points], [c for _, c in points])
    return fit and {**fit, "runs": len(points), "d": sorted({d for d, _ in points})}


def growth_text(fit: dict | None) -> str:
    if fit is None:
        return "growth not measured (fewer than 2 d got there)"
    e, p = fit["exponential"], fit["power"]

    def ci(f, transform):
        return f" [{transform(f['ci95'][0]):.2f}, {transform(f['ci95'][1]):.2f}]" if f["ci95"] else ""

    text = (f"x{math.exp(e['slope']):.2f}{ci(e, math.exp)} per extra bit, or d^{p['slope']:.1f}{ci(p, float)}, "
            f"fit to {fit['runs']} runs at d = {', '.join(map(str, fit['d']))}")
    return text + (f"; the {fit['better']} law leaves the smaller residual" if fit["better"] else "")


def _draw(ax, sweep: Sweep, cost, ylabel: str) -> list[str]:
    lines = []
    for i, (label, runs) in enumerate(arms(sweep).items()):
        points = [(r.config["task"]["d"], cost(r), samples_to_generalise(r)[1]) for r in runs]
        points = [p for p in points if p[1] is not None]
        reached = [(d, c) for d, c, ok in points if ok]
        censored = [(d, c) for d, c, ok in points if not ok]
        color = COLORS[i % len(COLORS)]
        if reached:
            ax.scatter(*zip(*reached), color=color, label=f"{label} (each seed)", s=18)
        if censored:
            ax.scatter(*zip(*censored), color=color, marker="^", facecolors="none", s=40,
                       label=f"{label}: not reached by the cap (> value)")
            for d in sorted({d for d, _ in censored}):  # seeds censored at one cap draw as one marker
                at = [c for dd, c in censored if dd == d]
                n = sum(1 for dd, _, _ in points if dd == d)
                ax.annotate(f"{len(at)} of {n}", (d, max(at)), textcoords="offset points", xytext=(0, 7 + 9 * i),
                            ha="center", fontsize=7, color=color)
        if label == "NTP + RL" and cost is _samples:  # RL's own part of each total, once the chain was learnt
            rl = [(r.config["task"]["d"], r.summary["posttrain"]["samples"]) for r in runs if samples_to_generalise(r)[1]]
            if rl:
                ax.scatter(*zip(*rl), color=color, marker="o", facecolors="none", s=18, label=f"{label}: of which RL")
                lines.append(f"{label}: RL's part of it {min(s for _, s in rl):.2g}-{max(s for _, s in rl):.2g} samples")
        fit = growth(reached)
        if fit:
            law = fit["better"] or "exponential"
            ds = fit["d"]  # the fit's own range: no line over censored-only d
            f = fit[law]
            x = [math.log(d) if law == "power" else d for d in ds]
            ax.plot(ds, [math.exp(f["intercept"] + f["slope"] * xx) for xx in x], "--", color=color, lw=1)
        lines.append(f"{label}: {len(reached)} of {len(points)} runs reached greedy >= 0.99"
                     + (f" ({len(censored)} censored at their cap)" if censored else "") + f"; {growth_text(fit)}")
    ax.set(yscale="log", xlabel="d (input bits)", ylabel=ylabel)
    ax.set_xticks(sorted({r.config["task"]["d"] for r in sweep.done()}))
    ax.set_ylim(top=ax.get_ylim()[1] * 2.5)  # room for the "k of n" above the censored markers
    ax.grid(alpha=0.3, which="both")
    return lines


def _samples(run: Run) -> int:
    return samples_to_generalise(run)[0]


def resource_gap(sweep: Sweep):
    """Samples (left) and, where the runs counted them, training FLOPs (right) to held-out greedy
    accuracy >= 0.99 against d, each arm with its fitted growth; censored runs as open triangles at
    their cap (they needed more)."""
    with_flops = bool(sweep.done()) and all(flops_to_generalise(r) is not None for r in sweep.done())
    fig, axes = plt.subplots(1, 2 if with_flops else 1, figsize=(13 if with_flops else 7.5, 5), squeeze=False)
    lines = _draw(axes[0][0], sweep, _samples, "samples until held-out greedy accuracy >= 0.99")
    if with_flops:
        flops = _draw(axes[0][1], sweep, flops_to_generalise, "training FLOPs until then (RL's generation included)")
        lines += [f"FLOPs: {line}" for line in flops if "RL's part" not in line]
    axes[0][0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)  # below: the data fill the box
    p_cot = sweep.done()[0].config["task"]["p_cot"] if sweep.done() else "?"
    return fig, f"p_cot = {p_cot}. " + "; ".join(lines) + "."


def verdict(sweep_dir: str | Path) -> tuple[str, str]:
    """The resource-gap studies' pre-registered claim, judged on the runs together: at every d, NTP+RL
    reaches held-out greedy >= 0.99 in every seed, on fewer samples than any NTP-alone run needed
    (a censored run counts at its cap, a lower bound). met: at every d; not met: at none; else mixed.
    The line also gives each arm's fitted growth, which is measured, not judged."""
    sweep = load_sweep(Path(sweep_dir))
    groups = arms(sweep)
    rl = groups.get("NTP + RL", [])
    alone = [r for label, runs in groups.items() if label.startswith("NTP alone") for r in runs]
    ds = sorted({r.config["task"]["d"] for r in rl} | {r.config["task"]["d"] for r in alone})
    if not rl or not alone:
        return "no data", "needs both an NTP + RL and an NTP-alone arm"
    held = []
    for d in ds:
        here_rl = [samples_to_generalise(r) for r in rl if r.config["task"]["d"] == d]
        here_alone = [samples_to_generalise(r)[0] for r in alone if r.config["task"]["d"] == d]
        held.append(bool(here_rl) and all(ok for _, ok in here_rl) and bool(here_alone)
                    and max(s for s, _ in here_rl) < min(here_alone))
    k = sum(held)
    word = "met" if k == len(ds) else "not met" if k == 0 else "mixed"
    reached = sum(samples_to_generalise(r)[1] for r in rl)
    alone_reached = sum(samples_to_generalise(r)[1] for r in alone)
    line = (f"NTP+RL reached 0.99 in {reached} of {len(rl)} runs, NTP alone in {alone_reached} of {len(alone)}; "
            f"NTP+RL needed fewer samples than every NTP-alone run at {k} of {len(ds)} d"
            + (f" (not at d = {', '.join(str(d) for d, ok in zip(ds, held) if not ok)})" if k < len(ds) else ""))
    for label, runs in groups.items():
        fit = growth([(r.config["task"]["d"], s) for r in runs for s, ok in [samples_to_generalise(r)] if ok])
        line += f"; {label}: {growth_text(fit)}"
    return word, line

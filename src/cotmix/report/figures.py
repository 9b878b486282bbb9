"""One figure per sweep, by the kind its study names; each returns (figure, what was measured).

Every curve is the mean over seeds with a 95% confidence band (for accuracies and fractions: seed
spread and the binomial error of the held-out prompts combined); the theory is overlaid where it
exists: the 1/3 threshold and calibration (long fraction = p_cot) after NTP, chance accuracy 1/2,
length d+1, and the STaR recursion p_{n+1} = 2 p_n / (1 + p_n).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cotmix.report.data import Sweep, average_curves, mean_ci  # noqa: E402
from cotmix.theory.closed_form import star_step  # noqa: E402

COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _band(ax, points, label, color, style="-", top=None, each=()):
    """Mean line and 95% band. The band is clipped to the quantity's range (>= 0, and <= `top` for
    accuracies and fractions): with 2 seeds Student's t makes bands wide enough to leave it.
    `each`: the seeds' own curves, drawn thin, because with a few seeds that split (some
    generalise, some do not) the mean is a value no seed had."""
    if not points:
        return
    if len(each) > 1:
        for curve in each:
            if curve:
                ax.plot(*zip(*curve), "-", color=color, lw=0.6, alpha=0.45)
    xs, means, cis = zip(*points)
    ax.plot(xs, means, style, color=color, label=label, lw=1.8)
    lows = [max(0.0, m - c) for m, c in zip(means, cis)]
    highs = [m + c if top is None else min(top, m + c) for m, c in zip(means, cis)]
    ax.fill_between(xs, lows, highs, color=color, alpha=0.18, lw=0)


def _fmt(values: list[float], n_prompts: int | None = None) -> str:
    """Mean ± 95% CI (over seeds, and the prompts' binomial error for a fraction measured on
    n_prompts), then each seed's value when they differ: seeds that split (1.00, 1.00, 0.88, 0.49)
    give a mean and a wide interval that describe no seed."""
    mean, ci = mean_ci(values, n_prompts)
    if len(values) == 1 and not n_prompts:
        return f"{values[0]:.2f}"
    each = [f"{v:.2f}" for v in values]
    return f"{mean:.2f} ± {ci:.2f}" + (f" (seeds: {', '.join(each)})" if len(set(each)) > 1 else "")


def _d(sweep: Sweep) -> int:
    return sweep.done()[0].config["task"]["d"]


def _seeds(sweep: Sweep) -> str:
    counts = sorted({len(runs) for runs in sweep.settings().values()})
    seeds = "one seed per setting" if counts == [1] else f"{'/'.join(map(str, counts))} seeds per setting"
    n = sweep.n_prompts()
    prompts = f" x {n} held-out prompts" if n else ""
    return f"n = {seeds}{prompts}; ± is a 95% CI of seed spread and binomial error combined"


def _star_groups(sweep: Sweep) -> dict:
    return {s: runs for s, runs in sweep.settings().items() if runs[0].config["posttrain"]["algorithm"] == "star"}


def _star_rounds(ax, star: dict) -> None:
    """STaR's long fraction of samples per round, against p_{n+1} = 2 p_n / (1 + p_n) started from
    the measured first round. The recursion assumes each round fits its kept samples; a round of a
    few optimizer steps does not, so the measured curve lags it."""
    for i, (setting, runs) in enumerate(star.items()):
        per_seed = [r.curve("posttrain", "completions/long_fraction", evals=False) for r in runs]
        measured = average_curves(per_seed)
        by_round = [[(k + 1, y) for k, (_, y) in enumerate(curve)] for curve in per_seed]
        if len(star) > 1:
            label = setting
        else:
            label = f"measured ({len(runs)} seeds, thin: each)" if len(runs) > 1 else "measured"
        _band(ax, [(k + 1, m, c) for k, (_, m, c) in enumerate(measured)], label, COLORS[i % len(COLORS)], top=1.0,
              each=by_round)
        if measured:
            p, theory = measured[0][1], []
            for k in range(len(measured)):
                theory.append((k + 1, p))
                p = star_step(p)
            ax.plot(*zip(*theory), "k--", lw=1, label="2p/(1+p) from round 1" if i == 0 else None)
    ax.set(xlabel="STaR round", ylabel="long fraction of samples", ylim=(0, 1.02))
    ax.legend(fontsize=7)


def curves(sweep: Sweep):
    """NTP+RL against the NTP-only baseline: greedy accuracy and greedy length along RL samples;
    STaR's long fraction per round against the recursion when the runs are STaR."""
    star, n = _star_groups(sweep), sweep.n_prompts()
    fig, axes = plt.subplots(1, 3 if star else 2, figsize=(15 if star else 10, 3.8))
    acc, length = axes[:2]
    if star:
        _star_rounds(axes[2], star)
    runs = sweep.done()
    for phase, label, color in (("posttrain", "NTP + RL", COLORS[0]), ("baseline", "NTP only", COLORS[1])):
        for ax, key, top in ((acc, "greedy_accuracy", 1.0), (length, "greedy_length_median", None)):
            per_seed = [r.curve(phase, key) for r in runs]
            _band(ax, average_curves(per_seed, n if top else None), label, color, top=top, each=per_seed)
    acc.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
    length.axhline(_d(sweep) + 1, color="grey", ls=":", lw=1, label="d + 1 (long)")
    acc.set(xlabel="samples after pre-training", ylabel="greedy accuracy", ylim=(0.4, 1.02))
    length.set(xlabel="samples after pre-training", ylabel="greedy response length (median)")
    acc.legend(), length.legend()
    rl = [r.metric("posttrain", "greedy_accuracy") for r in runs]
    ntp = [r.metric("baseline", "greedy_accuracy") or r.metric("pretrain", "greedy_accuracy") for r in runs]
    lengths = [r.metric("posttrain", "greedy_length_median") for r in runs]
    return fig, (f"Final greedy accuracy: NTP only {_fmt(ntp, n)}, NTP+RL {_fmt(rl, n)}; NTP+RL greedy length "
                 f"{_fmt(lengths)} (d+1 = {_d(sweep) + 1}); {_seeds(sweep)}.")


def curves_by(sweep: Sweep):
    """One line per setting: RL greedy accuracy and sampled length; STaR's long fraction per round
    against the recursion when STaR runs are present."""
    groups, star, n = sweep.settings(), _star_groups(sweep), sweep.n_prompts()
    fig, axes = plt.subplots(1, 3 if star else 2, figsize=(15 if star else 10, 3.8))
    lines = []
    for i, (setting, runs) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        for ax, key, top in ((axes[0], "greedy_accuracy", 1.0), (axes[1], "sampled_length_mean", None)):
            per_seed = [r.curve("posttrain", key) for r in runs]
            _band(ax, average_curves(per_seed, n if top else None), setting, color, top=top, each=per_seed)
        lines.append(f"{setting}: {_fmt([r.metric('posttrain', 'greedy_accuracy') for r in runs], n)}")
    axes[0].axhline(0.5, color="grey", ls=":", lw=1)
    axes[0].set(xlabel="samples after pre-training", ylabel="greedy accuracy (NTP + RL)", ylim=(0.4, 1.02))
    axes[1].set(xlabel="samples after pre-training", ylabel="sampled response length (mean)")
    axes[0].legend(fontsize=7)
    if star:
        _star_rounds(axes[2], star)
    return fig, "Final greedy accuracy after RL: " + "; ".join(lines) + f" ({_seeds(sweep)})."


def length(sweep: Sweep):
    """During RL: mean response length and long fraction of the rollouts, per setting."""
    fig, (ln, lf) = plt.subplots(1, 2, figsize=(10, 3.8))
    lines, n = [], sweep.n_prompts()
    for i, (setting, runs) in enumerate(sweep.settings().items()):
        color = COLORS[i % len(COLORS)]
        _band(ln, average_curves([r.curve("posttrain", "completions/mean_length", evals=False) for r in runs]),
              setting, color)
        _band(lf, average_curves([r.curve("posttrain", "completions/long_fraction", evals=False) for r in runs]),
              setting, color, top=1.0)
        p_cot = runs[0].config["task"]["p_cot"]
        lf.axhline(p_cot, color=color, ls=":", lw=1)
        lines.append(f"{setting}: long fraction {_fmt([r.metric('pretrain', 'long_fraction') for r in runs], n)} "
                     f"after NTP -> {_fmt([r.metric('posttrain', 'long_fraction') for r in runs], n)} after RL")
    ln.axhline(_d(sweep) + 1, color="grey", ls=":", lw=1, label="d + 1")
    ln.set(xlabel="samples after pre-training", ylabel="rollout length (mean tokens)")
    lf.set(xlabel="samples after pre-training", ylabel="long fraction of rollouts (dotted: p_cot)", ylim=(0, 1.02))
    ln.legend(fontsize=7), lf.legend(fontsize=7)
    return fig, "; ".join(lines) + f" ({_seeds(sweep)})."


def threshold(sweep: Sweep):
    """After NTP, across p_cot: greedy accuracy (theory: 1/2 below 1/3, 1 above) and long fraction
    (theory: = p_cot)."""
    groups, n = sweep.settings(), sweep.n_prompts()
    ps = sorted({runs[0].config["task"]["p_cot"] for runs in groups.values()})
    by_p = {p: [r for runs in groups.values() for r in runs if r.config["task"]["p_cot"] == p] for p in ps}
    fig, (acc, cal) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in ((acc, "greedy_accuracy", "greedy accuracy after NTP"),
                           (cal, "long_fraction", "long fraction of samples after NTP")):
        stats = [mean_ci([r.metric("pretrain", key) for r in by_p[p]], n) for p in ps]
        ax.errorbar(ps, [m for m, _ in stats], yerr=[c for _, c in stats], fmt="o-", capsize=3, label="measured")
        ax.axvline(1 / 3, color="grey", ls=":", lw=1, label="p_cot = 1/3")
        ax.set(xlabel="p_cot", ylabel=label, ylim=(0.4, 1.05) if ax is acc else (0, min(1.0, max(ps) + 0.15)))
    grid = [i / 200 for i in range(int(min(ps) * 200), int(max(ps) * 200) + 1)]
    acc.plot(grid, [0.5 if p < 1 / 3 else 1.0 for p in grid], "k--", lw=1, label="theory")
    cal.plot(grid, grid, "k--", lw=1, label="theory: = p_cot")
    acc.legend(fontsize=7), cal.legend(fontsize=7)
    cells = [f"{p}: {_fmt([r.metric('pretrain', 'greedy_accuracy') for r in by_p[p]], n)}" for p in ps]
    return fig, "Greedy accuracy after NTP by p_cot: " + "; ".join(cells) + f" ({_seeds(sweep)})."


def by_value(sweep: Sweep):
    """Final metrics against the one varying value: NTP only vs NTP+RL, and RL's long fraction."""
    key = sweep.varying_keys()[0]
    groups, n = sweep.settings(), sweep.n_prompts()
    xs = sorted({r.values[key] for runs in groups.values() for r in runs})
    at = {x: [r for runs in groups.values() for r in runs if r.values[key] == x] for x in xs}
    fig, (acc, lf) = plt.subplots(1, 2, figsize=(10, 3.8))
    lines = []
    for phase, label, color in (("baseline", "NTP only", COLORS[1]), ("posttrain", "NTP + RL", COLORS[0])):
        stats = [mean_ci([r.metric(phase, "greedy_accuracy") for r in at[x]], n) for x in xs]
        acc.errorbar(xs, [m for m, _ in stats], yerr=[c for _, c in stats], fmt="o-", capsize=3, label=label,
                     color=color)
        longs = [mean_ci([r.metric(phase, "long_fraction") for r in at[x]], n) for x in xs]
        lf.errorbar(xs, [m for m, _ in longs], yerr=[c for _, c in longs], fmt="o-", capsize=3, label=label,
                    color=color)
    acc.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
    acc.set(xlabel=key, ylabel="final greedy accuracy", ylim=(0.4, 1.02))
    lf.set(xlabel=key, ylabel="long fraction of samples", ylim=(0, 1.02))
    acc.legend(fontsize=7), lf.legend(fontsize=7)
    for x in xs:
        lines.append(f"{key}={x}: NTP only {_fmt([r.metric('baseline', 'greedy_accuracy') for r in at[x]], n)}, "
                     f"NTP+RL {_fmt([r.metric('posttrain', 'greedy_accuracy') for r in at[x]], n)}")
    return fig, "Final greedy accuracy: " + "; ".join(lines) + f" ({_seeds(sweep)})."


def size(sweep: Sweep):
    """NTP alone at several model sizes: greedy accuracy and long fraction after pre-training."""
    groups, n = sweep.settings(), sweep.n_prompts()
    labels = list(groups)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for j, (key, name) in enumerate((("greedy_accuracy", "greedy accuracy"), ("long_fraction", "long fraction"))):
        stats = [mean_ci([r.metric("pretrain", key) for r in groups[s]], n) for s in labels]
        ax.bar([i + 0.4 * j for i in range(len(labels))], [m for m, _ in stats], 0.4,
               yerr=[c for _, c in stats], label=name, color=COLORS[j])
    p_cot = next(iter(groups.values()))[0].config["task"]["p_cot"]
    ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
    ax.axhline(p_cot, color="black", ls="--", lw=1, label=f"p_cot = {p_cot}")
    ax.set_xticks([i + 0.2 for i in range(len(labels))], [s.replace("model.", "").replace(",", "\n") for s in labels],
                  fontsize=7)
    ax.set(ylabel="after NTP", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    cells = [f"{s.replace('model.', '')}: {_fmt([r.metric('pretrain', 'greedy_accuracy') for r in groups[s]], n)}"
             for s in labels]
    return fig, "Greedy accuracy after NTP: " + "; ".join(cells) + f" ({_seeds(sweep)})."


def phase(sweep: Sweep):
    """(d, p_cot) heat maps of final greedy accuracy: NTP only and NTP + RL."""
    runs = sweep.done()
    ds = sorted({r.config["task"]["d"] for r in runs})
    ps = sorted({r.config["task"]["p_cot"] for r in runs})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    summary = []
    for ax, phase_name, title in zip(axes, ("baseline", "posttrain"), ("NTP only", "NTP + RL")):
        grid = [[mean_ci([r.metric(phase_name, "greedy_accuracy") for r in runs
                          if r.config["task"]["d"] == d and r.config["task"]["p_cot"] == p] or [float("nan")])[0]
                 for p in ps] for d in ds]
        image = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(ps)), [str(p) for p in ps])
        ax.set_yticks(range(len(ds)), [str(d) for d in ds])
        ax.set(xlabel="p_cot", ylabel="d", title=f"{title}: greedy accuracy")
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.8 else "black")
        summary.append(f"{title}: {sum(v >= 0.99 for row in grid for v in row)}/{len(ds) * len(ps)} cells >= 0.99")
    fig.colorbar(image, ax=axes[1], shrink=0.9)
    return fig, "; ".join(summary) + f" ({_seeds(sweep)})."


KINDS = {"curves": curves, "curves_by": curves_by, "length": length, "threshold": threshold, "by_value": by_value,
         "size": size, "phase": phase, "rl_start": curves_by}


def kind_for(sweep: Sweep) -> str:
    """The figure kind of a built-in study, else a generic one for a user's sweep."""
    from cotmix.sweep.studies import STUDIES

    if sweep.name in STUDIES:
        return STUDIES[sweep.name].figure
    keys = sweep.varying_keys()
    if sweep.spec.get("command") == "pretrain":
        return "threshold" if keys == ["task.p_cot"] else "size"
    return "by_value" if len(keys) == 1 else ("curves" if not keys else "curves_by")

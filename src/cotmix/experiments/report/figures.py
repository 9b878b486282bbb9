"""One figure per sweep, by the kind its study names; each returns (figure, what was measured).

Conventions (bands, error bars, theory overlays) are cotmix.plotting's: the mean over seeds with a
95% interval that stays inside the metric's range (Wilson for one seed, a bootstrap over seeds and
prompts otherwise). A run directory's own figures (`cotmix plot`) are in run_figures.py.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt

from cotmix import plotting
from cotmix.experiments.report import paper_scale, predictor, resource_gap
from cotmix.experiments.report.data import Curve, Sweep
from cotmix.plotting import COLORS, average_curves, band, bars, interval
from cotmix.registry import FIGURES, TASKS
from cotmix.theory.closed_form import greedy_threshold


def _fmt(values: list[float], n_prompts: int | None = None) -> str:
    """Mean and 95% interval (cotmix.plotting.interval: over seeds, and the prompts' binomial error for
    a fraction measured on n_prompts), then each seed's value when they differ: seeds that split
    (1.00, 1.00, 0.88, 0.49) give a mean and a wide interval that describe no seed. Runs that have not
    reached the metric's phase (a partial report) are left out; "-" when none has."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean, low, high = interval(values, n_prompts)
    if len(values) == 1 and not n_prompts:
        return f"{values[0]:.2f}"
    each = [f"{v:.2f}" for v in values]
    return f"{mean:.2f} [{low:.2f}, {high:.2f}]" + (f" (seeds: {', '.join(each)})" if len(set(each)) > 1 else "")


def _symbols(sweep: Sweep) -> int:
    """How many values the task's short answer takes (parity 2, digitsum 10): chance is its inverse."""
    task = TASKS.resolve(sweep.done()[0].config["task"]["name"], quiet=True)
    return 2 if task is None else task.answer_symbols  # None: no one-token answer (multiplication), no chance line


def _long_length(sweep: Sweep) -> int:
    """Tokens of the task's long response (parity: d + 1; 3x3 multiplication: 35)."""
    from cotmix.config import config_from_dict
    from cotmix.registry import TASKS

    task = config_from_dict(sweep.done()[0].config).task
    return TASKS[task.name].from_config(task).long_response_len


def _seeds(sweep: Sweep) -> str:
    counts = sorted({len(runs) for runs in sweep.settings().values()})
    n = sweep.n_prompts()
    prompts = f" x {n} test prompts" if n else ""
    if counts == [1]:
        return f"n = one seed per setting{prompts}; [ ] is a 95% Wilson interval over the prompts"
    return (f"n = {'/'.join(map(str, counts))} seeds per setting{prompts}; [ ] is a 95% interval "
            "(bootstrap over seeds and prompts)")


def setting_line(sweep: Sweep) -> str:
    """What every run of the sweep shares, for the figure's title: the task, p_cot, the model, the
    RL algorithm and reward, seeds and prompts; and the paper's setting where the study names one
    (its claim's "(paper: ...)"). Values that differ between runs are the figure's axes or legend."""
    from cotmix.experiments.studies import STUDIES

    runs = sweep.done()
    if not runs:
        return ""
    same = lambda get: len({repr(get(r.config)) for r in runs}) == 1  # noqa: E731
    first, parts = runs[0].config, []
    task = TASKS.resolve(first["task"]["name"], quiet=True)
    if same(lambda c: (c["task"]["name"], c["task"].get("d"), c["task"].get("digits_a"), c["task"].get("digits_b"))):
        parts.append(task.describe(first["task"]) if task is not None else first["task"]["name"])
    if same(lambda c: c["task"]["p_cot"]):
        parts.append(f"p_cot = {first['task']['p_cot']}")
    m = first["model"]
    if same(lambda c: c["model"]):
        parts.append(f"{m['flavour']} {m['n_layer']} x {m['d_model']}")
    post = first["posttrain"]
    if sweep.spec.get("command", "run") == "run" and same(lambda c: (c["posttrain"]["algorithm"], c["posttrain"]["reward"])):
        parts.append(f"{post['algorithm']}, {post['reward']} reward")
    counts = sorted({len(group) for group in sweep.settings().values()})
    parts.append(f"{'/'.join(map(str, counts))} seed{'s' if counts != [1] else ''}")
    counts = sorted({r.metric("pretrain", "n_prompts") for r in sweep.done()} - {None})
    if sweep.n_prompts():  # a range where the held-out side grows with d
        parts.append(f"n = {counts[0]}{f'-{counts[-1]}' if len(counts) > 1 else ''} test prompts")
    study = STUDIES.get(sweep.name)
    paper = re.search(r"\((paper[^)]*)\)", study.claim) if study else None
    return " · ".join(parts) + (f"  ({paper.group(1)})" if paper else "")


def _star_groups(sweep: Sweep) -> dict:
    return {s: runs for s, runs in sweep.settings().items() if runs[0].config["posttrain"]["algorithm"] == "star"}


def _star_rounds(ax, star: dict, colors: dict | None = None) -> None:
    """STaR's long fraction of samples per round, against p_{n+1} = 2 p_n / (1 + p_n) started from
    the measured first round. The recursion assumes each round fits its kept samples; a round of a
    few optimizer steps does not, so the measured curve lags it. With `colors` (setting -> colour,
    from the figure's other panels) the settings keep those colours and are left to that legend."""
    for i, (setting, runs) in enumerate(star.items()):
        per_seed = []
        for run in runs:
            steps = run.curve("posttrain", "completions/long_fraction", evals=False)
            rounds = Curve((k + 1, y) for k, (_, y) in enumerate(steps))
            rounds.held = steps.held  # a run stopped by the RL rule counts on with its last round
            per_seed.append(rounds)
        if colors:  # named in the figure's own legend
            label, color = None, colors[setting]
        else:
            label = setting if len(star) > 1 else (f"measured ({len(runs)} seeds, thin: each)" if len(runs) > 1
                                                   else "measured")
            color = COLORS[i % len(COLORS)]
        band(ax, per_seed, label, color, _rollouts(runs[0]))
        measured = average_curves(per_seed)
        if measured:
            plotting.star_recursion(ax, measured[0][1], len(measured), start_round=1,
                                    label="2p/(1+p) from round 1" if i == 0 else None)
    ax.set(xlabel="STaR round", ylabel="long fraction of samples", ylim=(0, 1.02))
    ax.legend(fontsize=7)


def _rollouts(run) -> int:
    """Samples per RL step (prompts x group): the n behind a rollout share."""
    p = run.config["posttrain"]
    return p["prompts_per_step"] * p["group_size"]


def _rollout_curves(shares, entropy, runs) -> None:
    """What RL's rollouts did at each step (TRL's names): the long share of the samples, the share of
    groups whose rewards were all equal (frac_reward_zero_std: no gradient from them), and the policy's
    entropy on its own samples."""
    n, groups = _rollouts(runs[0]), runs[0].config["posttrain"]["prompts_per_step"]
    for key, label, color, count in (("completions/long_fraction", "long fraction of rollouts", COLORS[0], n),
                                     ("frac_reward_zero_std", "groups with one reward (frac_reward_zero_std)",
                                      COLORS[2], groups)):
        band(shares, [r.curve("posttrain", key, evals=False) for r in runs], label, color, count)
    band(entropy, [r.curve("posttrain", "entropy", evals=False) for r in runs], "policy entropy", COLORS[3])
    shares.set(xlabel="samples after pre-training", ylabel="share", ylim=(0, 1.02), title="RL rollouts")
    entropy.set(xlabel="samples after pre-training", ylabel="entropy (nats per token)", title="RL policy entropy")
    entropy.set_ylim(bottom=0)
    shares.legend(fontsize=7), entropy.legend(fontsize=7)


ARM_STYLES = (("baseline", "NTP only", COLORS[1], "--", "s"), ("posttrain", "NTP + RL", COLORS[0], "-", "o"))


def _arms(ax, runs, key: str, n_prompts: int | None) -> None:
    """NTP only (dashed, squares, drawn first) and NTP + RL (solid, circles) on one panel: where the two
    arms lie on each other both stay visible."""
    curves_of = [(name, color, style, marker, [r.curve(phase, key) for r in runs])
                 for phase, name, color, style, marker in ARM_STYLES]
    for name, color, style, marker, arm in curves_of:
        band(ax, arm, name, color, n_prompts, style=style, marker=marker)
    plotting.spread_x(ax, [curve for *_, arm in curves_of for curve in arm])


def curves(sweep: Sweep):
    """Three columns. Pre-training: greedy accuracy, the exact-chain accuracy of long answers and the
    sampled long fraction (the chain being learnt, calibration), the NTP loss, and the greedy length.
    After pre-training, NTP + RL against the NTP-only arm: greedy accuracy, greedy length and the
    sampled long fraction. RL's rollouts: their long fraction and zero-variance groups, the policy
    entropy, and STaR's long fraction per round against the recursion when the runs are STaR. Each
    column has its own x axis: RL uses far fewer samples than pre-training."""
    star, n, runs = _star_groups(sweep), sweep.n_prompts(), sweep.done()
    long_tokens, symbols = _long_length(sweep), _symbols(sweep)
    p_cot = runs[0].config["task"]["p_cot"]
    fig, axes = plt.subplots(3, 3, figsize=(15, 10.5))
    (pre_acc, arm_acc, shares), (pre_loss, arm_len, entropy), (pre_len, arm_long, star_ax) = axes

    for key, label, color in (("greedy_accuracy", "greedy accuracy", "0.25"),
                              ("chain_exact_accuracy", "long answers right end to end (chain)", COLORS[2]),
                              ("long_fraction", "sampled long fraction", COLORS[4]),
                              ("greedy_long_fraction", "greedy answers long", COLORS[5])):
        band(pre_acc, [r.curve("pretrain", key) for r in runs], label, color, n)
    plotting.chance(pre_acc, symbols=symbols)
    pre_acc.axhline(p_cot, color=COLORS[4], ls=":", lw=1, label=f"p_cot = {p_cot} (calibrated)")
    pre_acc.set(title="NTP pre-training", ylabel="share of test prompts", ylim=(0, 1.02))
    band(pre_loss, [r.curve("pretrain", "loss", evals=False) for r in runs], "NTP loss (training batches)", "0.25")
    pre_loss.set(ylabel="loss (nats per token)", yscale="log")
    band(pre_len, [r.curve("pretrain", "greedy_length_median") for r in runs], "greedy length (median)", "0.25")
    pre_len.set(xlabel="pre-training samples (demonstrations)", ylabel="tokens")
    for ax in (pre_acc, pre_len):  # one x axis for the column, from 0: a lone evaluation is not a range
        ax.sharex(pre_loss)
    pre_loss.set_xlim(left=0)

    _arms(arm_acc, runs, "greedy_accuracy", n)
    plotting.chance(arm_acc, symbols=symbols)
    arm_acc.set(title="after pre-training: NTP + RL vs NTP only", ylabel="greedy accuracy", ylim=(0, 1.02))
    _arms(arm_len, runs, "greedy_length_median", None)
    arm_len.set(ylabel="greedy length (median tokens)")
    _arms(arm_long, runs, "long_fraction", n)
    arm_long.axhline(p_cot, color="grey", ls=":", lw=1, label=f"p_cot = {p_cot}")
    arm_long.set(xlabel="samples after pre-training", ylabel="sampled long fraction", ylim=(0, 1.02))
    for ax in (pre_len, arm_len):
        plotting.long_length(ax, long_tokens)
        ax.set_ylim(0, long_tokens + 1)
    for ax in (pre_acc, pre_loss, pre_len, arm_acc, arm_len, arm_long):
        ax.legend(fontsize=7)
    _rollout_curves(shares, entropy, runs)
    if not any(r.summary.get(phase) for r in runs for phase in ("posttrain", "baseline")):
        for ax in (arm_acc, arm_len, arm_long, shares, entropy):  # a pre-training run: nothing after it
            ax.clear()
            ax.axis("off")
        arm_acc.text(0.5, 0.5, "no RL phase and no NTP-only arm in this run", ha="center", va="center",
                     transform=arm_acc.transAxes, fontsize=9, color="0.4")
    if star:
        _star_rounds(star_ax, star)
    else:
        star_ax.axis("off")
    rl = [r.metric("posttrain", "greedy_accuracy") for r in runs]
    ntp = [r.metric("baseline", "greedy_accuracy") or r.metric("pretrain", "greedy_accuracy") for r in runs]
    lengths = [r.metric("posttrain", "greedy_length_median") for r in runs]
    if None in rl:
        return fig, f"NTP only: greedy accuracy {_fmt(ntp, n)} ({_seeds(sweep)})."
    return fig, (f"Final greedy accuracy: NTP only {_fmt(ntp, n)}, NTP+RL {_fmt(rl, n)}; NTP+RL greedy length "
                 f"{_fmt(lengths)} (long: {long_tokens} tokens); {_seeds(sweep)}.")


def curves_by(sweep: Sweep):
    """One line per setting: RL greedy accuracy and sampled length; STaR's long fraction per round
    against the recursion when STaR runs are present."""
    groups, star, n = sweep.settings(), _star_groups(sweep), sweep.n_prompts()
    # Past a few settings the legend gets a panel of its own, where it cannot cover curves or labels.
    panels, aside = 3 if star else 2, len(groups) > 4
    fig, axes = plt.subplots(1, panels + aside, figsize=(5 * (panels + aside * 0.8), 3.8),
                             width_ratios=[1] * panels + [0.8] * aside)
    lines = []
    for i, (setting, runs) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        for ax, key, top in ((axes[0], "greedy_accuracy", 1.0), (axes[1], "sampled_length_mean", None)):
            band(ax, [r.curve("posttrain", key) for r in runs], setting, color, n if top else None)
        lines.append(f"{setting}: {_fmt([r.metric('posttrain', 'greedy_accuracy') for r in runs], n)}")
    plotting.chance(axes[0], label=None, symbols=_symbols(sweep))
    axes[0].set(xlabel="samples after pre-training", ylabel="greedy accuracy (NTP + RL)",
                ylim=(0, 1.02))
    axes[1].set(xlabel="samples after pre-training", ylabel="sampled response length (mean)")
    axes[1].set_ylim(bottom=0)
    if aside:
        axes[-1].axis("off")
        axes[-1].legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="center left", frameon=False)
    else:
        axes[0].legend(fontsize=7)
    if star:
        _star_rounds(axes[2], star, {s: COLORS[i % len(COLORS)] for i, s in enumerate(groups)})
    return fig, "Final greedy accuracy after RL: " + "; ".join(lines) + f" ({_seeds(sweep)})."


def length(sweep: Sweep):
    """During RL: mean response length and long fraction of the rollouts, per setting."""
    fig, (ln, lf) = plt.subplots(1, 2, figsize=(10, 3.8))
    lines, n = [], sweep.n_prompts()
    for i, (setting, runs) in enumerate(sweep.settings().items()):
        color = COLORS[i % len(COLORS)]
        band(ln, [r.curve("posttrain", "completions/mean_length", evals=False) for r in runs], setting, color)
        band(lf, [r.curve("posttrain", "completions/long_fraction", evals=False) for r in runs], setting, color,
             _rollouts(runs[0]))
        lf.axhline(runs[0].config["task"]["p_cot"], color=color, ls=":", lw=1)
        lines.append(f"{setting}: long fraction {_fmt([r.metric('pretrain', 'long_fraction') for r in runs], n)} "
                     f"after NTP -> {_fmt([r.metric('posttrain', 'long_fraction') for r in runs], n)} after RL")
    plotting.long_length(ln, _long_length(sweep))
    ln.set(xlabel="samples after pre-training", ylabel="rollout length (mean tokens)")
    lf.set(xlabel="samples after pre-training", ylabel="long fraction of rollouts (dotted: p_cot)", ylim=(0, 1.02))
    ln.legend(fontsize=7), lf.legend(fontsize=7)
    return fig, "; ".join(lines) + f" ({_seeds(sweep)})."


def threshold(sweep: Sweep):
    """After NTP, across p_cot: greedy accuracy (theory: chance below the task's threshold, 1 above),
    the share of greedy answers that are long (0 below, 1 above), the sampled long fraction (theory:
    = p_cot), and the study's pre-registered bars where a criterion reads one of them."""
    from cotmix.experiments.studies import STUDIES

    groups, n = sweep.settings(), sweep.n_prompts()
    ps = sorted({runs[0].config["task"]["p_cot"] for runs in groups.values()})
    by_p = {p: [r for runs in groups.values() for r in runs if r.config["task"]["p_cot"] == p] for p in ps}
    symbols = _symbols(sweep)
    criteria = STUDIES[sweep.name].criteria if sweep.name in STUDIES else ()
    fig, (acc, greedy_long, cal) = plt.subplots(1, 3, figsize=(14, 3.8), sharex=True)
    for ax, key, label in ((acc, "greedy_accuracy", "greedy accuracy after NTP"),
                           (greedy_long, "greedy_long_fraction", "greedy answers that are long"),
                           (cal, "long_fraction", "long fraction of samples after NTP")):
        values = [[r.metric("pretrain", key) for r in by_p[p]] for p in ps]
        stats = bars(ax, ps, values, n, fmt="o-", label="measured")
        plotting.threshold(ax, symbols=symbols)
        plotting.preregistered(ax, criteria, key)
        highest = max([max(ps), *(hi for _, _, hi in stats), *(v for vs in values for v in vs if v is not None)])
        ax.set(xlabel="p_cot", ylabel=label, ylim=(0, min(1.02, highest + 0.1)) if ax is cal else (0, 1.02))
    planned = sweep.spec.get("grid", {}).get("task.p_cot") or ps  # a partial sweep: the axis it will have
    lo, hi = min(*ps, *planned), max(*ps, *planned)
    acc.set_xlim(lo - 0.03, hi + 0.03)
    plotting.greedy_theory(acc, lo, hi, symbols=symbols)
    if symbols is not None:
        t = greedy_threshold(symbols)
        greedy_long.step([lo, t, t, hi], [0, 0, 1, 1], where="post", color="k", ls="--", lw=1, label="theory")
    cal.plot([lo, hi], [lo, hi], "k--", lw=1, label="theory: = p_cot")
    for ax in (acc, greedy_long, cal):
        ax.legend(fontsize=7)
    cells = [f"{p}: {_fmt([r.metric('pretrain', 'greedy_accuracy') for r in by_p[p]], n)}" for p in ps]
    measured = "Greedy accuracy after NTP by p_cot: " + "; ".join(cells)
    if symbols is None:  # no one-token answer: the share of long greedy answers is the finding
        cells = [f"{p}: {_fmt([r.metric('pretrain', 'greedy_long_fraction') for r in by_p[p]], n)}" for p in ps]
        measured += ". Greedy answers that are long: " + "; ".join(cells)
    return fig, measured + f" ({_seeds(sweep)})."


def by_value(sweep: Sweep):
    """Final metrics against the one varying value: NTP only vs NTP+RL, and RL's long fraction."""
    key = sweep.varying_keys()[0]
    groups, n = sweep.settings(), sweep.n_prompts()
    xs = sorted({r.values[key] for runs in groups.values() for r in runs})
    at = {x: [r for runs in groups.values() for r in runs if r.values[key] == x] for x in xs}
    fig, (acc, lf) = plt.subplots(1, 2, figsize=(10, 3.8))
    lines = []
    for phase, label, color in (("baseline", "NTP only", COLORS[1]), ("posttrain", "NTP + RL", COLORS[0])):
        bars(acc, xs, [[r.metric(phase, "greedy_accuracy") for r in at[x]] for x in xs], n, fmt="o-", label=label,
             color=color)
        bars(lf, xs, [[r.metric(phase, "long_fraction") for r in at[x]] for x in xs], n, fmt="o-", label=label,
             color=color)
    plotting.chance(acc, symbols=_symbols(sweep))
    acc.set(xlabel=key, ylabel="final greedy accuracy", ylim=(0, 1.02))
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
        stats = [interval([r.metric("pretrain", key) for r in groups[s]], n) for s in labels]
        ax.bar([i + 0.4 * j for i in range(len(labels))], [m for m, _, _ in stats], 0.4, label=name, color=COLORS[j],
               yerr=[[m - lo for m, lo, _ in stats], [hi - m for m, _, hi in stats]])
    p_cot = next(iter(groups.values()))[0].config["task"]["p_cot"]
    plotting.chance(ax)
    ax.axhline(p_cot, color="black", ls="--", lw=1, label=f"p_cot = {p_cot}")
    ax.set_xticks([i + 0.2 for i in range(len(labels))], [s.replace("model.", "").replace(",", "\n") for s in labels],
                  fontsize=7)
    ax.set(ylabel="after NTP", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    cells = [f"{s.replace('model.', '')}: {_fmt([r.metric('pretrain', 'greedy_accuracy') for r in groups[s]], n)}"
             for s in labels]
    return fig, "Greedy accuracy after NTP: " + "; ".join(cells) + f" ({_seeds(sweep)})."


def phase(sweep: Sweep):
    """(d, p_cot) heat maps of final greedy accuracy, NTP only and NTP + RL. Each cell shows the mean
    over seeds and how many seeds reached 0.99 (seeds that split make a mean no seed had); a cell
    whose runs have not reached that phase yet (a partial report) is left blank."""
    runs = sweep.done()
    ds = sorted({r.config["task"]["d"] for r in runs})
    ps = sorted({r.config["task"]["p_cot"] for r in runs})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    summary = []
    for ax, phase_name, title in zip(axes, ("baseline", "posttrain"), ("NTP only", "NTP + RL")):
        cells = {(d, p): [v for r in runs if r.config["task"]["d"] == d and r.config["task"]["p_cot"] == p
                          and (v := r.metric(phase_name, "greedy_accuracy")) is not None] for d in ds for p in ps}
        grid = [[interval(cells[d, p])[0] for p in ps] for d in ds]
        image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(ps)), [str(p) for p in ps])
        ax.set_yticks(range(len(ds)), [str(d) for d in ds])
        ax.set(xlabel="p_cot", ylabel="d", title=f"{title}: greedy accuracy")
        for i, d in enumerate(ds):
            for j, p in enumerate(ps):
                if values := cells[d, p]:
                    label = f"{grid[i][j]:.2f}\n{sum(v >= 0.99 for v in values)}/{len(values)}"
                    ax.text(j, i, label, ha="center", va="center", fontsize=7,
                            color="white" if grid[i][j] < 0.6 else "black")
        reached = sum(all(v >= 0.99 for v in vs) for vs in cells.values() if vs)
        summary.append(f"{title}: all seeds >= 0.99 in {reached} of {sum(bool(vs) for vs in cells.values())} cells")
    fig.colorbar(image, ax=axes[1], shrink=0.9)
    return fig, ("; ".join(summary) + f"; in each cell the mean, then the seeds >= 0.99 of those run "
                 f"({_seeds(sweep)}).")


# The figure kinds a study names (cotmix.experiments.studies); yours: FIGURES.register("name", fn),
# fn(sweep) -> (matplotlib figure, one line of what was measured).
for _name, _draw in {"curves": curves, "curves_by": curves_by, "length": length, "threshold": threshold,
                     "by_value": by_value, "size": size, "phase": phase, "rl_start": curves_by,
                     "resource_gap": resource_gap.resource_gap, "star_rounds": paper_scale.star_rounds,
                     "predictor": predictor.predictor}.items():
    FIGURES.register(_name, _draw)


def kind_for(sweep: Sweep) -> str:
    """The figure kind of a built-in study, else a generic one for a user's sweep."""
    from cotmix.experiments.studies import STUDIES

    if sweep.name in STUDIES:
        return STUDIES[sweep.name].figure
    keys = sweep.varying_keys()
    if sweep.spec.get("command") == "pretrain":
        return "threshold" if keys == ["task.p_cot"] else "size"
    return "by_value" if len(keys) == 1 else ("curves" if not keys else "curves_by")

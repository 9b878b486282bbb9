"""The figures of run directories rather than sweeps: `cotmix plot RUN` (a run's curves.png, the
`curves` figure of a sweep of that one run) and `cotmix plot RUN_A RUN_B ...` (one comparison)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt

from cotmix import plotting
from cotmix.experiments.report.data import Sweep, hostile_files
from cotmix.experiments.report.figures import ARM_STYLES, curves, setting_line
from cotmix.files import check_output_file
from cotmix.plotting import COLORS, band


def plot_run(run_dir: Path, path: Path | None = None) -> Path:
    """curves.png of one run: the `curves` figure of a sweep of that one run."""
    run_dir = Path(run_dir)
    path = check_output_file(Path(path or run_dir / "curves.png"), "--out", plotting.is_figure, "figure")
    with hostile_files(run_dir):
        sweep = Sweep.of_run(run_dir)
        fig, measured = curves(sweep)
    fig.suptitle(sweep.runs[0].title() + "\n" + setting_line(sweep) + "\n" + "\n".join(textwrap.wrap(measured, 140)),
                 fontsize=9)
    plotting.tidy(fig)
    fig.tight_layout()
    plotting.save(fig, path)
    return path


def compare_runs(run_dirs: list[Path], path: Path) -> Path:
    """`cotmix plot RUN_A RUN_B ...`: the runs side by side, one colour each. Pre-training (greedy
    accuracy solid, exact-chain accuracy dotted) against samples; after it, greedy accuracy, greedy
    length and the sampled long fraction, NTP + RL solid and the NTP-only arm dashed."""
    path = check_output_file(Path(path), "--out", plotting.is_figure, "figure")
    sweeps = []
    for run_dir in map(Path, run_dirs):
        with hostile_files(run_dir):
            sweeps.append(Sweep.of_run(run_dir))
    names = ["/".join(Path(d).resolve().parts[-2:]) for d in run_dirs]  # enough to tell them apart, short
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    (pre, acc), (length, long_fraction) = axes
    for i, (name, sweep) in enumerate(zip(names, sweeps)):
        run, color, n = sweep.runs[0], COLORS[i % len(COLORS)], sweep.n_prompts()
        band(pre, [run.curve("pretrain", "greedy_accuracy")], name, color, n)
        band(pre, [run.curve("pretrain", "chain_exact_accuracy")], None, color, n, style=":")
        for ax, key, count in ((acc, "greedy_accuracy", n), (length, "greedy_length_median", None),
                               (long_fraction, "long_fraction", n)):
            for phase, _, _, style, marker in ARM_STYLES:
                band(ax, [run.curve(phase, key)], name if phase == "posttrain" else None, color, count,
                     style=style, marker=marker)
    pre.set(title="NTP pre-training (dotted: long answers right end to end)", ylabel="greedy accuracy", ylim=(0, 1.02),
            xlabel="pre-training samples (demonstrations)")
    acc.set(title="after pre-training (solid: NTP + RL, dashed: NTP only)", ylabel="greedy accuracy", ylim=(0, 1.02),
            xlabel="samples after pre-training")
    length.set(xlabel="samples after pre-training", ylabel="greedy length (median tokens)")
    length.set_ylim(bottom=0)
    long_fraction.set(xlabel="samples after pre-training", ylabel="sampled long fraction", ylim=(0, 1.02))
    for ax in (acc, length, long_fraction):
        plotting.spread_x(ax, [c for s in sweeps for ph in ("posttrain", "baseline")
                               for c in [s.runs[0].curve(ph, "greedy_accuracy")] if c])
    for ax in axes.flat:
        ax.legend(fontsize=7)
    fig.suptitle("\n".join(textwrap.shorten(f"{name}: {setting_line(s)}, T={s.runs[0].config['posttrain']['temperature']}",
                                             150) for name, s in zip(names, sweeps)), fontsize=8)
    plotting.tidy(fig)
    fig.tight_layout()
    plotting.save(fig, path)
    return path

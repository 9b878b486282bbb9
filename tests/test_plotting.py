"""cotmix.plotting's uncertainty, and the figure test: every built-in figure kind, drawn from a real
sweep, keeps its bands and error bars inside what the quantity can be."""

import math
from pathlib import Path

import numpy as np
import pytest

from cotmix.eval.stats import wilson
from cotmix.plotting import average_curves, interval

FRACTION_WORDS = ("accuracy", "fraction", "share")


def test_one_seed_of_a_fraction_gets_wilson_and_one_seed_of_anything_else_no_interval():
    mean, low, high = interval([0.5], n_prompts=2048)
    assert (low, high) == pytest.approx(tuple(wilson(1024, 2048)))
    assert interval([1.0], n_prompts=16)[2] == 1.0 and interval([0.0], n_prompts=16)[1] == 0.0
    assert interval([21.0]) == (21.0, 21.0, 21.0)
    assert all(math.isnan(v) for v in interval([None]))


@pytest.mark.parametrize("values", [[1.0, 1.0, 1.0], [0.0, 0.0, 0.01], [0.49, 1.0, 0.51, 1.0, 0.5], [0.98, 0.99, 1.0]])
def test_a_fraction_over_seeds_stays_in_0_1_contains_its_mean_and_is_the_same_each_time(values):
    mean, low, high = interval(values, n_prompts=512)
    assert 0.0 <= low <= mean <= high <= 1.0
    assert interval(values, n_prompts=512) == (mean, low, high)  # a fixed draw: a redrawn figure is the same


def test_seeds_that_agree_exactly_still_leave_the_prompts_sampling_error():
    """Three seeds at 0.5 on 256 prompts each: the seed spread is 0, the prompts' error is not. The
    bootstrap's half-width is close to the binomial one of the 768 pooled prompts."""
    mean, low, high = interval([0.5, 0.5, 0.5], n_prompts=256)
    binomial = 1.96 * math.sqrt(0.25 / 768)
    assert high - low == pytest.approx(2 * binomial, rel=0.15)


def test_seeds_that_split_widen_the_interval_beyond_the_prompts_error():
    split, agree = interval([0.5, 1.0, 1.0], n_prompts=2048), interval([0.83, 0.83, 0.84], n_prompts=2048)
    assert split[2] - split[1] > 5 * (agree[2] - agree[1])


def test_a_length_over_seeds_stays_within_the_seeds_values():
    """Median greedy lengths 2 and 21 (seeds that split): the band never goes below 2 or above 21."""
    mean, low, high = interval([2.0, 21.0, 21.0])
    assert 2.0 <= low <= mean <= high <= 21.0 and low < mean < high


def test_average_curves_keeps_the_x_every_seed_has():
    points = average_curves([[(0, 1.0), (10, 2.0)], [(0, 3.0), (5, 9.0), (10, 2.0)]])
    assert [(x, m) for x, m, _, _ in points] == [(0, 2.0), (10, 2.0)]
    assert points[1][2:] == (2.0, 2.0)  # seeds that agree on a length: no spread to show


def check_ranges(fig, name: str) -> int:
    """Every band (fill_between) and error bar of a panel whose y label names an accuracy, a fraction
    or a share lies in [0, 1] on an axis that starts at 0; elsewhere bands lie at or above 0 (no
    length or loss below zero); no band is cut off by its panel's limits; and a heat map titled by a
    fraction colours [0, 1] and holds only values in it. Returns how many bands, bars and heat maps
    were checked."""
    from matplotlib.collections import LineCollection, PolyCollection

    checked = 0
    for ax in fig.axes:
        label = ax.get_ylabel().lower()
        fraction = any(word in label for word in FRACTION_WORDS)
        bottom, top = ax.get_ylim()
        if fraction and ax.get_yscale() == "linear":  # from 0, and no room above 1 for anything to hide in
            assert bottom <= 1e-9 and top <= 1.1, (name, label, bottom, top)
        for collection in ax.collections:
            if isinstance(collection, PolyCollection) and not collection.get_paths() == []:
                ys = np.concatenate([path.vertices[:, 1] for path in collection.get_paths()])
            elif isinstance(collection, LineCollection):  # error bars
                ys = np.concatenate([segment[:, 1] for segment in collection.get_segments()] or [np.zeros(0)])
            else:
                continue
            ys = ys[np.isfinite(ys)]
            if not len(ys):
                continue
            checked += 1
            low_end, high_end = (0.0, 1.0) if fraction else (0.0, math.inf)
            assert ys.min() >= low_end - 1e-9 and ys.max() <= high_end + 1e-9, (name, label, ys.min(), ys.max())
            if ax.get_yscale() == "linear":  # nothing cut off by the panel's own limits
                assert bottom - 1e-9 <= ys.min() and ys.max() <= top + 1e-9, (name, label, bottom, top, ys.max())
        if any(word in ax.get_title().lower() for word in FRACTION_WORDS):
            for image in ax.images:  # a heat map of a fraction: its colours span [0, 1], its cells lie in it
                cells = np.asarray(image.get_array(), dtype=float)
                cells = cells[np.isfinite(cells)]
                assert image.get_clim() == (0.0, 1.0) and len(cells), (name, ax.get_title(), image.get_clim())
                assert cells.min() >= 0.0 and cells.max() <= 1.0, (name, ax.get_title(), cells.min(), cells.max())
                checked += 1
    return checked


def test_every_figure_kind_keeps_its_bands_inside_the_metrics_range(tiny_sweep):
    import matplotlib.pyplot as plt

    from cotmix.experiments.report.data import load_sweep
    from cotmix.registry import FIGURES

    sweep = load_sweep(tiny_sweep[0])
    for kind in [n for n in FIGURES.names() if FIGURES[n].__module__.startswith("cotmix.")]:
        if kind in ("resource_gap", "star_rounds"):  # their own sweeps: test_report's paper-scale test
            continue
        fig, _ = FIGURES[kind](sweep)
        checked = check_ranges(fig, kind)
        assert checked, kind
        plt.close(fig)


def test_curves_name_the_setting_and_show_what_pre_training_learns(tiny_sweep):
    """The figure says what it ran (d, p_cot, model, seeds, n), and the pre-training column draws the
    chain being learnt, the long fraction and the NTP loss, not greedy accuracy alone."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.figures import curves, setting_line

    sweep = load_sweep(tiny_sweep[0])
    line = setting_line(sweep)
    assert "parity d=6" in line and "gpt2 2 x 32" in line and "2 seeds" in line and "n = " in line
    assert "p_cot" not in line  # it varies in this sweep: the legend says it
    fig, _ = curves(sweep)
    pre_training = {label for ax in fig.axes[::3] for label in ax.get_legend_handles_labels()[1]}
    assert {"long answers right end to end (chain)", "sampled long fraction", "NTP loss (training batches)"} <= pre_training
    assert fig.axes[0].get_xlim()[0] == 0.0  # from zero: a lone evaluation is not an axis range


@pytest.mark.slow
def test_every_published_figure_passes_the_figure_test():
    """The committed publications that hold their runs, redrawn from those files."""
    import matplotlib.pyplot as plt

    from cotmix.experiments.report.data import find_sweeps
    from cotmix.experiments.report.figures import kind_for
    from cotmix.registry import FIGURES

    drawn = 0
    for sweep in find_sweeps(Path(__file__).parents[1] / "docs" / "results"):
        if not sweep.done():
            continue  # a table without its run files: nothing to redraw from
        fig, _ = FIGURES[kind_for(sweep)](sweep)
        checked = check_ranges(fig, sweep.name)
        assert checked or kind_for(sweep) == "resource_gap", sweep.name  # its points are each seed's
        plt.close(fig)
        drawn += 1
    assert drawn >= 6


def test_tidy_labels_counts_with_si_prefixes_and_a_loss_without_them():
    """Sample counts read 20k and 1.3M; a log-scale loss of 0.2-0.8 reads 0.5, never "500m"."""
    import matplotlib.pyplot as plt

    from cotmix.plotting import count_label, tidy

    assert [count_label(v) for v in (0.8, 0.25, 7, 20000, 1.3e6)] == ["0.8", "0.25", "7", "20k", "1.3M"]
    fig, ax = plt.subplots()
    ax.plot([0, 20000, 120000], [0.8, 0.4, 0.2])
    ax.set(xlabel="pre-training samples", yscale="log")
    tidy(fig)
    fig.canvas.draw()
    ys = [t.get_text() for t in ax.get_yticklabels(which="both") if t.get_text()]
    xs = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert ys and not any(label.endswith("m") for label in ys) and "0.5" in ys
    assert "100k" in xs

"""The report: every figure kind from a real sweep, the HTML page in headless Chromium, captions,
STaR and phase panels, paper-scale figures, partial reports."""

import dataclasses
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import FAILING_RUN

from cotmix.cli import main
from cotmix.experiments.grid import grid_from_dict
from cotmix.experiments.runner import run_sweep
from cotmix.experiments.studies import STUDIES
from cotmix.rundir import read_metrics


def test_every_figure_kind_draws_from_a_real_sweep(tiny_sweep):
    from cotmix.experiments.report.data import load_sweep
    from cotmix.registry import FIGURES

    sweep = load_sweep(tiny_sweep[0])
    assert set(sweep.settings()) == {"p_cot=0.2", "p_cot=0.5"}
    for kind in [n for n in FIGURES.names() if FIGURES[n].__module__.startswith("cotmix.")]:  # the built-in ones
        draw = FIGURES[kind]
        if kind in ("resource_gap", "star_rounds", "predictor"):  # their own sweeps: test_paper_scale_figures,
            continue                                               # test_predict's figure test
        fig, measured = draw(sweep)
        assert any(ax.lines or ax.collections or ax.images or ax.patches for ax in fig.axes), kind
        assert "seed" in measured or "cells" in measured, kind


def test_the_threshold_figure_draws_greedy_length_and_the_pre_registered_bars(tiny_sweep):
    """Beside greedy accuracy, the share of greedy answers that are long (the decision itself, and
    for multiplication the criterion's metric), and each pre-registered bar over the p_cot it covers:
    fig-threshold's 'greedy_accuracy >= 0.99 at p_cot 0.36-0.5' on the accuracy panel only."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.figures import threshold

    sweep = load_sweep(tiny_sweep[0])
    sweep.name = "fig-threshold"
    fig, _ = threshold(sweep)
    acc, greedy_long, cal = fig.axes
    assert greedy_long.get_ylabel() == "greedy answers that are long"
    bars = [line for line in acc.lines if line.get_label() == "pre-registered: >= 0.99"]
    assert len(bars) == 1 and list(bars[0].get_ydata()) == [0.99, 0.99]
    assert min(bars[0].get_xdata()) < 0.36 < 0.5 < max(bars[0].get_xdata())
    assert not [line for ax in (greedy_long, cal) for line in ax.lines if line.get_label().startswith("pre-reg")]
    # A partial copy holding only p_cot = 0.2 still gets the axis of its grid (0.2 and 0.5).
    sweep.runs = [r for r in sweep.runs if r.config["task"]["p_cot"] == 0.2]
    fig, _ = threshold(sweep)
    assert fig.axes[0].get_xlim()[0] < 0.2 and fig.axes[0].get_xlim()[1] > 0.5


def test_setting_labels_are_short_unless_that_makes_two_keys_alike():
    from cotmix.experiments.report.data import Run

    def label(values, keys):
        return Run("r", Path("."), values, {}, {}, {}, label_keys=keys).setting

    assert label({"posttrain.algorithm": "star", "posttrain.temperature": 1.5},
                 ["posttrain.algorithm", "posttrain.temperature"]) == "algorithm=star, temperature=1.5"
    assert label({"pretrain.lr": 1e-3, "posttrain.lr": 1e-4},
                 ["pretrain.lr", "posttrain.lr"]) == "pretrain.lr=0.001, posttrain.lr=0.0001"


def test_many_settings_get_a_legend_panel_of_their_own(tiny_sweep):
    """Past four settings, curves_by's legend moves to a panel of its own: it covered the first
    panel's curves and y label in fig-algorithms (8 settings)."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.figures import curves_by

    sweep = load_sweep(tiny_sweep[0])
    fig, _ = curves_by(sweep)
    assert fig.axes[0].get_legend() is not None and len(fig.axes) == 2
    runs = sweep.done()
    for i, run in enumerate(runs[:1] * 5):  # five settings from copies of one run
        sweep.runs.append(dataclasses.replace(run, name=f"copy{i}", values={**run.values, "task.p_cot": i}))
    fig, _ = curves_by(sweep)
    legend_panel = fig.axes[-1]
    assert fig.axes[0].get_legend() is None and not legend_panel.axison
    assert len(legend_panel.get_legend().get_texts()) == len(sweep.settings()) == 7


def test_curves_draw_every_seed_beside_the_mean(tiny_sweep):
    """With a few seeds that can split, the mean alone hides them: each seed's curve is drawn too."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.figures import curves, curves_by

    sweep = load_sweep(tiny_sweep[0])
    expected = [tuple(y for _, y in r.curve("posttrain", "greedy_accuracy")) for r in sweep.done()]
    for draw, panel in ((curves, 1), (curves_by, 0)):  # curves: pre-training left, the arms right
        fig, _ = draw(sweep)
        thin = [line for line in fig.axes[panel].lines if line.get_linewidth() < 1]
        drawn = Counter(tuple(float(y) for y in line.get_ydata()) for line in thin)
        assert not Counter(expected) - drawn, draw.__name__  # every seed's curve is among the thin lines


def test_captions_name_each_seed_when_seeds_split():
    """A mean of 0.84 over four seeds that split describes none of them; the caption lists each."""
    from cotmix.experiments.report.figures import _fmt
    from cotmix.plotting import interval

    _, low, high = interval([1.0, 0.998, 0.881, 0.493])
    assert _fmt([1.0, 0.998, 0.881, 0.493]) == f"0.84 [{low:.2f}, {high:.2f}] (seeds: 1.00, 1.00, 0.88, 0.49)"
    assert _fmt([1.0, 0.999, 1.0]).endswith("]")  # equal to the shown precision: the mean says it all
    assert _fmt([0.5]) == "0.50"


@pytest.mark.slow
def test_star_runs_draw_the_recursion_beside_the_curves(tmp_path):
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.figures import curves, curves_by

    grid = grid_from_dict({"name": "star", "preset": "tiny", "base": {"posttrain.algorithm": "star"}, "seeds": [0]})
    run_sweep(grid, tmp_path / "star", progress=False, log=lambda *_: None)
    sweep = load_sweep(tmp_path / "star")
    rounds = len(sweep.done()[0].curve("posttrain", "completions/long_fraction", evals=False))
    for draw in (curves, curves_by):
        fig, _ = draw(sweep)
        star_panel = fig.axes[8 if draw is curves else 2]
        assert len(fig.axes) == (9 if draw is curves else 3) and star_panel.get_xlabel() == "STaR round", draw.__name__
        recursion = [line for line in star_panel.lines if line.get_label().startswith("2p/(1+p)")]
        assert len(recursion) == 1 and len(recursion[0].get_xdata()) == rounds > 1


CHECK_IMAGES = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const ok = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", ok + "/" + images.length);
});
</script></body>"""


def test_html_report_shows_every_figure_in_headless_chromium(tiny_sweep, tmp_path):
    root = tmp_path / "sweeps"
    shutil.copytree(tiny_sweep[0], root / "fig-temperature")  # a built-in study's name: its claim is shown
    shutil.copytree(tiny_sweep[0], root / "mine")
    for name in ("fig-temperature", "mine"):  # the sweep's recorded name is what the report goes by
        spec = json.loads((root / name / "sweep.json").read_text()) | {"name": name}
        (root / name / "sweep.json").write_text(json.dumps(spec))
    assert main(["report", str(root)]) == 0
    page = (root / "report.html").read_text()
    assert page.count("<img") == 2 and "src=\"data:image/png;base64," in page
    assert STUDIES["fig-temperature"].claim in page.replace("&#x27;", "'")
    # The study's pre-registered criterion, judged over its runs (tiny runs do not generalise).
    assert "Pre-registered verdict: not met." in page and "RL generalises at every temperature" in page
    assert (root / "report" / "mine.svg").is_file() and (root / "report" / "mine.png").is_file()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK_IMAGES))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed (make test installs Debian's chromium)"
    result = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                             probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'data-images="2/2"' in result.stdout, result.stderr[-500:]


def test_star_round_panel_carries_a_stopped_seed_to_the_last_round():
    """STaR runs that stop by the RL rule reach different rounds; the mean over seeds must run to the
    last round of the slowest, holding the stopped seed's final long fraction, not end with the fastest."""
    import matplotlib.pyplot as plt

    from cotmix.experiments.report.data import Curve
    from cotmix.experiments.report.figures import _star_rounds

    class StoppedRun:  # what _star_rounds reads of a run: its per-step long fraction, its rollout size
        config = {"posttrain": {"prompts_per_step": 16, "group_size": 4}}

        def __init__(self, values, held):
            self.values, self.held = values, held

        def curve(self, phase, key, evals=True):
            points = Curve((100 * (k + 1), y) for k, y in enumerate(self.values))
            points.held = self.held
            return points

    fig, ax = plt.subplots()
    _star_rounds(ax, {"star": [StoppedRun([0.3, 0.9], held=True), StoppedRun([0.3, 0.5, 0.7, 0.9], held=False)]})
    mean = next(line for line in ax.lines if line.get_label().startswith("measured"))
    assert list(mean.get_xdata()) == [1, 2, 3, 4]
    assert list(mean.get_ydata()) == pytest.approx([0.3, 0.7, 0.8, 0.9])
    plt.close(fig)


def test_phase_map_counts_seeds_per_cell_and_leaves_unreached_phases_blank():
    """Seeds that split show as k/n beside the mean; a partial report's run that has not reached RL
    yet leaves its cell blank instead of breaking the page."""
    import matplotlib.pyplot as plt

    from cotmix.experiments.report.figures import phase

    class FakeRun:
        def __init__(self, p_cot, ntp, rl):
            self.config, self.setting = {"task": {"d": 8, "p_cot": p_cot}}, f"p={p_cot}"
            self.values = {"baseline": ntp, "posttrain": rl}

        def metric(self, phase_name, key):
            return self.values[phase_name]

    class FakeSweep:
        runs = [FakeRun(0.1, 0.5, 1.0), FakeRun(0.1, 0.5, 1.0), FakeRun(0.1, 0.5, 0.5), FakeRun(0.2, 0.5, None)]

        def done(self):
            return self.runs

        def settings(self):
            return {"p=0.1": self.runs[:3], "p=0.2": self.runs[3:]}

        def n_prompts(self):
            return 64

    fig, caption = phase(FakeSweep())
    ntp_axis, rl_axis = fig.axes[:2]
    assert [t.get_text() for t in rl_axis.texts] == ["0.83\n2/3"]
    assert [t.get_text() for t in ntp_axis.texts] == ["0.50\n0/3", "0.50\n0/1"]
    assert "NTP + RL: all seeds >= 0.99 in 0 of 1 cells" in caption and "x 64 test prompts" in caption
    plt.close(fig)


@pytest.mark.slow
def test_paper_scale_figures(tmp_path):
    """The resource-gap figure from a sweep with arms (NTP alone, NTP+RL) across d, and the STaR-rounds
    figure, each drawn from real runs."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.paper_scale import star_rounds
    from cotmix.experiments.report.resource_gap import resource_gap, samples_to_generalise, verdict
    from cotmix.theory.closed_form import star_rounds_to_generalise

    grid = grid_from_dict({"name": "gap", "preset": "tiny", "grid": {"task.d": [4, 5]}, "seeds": [0],
                           "base": {"posttrain.stop_when": "greedy_learnt", "posttrain.baseline_arm": False},
                           "arms": {"ntp_only": {"pretrain.stop_when": "greedy_learnt", "posttrain.steps": 0},
                                    "ntp_rl": {"pretrain.stop_when": "chain_learnt"}}})
    run_sweep(grid, tmp_path / "gap", progress=False, log=lambda *_: None)
    sweep = load_sweep(tmp_path / "gap")
    assert {r.values["arm"] for r in sweep.done()} == {"ntp_only", "ntp_rl"}
    for run in sweep.done():  # a count of samples for every run: reached, or censored at its cap
        samples, _ = samples_to_generalise(run)
        assert samples >= run.summary["pretrain"]["samples"] > 0
    fig, measured = resource_gap(sweep)
    drawn = {c.get_label(): len(c.get_offsets()) for c in fig.axes[0].collections}
    totals = sum(n for label, n in drawn.items() if "of which RL" not in label)
    reached_by_rl = sum(samples_to_generalise(r)[1] for r in sweep.done() if r.values["arm"] == "ntp_rl")
    assert totals == 4 and drawn.get("NTP + RL: of which RL", 0) == reached_by_rl  # a total per run, RL's part
    assert "NTP alone:" in measured and "NTP + RL:" in measured and "of 2 runs" in measured
    word, line = verdict(tmp_path / "gap")  # the pre-registered gap, judged on the same runs
    alone_reached = sum(samples_to_generalise(r)[1] for r in sweep.done() if r.values["arm"] == "ntp_only")
    assert word in ("met", "mixed", "not met")
    assert f"NTP+RL reached 0.99 in {reached_by_rl} of 2 runs, NTP alone in {alone_reached} of 2" in line
    grid = grid_from_dict({"name": "rounds", "preset": "tiny", "grid": {"task.p_cot": [0.25]}, "seeds": [0],
                           "base": {"posttrain.algorithm": "star", "posttrain.eval_interval": 1}})
    run_sweep(grid, tmp_path / "rounds", progress=False, log=lambda *_: None)
    fig, measured = star_rounds(load_sweep(tmp_path / "rounds"))
    p0, predicted = re.search(r"p_0 ([0-9.]+), predicted round (\d+)", measured).groups()
    assert int(predicted) == star_rounds_to_generalise(float(p0))
    mean, recursion = fig.axes[0].lines[-2:]  # the seeds' mean by round, then the closed form from its p_0
    assert mean.get_xdata()[0] == recursion.get_xdata()[0] == 0  # round 0 is the pre-trained model
    assert recursion.get_ydata()[0] == pytest.approx(mean.get_ydata()[0])


def test_report_partial_draws_an_unfinished_run_where_it_stopped_and_names_it(tiny_sweep, tmp_path):
    from cotmix.experiments.report.data import load_sweep

    out = tmp_path / "tiny"
    shutil.copytree(tiny_sweep[0], out)
    run = out / "runs" / "task.p_cot=0.5,seed=1"
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "posttrain"}))
    (run / "status.json").write_text(json.dumps({"state": "running", "name": run.name}))
    assert run.name not in [r.name for r in load_sweep(out).done()]
    partial = load_sweep(out, partial=True)
    # tiny_sweep's failing runs stopped at their first RL step, after pre-training: drawn there too
    drawn = {r.name: r for r in partial.unfinished()}
    assert set(drawn) == {run.name, f"{FAILING_RUN},seed=0", f"{FAILING_RUN},seed=1"}
    drawn = drawn[run.name]
    last = [r for r in read_metrics(run, "posttrain") if r.get("eval")][-1]
    assert drawn.metric("posttrain", "greedy_accuracy") == last["greedy_accuracy"]
    assert drawn.summary["posttrain"]["unfinished"] and drawn.summary["pretrain"] == summary["pretrain"]
    assert main(["report", str(out), "--partial"]) == 0
    page = (out / "report.html").read_text()
    assert "3/6 runs done; " in page and "3 unfinished, drawn where they stopped: " in page and run.name in page


def test_the_report_shows_each_runs_warnings(tiny_sweep, tmp_path):
    """In a sweep a run's warnings went to a worker's stderr; the report lists them under its runs."""
    from cotmix.experiments.report.html import build_report

    page = build_report(tiny_sweep[0], tmp_path / "report.html").read_text()
    assert "warning(s) in 4 run(s)" in page and "RL starts from a model whose held-out long answers" in page

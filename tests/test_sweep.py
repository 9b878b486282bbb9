"""Sweeps (grid expansion, failures, kill and rerun, Ray), the results table, built-in studies, and the
HTML report rendered in headless Chromium."""

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cotmix.cli import main
from cotmix.errors import ConfigError, CotmixError
from cotmix.experiments.grid import grid_from_dict
from cotmix.experiments.results import query
from cotmix.experiments.runner import execute_run, run_sweep
from cotmix.experiments.studies import SIZES, STUDIES, study_grid
from cotmix.rundir import read_metrics, read_status, write_status

TINY_SWEEP = {"name": "tiny", "preset": "tiny", "grid": {"task.p_cot": [0.2, 0.5]}, "seeds": [0, 1]}


def test_grid_expands_to_named_runs_and_validates_every_config():
    grid = grid_from_dict(TINY_SWEEP | {"also": [{"task.d": 5}]})
    assert [r.name for r in grid.runs()] == [
        "task.p_cot=0.2,seed=0", "task.p_cot=0.2,seed=1", "task.p_cot=0.5,seed=0", "task.p_cot=0.5,seed=1",
        "task.d=5,seed=0", "task.d=5,seed=1"]
    assert grid.runs()[4].config().task.d == 5 and grid.runs()[1].config().seed == 1
    with pytest.raises(ConfigError, match=r"sweep run task.p_cot=1.5,seed=0: task.p_cot=1.5: must be in \[0.0, 1.0\]"):
        grid_from_dict(TINY_SWEEP | {"grid": {"task.p_cot": [0.2, 1.5]}})
    with pytest.raises(ConfigError, match="unknown key"):
        grid_from_dict(TINY_SWEEP | {"gird": {}})


@pytest.mark.parametrize("size", SIZES)
def test_every_built_in_study_expands_to_valid_runs(size):
    for name in STUDIES:
        grid = grid_from_dict(study_grid(name, size))
        assert grid.runs(), name
    assert grid_from_dict(study_grid("fig-headline", "paper")).runs()[0].config().task.d == 50
    assert grid_from_dict(study_grid("fig-threshold", "paper")).runs()[0].config().task.d == 25


def test_list_needs_no_out_and_names_the_fixed_settings_once(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "fig-rare", "--size", "cpu", "--list"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    criteria = [line for line in lines if line.startswith("# pre-registered: ")]
    names = [line for line in lines if not line.startswith("#")]
    assert names == [f"task.p_cot=0.01,seed={s}" for s in STUDIES["fig-rare"].seeds]
    assert criteria == [f"# pre-registered: {c.text()}" for c in STUDIES["fig-rare"].criteria] != []
    assert header.startswith("# fig-rare: cotmix run ") and "task.d=16" in header and "task.p_cot" not in header
    assert main(["sweep", "fig-rare"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "cotmix: error: --out DIR is required to run a sweep; only --list works without it"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """Four tiny runs plus one that raises at run time (its response limit exceeds the model's)."""
    out = tmp_path_factory.mktemp("sweeps") / "tiny"
    grid = grid_from_dict(TINY_SWEEP | {"also": [{"posttrain.max_new_tokens": 99}], "seeds": [0, 1]})
    statuses = run_sweep(grid, out, progress=False, log=lambda *_: None)
    return out, statuses


def test_a_failing_run_is_recorded_and_the_others_finish(tiny_sweep):
    out, statuses = tiny_sweep
    states = {s["name"]: s["state"] for s in statuses}
    assert [n for n, st in states.items() if st == "done"] == [
        "task.p_cot=0.2,seed=0", "task.p_cot=0.2,seed=1", "task.p_cot=0.5,seed=0", "task.p_cot=0.5,seed=1"]
    failed = read_status(out / "runs" / "posttrain.max_new_tokens=99,seed=0")
    assert failed["state"] == "failed" and "max_new_tokens=99" in failed["error"]


def test_results_table_is_queryable_and_rebuilt_from_the_runs(tiny_sweep, capsys):
    out, _ = tiny_sweep
    (out / "results.parquet").unlink()
    names, rows = query(out, "state = 'done' and task_p_cot > 0.3", ["name", "task_p_cot", "posttrain_greedy_accuracy"])
    assert names == ["name", "task_p_cot", "posttrain_greedy_accuracy"]
    assert [r[0] for r in rows] == ["task.p_cot=0.5,seed=0", "task.p_cot=0.5,seed=1"]
    summary = json.loads((out / "runs" / rows[0][0] / "summary.json").read_text())
    assert rows[0][2] == summary["posttrain"]["eval"]["greedy_accuracy"] and (out / "results.parquet").is_file()
    assert main(["results", str(out.parent), "--where", "state = 'failed'", "--columns", "sweep,name,error",
                 "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "sweep,name,error" and len(lines) == 3 and all(l.startswith("tiny,") for l in lines[1:])
    assert main(["results", str(out), "--where", "no_such_column > 1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no_such_column" in err and "task_p_cot" in err
    # --columns also takes config keys spelled with dots, as everywhere else in cotmix
    assert query(out, "task_p_cot > 0.3", ["name", "task.p_cot"]) == (names[:2], [r[:2] for r in rows])


def test_a_table_without_its_runs_is_read_never_rewritten_and_joins_live_sweeps(tiny_sweep, tmp_path):
    """A published table whose run directories are gone is the only record of those runs: querying
    it must not replace it with an empty one, and beside a live sweep both are queryable as one."""
    out, _ = tiny_sweep
    names, rows = query(out, "state = 'done'", ["name", "task_p_cot", "posttrain_greedy_accuracy"])
    published = tmp_path / "all" / "old-tiny"
    published.mkdir(parents=True)
    shutil.copy(out / "results.parquet", published / "results.parquet")
    before = (published / "results.parquet").read_bytes()
    assert query(published, "state = 'done'", names) == (names, rows)
    assert (published / "results.parquet").read_bytes() == before
    shutil.copytree(out, tmp_path / "all" / "tiny")  # a live sweep, with its runs
    _, both = query(tmp_path / "all", "state = 'done' and task_p_cot > 0.3", ["sweep", "name"])
    assert both == [("old-tiny", "task.p_cot=0.5,seed=0"), ("old-tiny", "task.p_cot=0.5,seed=1"),
                    ("tiny", "task.p_cot=0.5,seed=0"), ("tiny", "task.p_cot=0.5,seed=1")]
    assert (published / "results.parquet").read_bytes() == before
    assert not (tmp_path / "all" / "results.parquet").exists()  # a mixed table is not written anywhere


def test_rerun_skips_finished_runs_and_refuses_another_grid(tiny_sweep):
    out, _ = tiny_sweep
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/task*/summary.json")}
    logs = []
    run_sweep(grid_from_dict(TINY_SWEEP | {"also": [{"posttrain.max_new_tokens": 99}]}), out, progress=False,
              log=logs.append)
    assert "4 done already, 2 to run" in logs[0]  # only the failed ones are retried
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("runs/task*/summary.json")}
    with pytest.raises(CotmixError, match=r"holds a different sweep .*differs in also\b"):
        run_sweep(grid_from_dict(TINY_SWEEP), out, progress=False, log=lambda *_: None)
    changed = TINY_SWEEP | {"base": {"pretrain.lr": 0.5}}
    with pytest.raises(CotmixError, match=r"differs in also, base\.pretrain\.lr:"):
        run_sweep(grid_from_dict(changed), out, progress=False, log=lambda *_: None)


def test_two_sweep_processes_share_one_list_of_runs(tmp_path, capsys):
    """A second process on the same sweep passes by the run the first holds (its status untouched)
    and a run the first has finished; so a worker can join a running sweep without --only."""
    grid, out = grid_from_dict(TINY_SWEEP), tmp_path / "sweep"
    held = grid.runs()[0]
    held_dir = out / "runs" / held.name
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps(grid.to_dict()))  # as the first process left it
    holder = subprocess.Popen([sys.executable, "-c",
                               "import json, sys, time; from cotmix.rundir import prepare_run_dir; "
                               "prepare_run_dir(sys.argv[1], json.loads(sys.argv[2]), resume=False); "
                               "print('locked', flush=True); time.sleep(120)",
                               str(held_dir), json.dumps(held.config().to_dict())], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        statuses = run_sweep(grid, out, progress=False, log=lambda *_: None)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert f"[busy in another sweep process] {held.name}" in capsys.readouterr().out
    assert sorted(s["name"] for s in statuses if s.get("state") == "done") == sorted(r.name for r in grid.runs()[1:])
    assert not (held_dir / "status.json").exists() and not (held_dir / "summary.json").exists()
    # the other process finishes it: this one, reaching it later, leaves it alone
    write_status(held_dir, {"state": "done", "name": held.name, "wall_s": 1.0})
    assert execute_run(held, str(held_dir))["elsewhere"] and not (held_dir / "summary.json").exists()


def test_killed_sweep_reruns_only_what_was_missing(tmp_path):
    sweep_file = tmp_path / "grid.yaml"
    sweep_file.write_text(json.dumps(TINY_SWEEP))  # JSON is YAML
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "cotmix.cli", "sweep", str(sweep_file), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = out / "runs" / "task.p_cot=0.2,seed=0"
    deadline = time.time() + 120
    while read_status(first).get("state") != "done" and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert read_status(first).get("state") == "done"
    n_done = sum(read_status(p).get("state") == "done" for p in out.glob("runs/*"))
    finished_at = first.joinpath("summary.json").stat().st_mtime_ns
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"4 runs, {n_done} done already, {4 - n_done} to run" in result.stdout
    assert first.joinpath("summary.json").stat().st_mtime_ns == finished_at  # not rerun
    assert all(read_status(p)["state"] == "done" for p in out.glob("runs/*"))
    # The resumed sweep ends with the same numbers as one that was never killed.
    clean = tmp_path / "clean"
    run_sweep(grid_from_dict(TINY_SWEEP), clean, progress=False, log=lambda *_: None)
    for run in clean.glob("runs/*"):
        ours = json.loads((out / "runs" / run.name / "summary.json").read_text())
        theirs = json.loads((run / "summary.json").read_text())
        assert {k: v["eval"] for k, v in ours.items() if k != "heldout"} == \
            {k: v["eval"] for k, v in theirs.items() if k != "heldout"}
        assert ours["heldout"] == theirs["heldout"] and ours["heldout"]["overlap_count"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ray", "processes"])
def test_parallel_workers_give_the_same_numbers_as_in_process(tiny_sweep, tmp_path, engine):
    out, _ = tiny_sweep
    grid = grid_from_dict(TINY_SWEEP)
    lines = []
    statuses = run_sweep(grid, tmp_path / engine, workers=2, progress=False, log=lines.append, engine=engine)
    assert f"({engine}, 2 workers)" in lines[0]
    assert all(s["state"] == "done" for s in statuses)
    for status in statuses:
        ours = json.loads((tmp_path / engine / "runs" / status["name"] / "summary.json").read_text())
        theirs = json.loads((out / "runs" / status["name"] / "summary.json").read_text())
        assert {k: v["eval"] for k, v in ours.items() if k != "heldout"} == \
            {k: v["eval"] for k, v in theirs.items() if k != "heldout"}
        assert ours["heldout"] == theirs["heldout"] and ours["heldout"]["overlap_count"] == 0


def test_every_figure_kind_draws_from_a_real_sweep(tiny_sweep):
    from cotmix.experiments.report.data import load_sweep
    from cotmix.registry import FIGURES

    sweep = load_sweep(tiny_sweep[0])
    assert set(sweep.settings()) == {"p_cot=0.2", "p_cot=0.5"}
    for kind in [n for n in FIGURES.names() if FIGURES[n].__module__.startswith("cotmix.")]:  # the built-in ones
        draw = FIGURES[kind]
        if kind in ("resource_gap", "star_rounds"):  # their own sweeps: test_paper_scale_figures
            continue
        fig, measured = draw(sweep)
        assert any(ax.lines or ax.collections or ax.images or ax.patches for ax in fig.axes), kind
        assert "seed" in measured or "cells" in measured, kind


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
    """A mean of 0.84 ± 0.38 over four seeds describes none of them; the caption lists each."""
    from cotmix.experiments.report.figures import _fmt

    assert _fmt([1.0, 0.998, 0.881, 0.493]) == "0.84 ± 0.38 (seeds: 1.00, 1.00, 0.88, 0.49)"
    assert _fmt([1.0, 0.999, 1.0]) == "1.00 ± 0.00"  # equal to the shown precision: the mean says it all
    assert _fmt([0.5]) == "0.50"


def test_star_runs_draw_the_recursion_beside_the_curves(tmp_path):
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.figures import curves, curves_by

    grid = grid_from_dict({"name": "star", "preset": "tiny", "base": {"posttrain.algorithm": "star"}, "seeds": [0]})
    run_sweep(grid, tmp_path / "star", progress=False, log=lambda *_: None)
    sweep = load_sweep(tmp_path / "star")
    rounds = len(sweep.done()[0].curve("posttrain", "completions/long_fraction", evals=False))
    for draw in (curves, curves_by):
        fig, _ = draw(sweep)
        assert len(fig.axes) == (9 if draw is curves else 3) and fig.axes[2].get_xlabel() == "STaR round", draw.__name__
        recursion = [line for line in fig.axes[2].lines if line.get_label().startswith("2p/(1+p)")]
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


def test_confidence_interval_uses_student_t():
    from cotmix.plotting import average_curves, mean_ci

    assert mean_ci([0.5]) == (0.5, 0.0)
    mean, half = mean_ci([1.0, 2.0, 3.0])  # sd 1, n 3: t(2) = 4.303
    assert mean == 2.0 and half == pytest.approx(4.303 / 3 ** 0.5, rel=1e-4)
    assert average_curves([[(0, 1.0), (10, 2.0)], [(0, 3.0), (5, 9.0), (10, 2.0)]]) == [
        (0, 2.0, pytest.approx(12.706 * 2 ** 0.5 / 2 ** 0.5)), (10, 2.0, 0.0)]


def test_a_run_that_stopped_once_greedy_was_learnt_keeps_its_last_value_in_the_mean():
    from cotmix.experiments.report.data import Curve
    from cotmix.plotting import average_curves

    fast, slow = Curve([(0, 0.5), (5, 1.0)]), Curve([(0, 0.5), (5, 0.7), (10, 0.9), (15, 1.0)])
    assert [x for x, *_ in average_curves([fast, slow])] == [0, 5]  # not marked: the mean ends with it
    fast.held = True
    assert [(x, m) for x, m, _ in average_curves([fast, slow])] == [(0, 0.5), (5, 0.85), (10, 0.95), (15, 1.0)]
    cut = Curve([(0, 0.5), (10, 0.6)])
    cut.held = True  # a held curve only extends past its end, never fills a gap inside it
    assert [x for x, *_ in average_curves([cut, slow])] == [0, 10, 15]


def test_star_round_panel_carries_a_stopped_seed_to_the_last_round():
    """STaR runs that stop by the RL rule reach different rounds; the mean over seeds must run to the
    last round of the slowest, holding the stopped seed's final long fraction, not end with the fastest."""
    import matplotlib.pyplot as plt

    from cotmix.experiments.report.data import Curve
    from cotmix.experiments.report.figures import _star_rounds

    class StoppedRun:  # what _star_rounds reads of a run: its per-step long fraction
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
    assert "NTP + RL: all seeds >= 0.99 in 0 of 1 cells" in caption and "x 64 held-out prompts" in caption
    plt.close(fig)


def test_report_and_results_order_runs_by_value_not_by_name(tmp_path):
    """Run directories sort as text (steps=100, steps=1000, steps=300); the report and the results table must not."""
    from cotmix.experiments.report.data import load_sweep

    (tmp_path / "sweep.json").write_text(json.dumps({"name": "s", "grid": {"pretrain.steps": [100, 300, 1000]}}))
    for steps in (100, 300, 1000):
        run = tmp_path / "runs" / f"pretrain.steps={steps},seed=0"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"seed": 0, "pretrain": {"steps": steps}}))
    assert [r.values["pretrain.steps"] for r in load_sweep(tmp_path).runs] == [100, 300, 1000]
    # and so does the results table by default
    names, rows = query(tmp_path, columns=["name"])
    assert [r[0] for r in rows] == [f"pretrain.steps={s},seed=0" for s in (100, 300, 1000)]
    names, rows = query(tmp_path, columns=["name"], order_by="name")  # an explicit ORDER BY is SQL's
    assert [r[0] for r in rows] == [f"pretrain.steps={s},seed=0" for s in (100, 1000, 300)]


def test_arms_cross_every_setting_and_name_their_runs():
    grid = grid_from_dict({"preset": "tiny", "grid": {"task.d": [5, 6]}, "seeds": [0, 1],
                           "arms": {"ntp_only": {"posttrain.steps": 0}, "ntp_rl": {"posttrain.stop_when": "greedy_learnt"}}})
    runs = grid.runs()
    assert len(runs) == 2 * 2 * 2
    assert runs[0].name == "task.d=5,arm=ntp_only,seed=0" and runs[0].arm == "ntp_only"
    assert runs[0].config().posttrain.steps == 0 and runs[-1].config().posttrain.stop_when == "greedy_learnt"
    assert grid.to_dict()["arms"] and "arms" not in grid_from_dict({"preset": "tiny"}).to_dict()  # old sweeps unchanged


def test_the_ntp_only_arm_runs_to_its_minimum_samples():
    from cotmix.config import load_config
    from cotmix.experiments.run import baseline_schedule

    cfg = load_config(overrides=["posttrain.baseline_min_samples=100000", "pretrain.batch_size=256"])
    steps, every = baseline_schedule(cfg, rl_samples=5_000, pretrain_samples=20_000)
    assert steps == 313 and every >= 4  # (100000 - 20000) / 256, rounded up; at most 100 evaluations
    assert baseline_schedule(load_config(), rl_samples=5_000, pretrain_samples=20_000)[0] == 20  # RL's samples


def test_paper_scale_figures(tmp_path):
    """The resource-gap figure from a sweep with arms (NTP alone, NTP+RL) across d, and the STaR-rounds
    figure, each drawn from real runs."""
    from cotmix.experiments.report.data import load_sweep
    from cotmix.experiments.report.paper_scale import resource_gap, samples_to_generalise, star_rounds
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
    grid = grid_from_dict({"name": "rounds", "preset": "tiny", "grid": {"task.p_cot": [0.25]}, "seeds": [0],
                           "base": {"posttrain.algorithm": "star", "posttrain.eval_interval": 1}})
    run_sweep(grid, tmp_path / "rounds", progress=False, log=lambda *_: None)
    fig, measured = star_rounds(load_sweep(tmp_path / "rounds"))
    p0, predicted = re.search(r"p_0 ([0-9.]+), predicted round (\d+)", measured).groups()
    assert int(predicted) == star_rounds_to_generalise(float(p0))
    mean, recursion = fig.axes[0].lines[-2:]  # the seeds' mean by round, then the closed form from its p_0
    assert mean.get_xdata()[0] == recursion.get_xdata()[0] == 0  # round 0 is the pre-trained model
    assert recursion.get_ydata()[0] == pytest.approx(mean.get_ydata()[0])


def test_engine_choice_is_checked_and_auto_needs_no_ray_for_one_worker():
    from cotmix.experiments.runner import pick_engine

    assert pick_engine("auto", 1, None) == "in-process"
    assert pick_engine("processes", 3, None) == "processes"
    assert pick_engine("auto", 1, "auto") == "ray"
    with pytest.raises(CotmixError, match="allowed: auto, ray, processes"):
        pick_engine("slurm", 2, None)
    with pytest.raises(CotmixError, match="cannot be used with --engine processes"):
        pick_engine("processes", 2, "HOST:6379")


def test_output_piped_into_a_reader_that_stops_early_is_no_error():
    """`cotmix sweep STUDY --list | head -1`: the closed pipe is the reader's choice, not a failure."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    proc = subprocess.run([sys.executable, "-m", "cotmix.cli", "sweep", "study-resource-gap", "--list"],
                          stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, b"")


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
    [drawn] = partial.unfinished()
    last = [r for r in read_metrics(run, "posttrain") if r.get("eval")][-1]
    assert drawn.name == run.name and drawn.metric("posttrain", "greedy_accuracy") == last["greedy_accuracy"]
    assert drawn.summary["posttrain"]["unfinished"] and drawn.summary["pretrain"] == summary["pretrain"]
    assert main(["report", str(out), "--partial"]) == 0
    page = (out / "report.html").read_text()
    assert "3/6 runs done; " in page and f"1 unfinished, drawn where they stopped: {run.name}" in page


def _without_wall_time(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def test_runs_that_differ_only_in_rl_share_one_pretraining_and_keep_their_numbers(tmp_path):
    from safetensors.torch import load_file

    from cotmix.experiments.run import run_experiment
    from cotmix.experiments.shared_pretrain import pretrain_key
    from cotmix.rundir import prepare_run_dir, rewrite_metrics
    from cotmix.train.checkpoint import list_checkpoints

    grid = grid_from_dict({"name": "share", "preset": "tiny", "grid": {"posttrain.algorithm": ["grpo", "star"]},
                           "seeds": [0]})
    out = tmp_path / "share"
    assert all(s["state"] == "done" for s in run_sweep(grid, out, progress=False, log=lambda *_: None))
    specs = grid.runs()
    assert pretrain_key(specs[0].config()) == pretrain_key(specs[1].config())
    assert [p.name for p in (out / "pretrain-cache").iterdir() if p.is_dir()] == [pretrain_key(specs[0].config())]

    alone = tmp_path / "alone"  # the same run, pre-training on its own
    run_experiment(specs[1].config(), alone, progress=False)
    for spec in specs:
        run = out / "runs" / spec.name
        assert _without_wall_time(read_metrics(run, "pretrain")) == _without_wall_time(read_metrics(alone, "pretrain"))
        last = list_checkpoints(run, "pretrain")[-1]
        theirs = load_file(list_checkpoints(alone, "pretrain")[-1] / "model.safetensors")
        assert all((v == theirs[k]).all() for k, v in load_file(last / "model.safetensors").items())
    ours = json.loads((out / "runs" / specs[1].name / "summary.json").read_text())
    theirs = json.loads((alone / "summary.json").read_text())
    assert {k: v["eval"] for k, v in ours.items() if k != "heldout"} == \
        {k: v["eval"] for k, v in theirs.items() if k != "heldout"}
    assert ours["heldout"] == theirs["heldout"]

    # A copy killed after its first checkpoint was linked resumes as the run's own pre-training would.
    cut = tmp_path / "cut"
    cfg = specs[1].config()
    prepare_run_dir(cut, cfg.to_dict(), resume=False)
    shared = out / "pretrain-cache" / pretrain_key(cfg)
    rewrite_metrics(cut, read_metrics(shared, "pretrain"))
    first = list_checkpoints(shared, "pretrain")[0]
    shutil.copytree(first, cut / first.relative_to(shared))
    run_experiment(cfg, cut, resume=True, progress=False, pretrain_cache=out / "pretrain-cache")
    resumed = json.loads((cut / "summary.json").read_text())
    assert {k: v["eval"] for k, v in resumed.items() if k != "heldout"} == \
        {k: v["eval"] for k, v in theirs.items() if k != "heldout"}


def test_runs_sharing_a_pretraining_are_spread_apart_for_parallel_workers():
    from cotmix.experiments.runner import interleave

    grid = grid_from_dict({"name": "s", "preset": "tiny", "seeds": [0],
                           "grid": {"task.p_cot": [0.2, 0.5], "posttrain.algorithm": ["grpo", "star"]}})
    assert [s.name for s in grid.runs()][:2] == ["task.p_cot=0.2,posttrain.algorithm=grpo,seed=0",
                                                 "task.p_cot=0.2,posttrain.algorithm=star,seed=0"]
    assert [s.name for s in interleave(grid.runs())] == [
        "task.p_cot=0.2,posttrain.algorithm=grpo,seed=0", "task.p_cot=0.5,posttrain.algorithm=grpo,seed=0",
        "task.p_cot=0.2,posttrain.algorithm=star,seed=0", "task.p_cot=0.5,posttrain.algorithm=star,seed=0"]


def test_published_runs_land_in_git_and_resume_a_sweep_on_a_fresh_machine(tiny_sweep, tmp_path):
    """`cotmix publish` keeps each run's small files (metrics compressed) where git tracks them; the
    report redraws from them alone; `cotmix restore` seeds a new sweep directory with the finished
    runs, so a rerun skips them; --only runs part of a sweep."""
    out, _ = tiny_sweep
    repo = Path(__file__).resolve().parents[1]
    docs, fresh = tmp_path / "docs", tmp_path / "fresh"
    cotmix = [sys.executable, "-m", "cotmix.cli"]
    subprocess.run(cotmix + ["publish", out.name, "--src", str(out.parent), "--dest", str(docs)], check=True,
                   capture_output=True, timeout=300)
    published = docs / out.name / "runs" / "task.p_cot=0.2,seed=0"
    assert sorted(p.name for p in published.iterdir()) == ["config.json", "metrics.jsonl.gz", "status.json",
                                                           "summary.json"]
    assert read_metrics(published) == read_metrics(out / "runs" / published.name) != []
    assert (docs / out.name / "report.html").is_file() and (docs / out.name / "report" / f"{out.name}.png").is_file()
    # Where `cotmix publish` writes in the repository, git must not ignore (only the top-level runs/).
    ignored = subprocess.run(["git", "check-ignore", "-q", f"docs/results/{out.name}/runs/{published.name}/"
                              "metrics.jsonl.gz"], cwd=repo)
    assert ignored.returncode == 1, "published run files are git-ignored"
    assert subprocess.run(["git", "check-ignore", "-q", "runs/x/model.safetensors"], cwd=repo).returncode == 0

    restored = subprocess.run(cotmix + ["restore", out.name, "--src", str(docs), "--dest", str(fresh)],
                              capture_output=True, text=True, check=True, timeout=60)
    assert "restored 4 finished runs" in restored.stdout
    grid = grid_from_dict(TINY_SWEEP | {"also": [{"posttrain.max_new_tokens": 99}], "seeds": [0, 1]})
    logs = []
    statuses = run_sweep(grid, fresh / out.name, progress=False, log=logs.append,
                         only=["task.p_cot=*", "*,seed=1"])
    assert "5 runs, 4 done already, 1 to run" in logs[0]  # the failed run of seed 1; seed 0's is not asked for
    assert {s["name"] for s in statuses} == {"task.p_cot=0.2,seed=0", "task.p_cot=0.2,seed=1", "task.p_cot=0.5,seed=0",
                                             "task.p_cot=0.5,seed=1", "posttrain.max_new_tokens=99,seed=1"}
    assert not (fresh / out.name / "runs" / "posttrain.max_new_tokens=99,seed=0").exists()
    with pytest.raises(CotmixError, match="--only nothing: matches none of the 6 runs"):
        run_sweep(grid, fresh / out.name, progress=False, log=logs.append, only=["nothing"])


def test_device_studies_stops_runs_at_its_deadline_and_packs_what_resumes(tmp_path):
    """scripts/device_studies.sh, here on the CPU: at the deadline the run still going is stopped and
    packed with its newest checkpoint of each phase and no older one; the finished run, without
    checkpoints. Unpacked elsewhere, the stopped run's checkpoint loads."""
    from cotmix.train.checkpoint import load_checkpoint

    repo = Path(__file__).resolve().parents[1]
    sweep = tmp_path / "cut.yaml"
    sweep.write_text("name: cut\ncommand: pretrain\npreset: tiny\n"
                     "base: {pretrain.stop_when: none, pretrain.ckpt_interval: 10, pretrain.eval_interval: 1000}\n"
                     "grid: {pretrain.steps: [20, 1000000]}\nseeds: [0]\n")
    work, out, elsewhere = tmp_path / "work", tmp_path / "out", tmp_path / "elsewhere"
    env = os.environ | {"PY": sys.executable, "DEADLINE": "25", "NO_MPS": "1"}
    done = subprocess.run(["bash", "scripts/device_studies.sh", str(work), str(out), f"{sweep}:2"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    stopped = work / "cut" / "runs" / "pretrain.steps=1000000,seed=0"
    steps_there = sorted(p.name for p in (stopped / "checkpoints" / "pretrain").glob("step_*"))
    assert len(steps_there) >= 2, "the long run wrote fewer than two checkpoints before the deadline"

    elsewhere.mkdir()
    parts = sorted(out.glob("runs.tar.gz.part*"))
    subprocess.run(f"cat {' '.join(map(str, parts))} | tar xz -C {elsewhere}", shell=True, check=True)
    runs = elsewhere / "cut" / "runs"
    assert read_status(runs / "pretrain.steps=20,seed=0")["state"] == "done"
    assert not (runs / "pretrain.steps=20,seed=0" / "checkpoints").exists()
    assert read_status(runs / stopped.name)["state"] == "running"
    packed = sorted(p.name for p in (runs / stopped.name / "checkpoints" / "pretrain").iterdir())
    assert packed == steps_there[-1:]
    assert load_checkpoint(runs / stopped.name / "checkpoints" / "pretrain" / packed[0]).state["step"] == int(
        packed[0].removeprefix("step_"))

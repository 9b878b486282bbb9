"""Sweep grids and built-in studies: expansion into named, validated runs, --list, arms."""


from pathlib import Path

import pytest
from conftest import TINY_SWEEP

from cotmix.cli import main
from cotmix.errors import ConfigError
from cotmix.experiments.grid import grid_from_dict
from cotmix.experiments.studies import STUDIES, study_grid


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


def test_every_built_in_study_expands_to_valid_runs():
    for name in STUDIES:
        grid = grid_from_dict(study_grid(name))
        assert grid.runs(), name
    assert grid_from_dict(study_grid("fig-headline-paper")).runs()[0].config().task.d == 50
    assert grid_from_dict(study_grid("fig-threshold-paper")).runs()[0].config().task.d == 25


def test_list_needs_no_out_and_names_the_fixed_settings_once(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "fig-rare", "--list"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    criteria = [line for line in lines if line.startswith("# pre-registered: ")]
    assert "# expected CPU time: unknown" in lines[len(criteria)]  # no published table in this folder
    names = [line for line in lines if not line.startswith("#")]
    assert names == [f"task.p_cot=0.01,seed={s}" for s in STUDIES["fig-rare"].seeds]
    assert criteria == [f"# pre-registered: {c.text()}" for c in STUDIES["fig-rare"].criteria] != []
    assert header.startswith("# fig-rare: cotmix run ") and "task.d=16" in header and "task.p_cot" not in header
    assert main(["sweep", "fig-rare"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "cotmix: error: --out DIR is required to run a sweep; only --list works without it"
    assert list(tmp_path.iterdir()) == []


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
    from cotmix.experiments.pipeline import baseline_schedule

    cfg = load_config(overrides=["posttrain.baseline_min_samples=100000", "pretrain.batch_size=256"])
    steps, every = baseline_schedule(cfg, rl_samples=5_000, pretrain_samples=20_000)
    assert steps == 313 and every >= 4  # (100000 - 20000) / 256, rounded up; at most 100 evaluations
    assert baseline_schedule(load_config(), rl_samples=5_000, pretrain_samples=20_000)[0] == 20  # RL's samples


def test_the_expected_time_is_the_published_runs_measured_time():
    from cotmix.cli.sweep import expected_time
    from cotmix.files import read_parquet

    published = Path(__file__).parents[1] / "docs" / "results"
    walls = read_parquet(published / "fig-headline" / "results.parquet").column("wall_s").to_pylist()
    line = expected_time("fig-headline", 10, (published,))
    assert f"about {2 * sum(walls) / 3600:.1f} core-hours for 10 runs" in line


def test_the_expected_time_of_an_unpublished_sweep_comes_from_its_partial_copy(tmp_path):
    """Only the finished runs of a partial copy count (a running one has no wall time yet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cotmix.cli.sweep import expected_time

    published, partial = tmp_path / "results", tmp_path / "in-progress"
    (partial / "mine").mkdir(parents=True)
    pq.write_table(pa.table({"state": ["done", "done", "running"], "wall_s": [3000.0, 3600.0, None]}),
                   partial / "mine" / "results.parquet")
    line = expected_time("mine", 12, (published, partial))
    assert "about 11.0 core-hours for 12 runs" in line and "from the 2 finished" in line
    assert "unknown" in expected_time("other", 12, (published, partial))

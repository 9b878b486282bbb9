"""The results table: queried with DuckDB, rebuilt from the run directories, published tables read as they are."""

import json
import shutil

from cotmix.cli import main
from cotmix.experiments.results import query


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


def test_the_default_columns_show_the_swept_values_and_the_warnings(tiny_sweep):
    """Without --columns the table leads with what tells the runs apart (the swept p_cot, the seed),
    not the long run name, and counts each run's warnings (a tiny run's RL preflight warns)."""
    out, _ = tiny_sweep
    names, rows = query(out, "state = 'done'")
    assert names[:2] == ["seed", "task_p_cot"] and "name" not in names and "warnings" in names
    assert all(row[names.index("warnings")] >= 1 for row in rows)


def test_the_default_columns_show_a_tasks_own_options_and_the_arm(tmp_path):
    """A swept task option (parity's d lives in task.options, not in the base config) and a study's
    arm are what tell these runs apart, so the default table must show both (and not again what
    the arm sets)."""
    for d in (6, 7):
        for arm in ("ntp_only", "ntp_rl"):
            run = tmp_path / "runs" / f"task.d={d},arm={arm},seed=0"
            run.mkdir(parents=True)
            posttrain = {"steps": 0 if arm == "ntp_only" else 200}  # set by the arm: not a column of its own
            (run / "config.json").write_text(json.dumps({"seed": 0, "task": {"name": "parity", "d": d},
                                                         "posttrain": posttrain}))
            (run / "status.json").write_text(json.dumps({"name": run.name, "arm": arm, "state": "done"}))
    names, rows = query(tmp_path)
    assert names[:2] == ["arm", "task_d"] and "name" not in names and "posttrain_steps" not in names, names
    assert sorted((r[0], r[1]) for r in rows) == [("ntp_only", 6), ("ntp_only", 7), ("ntp_rl", 6), ("ntp_rl", 7)]

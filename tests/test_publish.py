"""`cotmix publish` and `cotmix restore` (cotmix.experiments.publish): names cannot escape their folders,
nothing they did not make is replaced or deleted, a failure keeps the old publication, and stale
temporaries from a killed copy change nothing."""

import errno
import shutil

import pytest

from cotmix.cli import main
from cotmix.experiments.grid import grid_from_dict
from cotmix.experiments.runner import run_sweep
from cotmix.rundir import read_metrics


def one_error_line(capsys, code, expected=2) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == expected and len(err) == 1 and err[0].startswith("cotmix: error:"), (code, err)
    return err[0]


def snapshot(root):
    """Every file under root with its bytes: what must not change."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """runs/sweeps/pub: one finished tiny run (with its checkpoints)."""
    root = tmp_path_factory.mktemp("pub")
    grid = grid_from_dict({"name": "pub", "preset": "tiny", "grid": {"task.p_cot": [0.5]}, "seeds": [0],
                           "base": {"posttrain.baseline_arm": False}})
    statuses = run_sweep(grid, root / "sweeps" / "pub", progress=False, log=lambda *_: None)
    assert [s["state"] for s in statuses] == ["done"]
    return root / "sweeps"


@pytest.fixture
def published(sweeps, tmp_path):
    assert main(["publish", "pub", "--src", str(sweeps), "--dest", str(tmp_path / "docs")]) == 0
    return tmp_path / "docs"


@pytest.mark.slow
def test_publish_keeps_small_files_only_and_redraws_in_place(sweeps, published, capsys):
    run = "task.p_cot=0.5,seed=0"
    files = snapshot(published / "pub")
    assert sorted(files) == ["report.html", "report/pub.png", "report/pub.svg", "results.parquet",
                             f"runs/{run}/config.json", f"runs/{run}/metrics.jsonl.gz", f"runs/{run}/status.json",
                             f"runs/{run}/summary.json", "sweep.json"]
    assert read_metrics(published / "pub" / "runs" / run) == read_metrics(sweeps / "pub" / "runs" / run)
    # The publication itself as the source: redrawn in place, its runs kept byte for byte.
    assert main(["publish", "pub", "--src", str(published), "--dest", str(published)]) == 0
    again = snapshot(published / "pub")
    assert sorted(again) == sorted(files)
    assert all(again[k] == files[k] for k in files if k.startswith("runs/") or k == "sweep.json")
    assert sorted(p.name for p in published.iterdir()) == ["README.md", "pub"]  # the index, no temporary folder
    assert (sweeps / "pub" / "runs" / run / "checkpoints").is_dir()  # the source is never touched


@pytest.mark.parametrize("name", ["..", ".", "../pub", "pub/..", "a/b", "/tmp", "", "-", ".hidden", "x..y"])
def test_a_name_that_could_leave_its_folder_is_refused_and_nothing_is_deleted(sweeps, published, capsys, name):
    before_docs, before_sweeps = snapshot(published), snapshot(sweeps)
    for command in (["publish", name, "--src", str(sweeps), "--dest", str(published / "pub")],
                    ["publish", name, "--src", str(published / ".."), "--dest", str(published)],
                    ["restore", name, "--src", str(published), "--dest", str(sweeps)]):
        try:
            code = main(command)
        except SystemExit as exc:  # argparse: '-' looks like a flag
            code = exc.code
        assert code == 2
        capsys.readouterr()
    assert snapshot(published) == before_docs and snapshot(sweeps) == before_sweeps


def test_a_folder_that_is_not_a_publication_is_left_alone(sweeps, tmp_path, capsys):
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "thesis.tex").write_text("years of work")
    code = main(["publish", "pub", "--src", str(sweeps), "--dest", str(tmp_path)])
    assert "holds files that publish does not write" in one_error_line(capsys, code)
    assert snapshot(tmp_path) == {"pub/thesis.tex": b"years of work"}


def test_a_link_at_the_target_is_refused_and_what_it_points_to_survives(sweeps, tmp_path, capsys):
    before = snapshot(sweeps)
    (tmp_path / "pub").symlink_to(sweeps / "pub")
    code = main(["publish", "pub", "--src", str(sweeps), "--dest", str(tmp_path)])
    assert "a link" in one_error_line(capsys, code)
    assert snapshot(sweeps) == before


def test_a_failure_while_publishing_keeps_the_old_publication(sweeps, published, capsys, monkeypatch):
    import cotmix.experiments.report.html as html

    before = snapshot(published)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(html, "build_report", disk_full)
    code = main(["publish", "pub", "--src", str(sweeps), "--dest", str(published)])
    line = one_error_line(capsys, code, expected=1)
    assert "No space left on device" in line and "--resume" not in line  # publish has no --resume
    assert snapshot(published) == before and sorted(p.name for p in published.iterdir()) == ["README.md", "pub"]


def test_restore_ignores_stale_temporaries_and_never_overwrites_a_run(published, tmp_path, capsys):
    run = "task.p_cot=0.5,seed=0"
    runs = tmp_path / "fresh" / "pub" / "runs"
    (runs / f"{run}.tmp").mkdir(parents=True)           # the old shell script's leftover
    (runs / f".{run}.abc123.tmp").mkdir()                 # a killed restore's leftover
    (runs / f".{run}.abc123.tmp" / "config.json").write_text("{}")
    assert main(["restore", "pub", "--src", str(published), "--dest", str(tmp_path / "fresh")]) == 0
    assert "restored 1 finished runs" in capsys.readouterr().out
    assert sorted(p.name for p in (runs / run).iterdir()) == ["config.json", "metrics.jsonl.gz", "status.json",
                                                              "summary.json"]
    (runs / run / "summary.json").write_text('{"mine": 1}')
    assert main(["restore", "pub", "--src", str(published), "--dest", str(tmp_path / "fresh")]) == 0
    assert "restored 0 finished runs" in capsys.readouterr().out
    assert (runs / run / "summary.json").read_text() == '{"mine": 1}'
    # The results table and the report do not mistake a hidden leftover for a run.
    assert main(["results", str(tmp_path / "fresh"), "--columns", "name", "--csv"]) == 0
    assert capsys.readouterr().out.split() == ["name", f"\"{run}\""]  # CSV quotes the commas


def test_restore_refuses_a_different_sweep(published, tmp_path, capsys):
    other = tmp_path / "fresh" / "pub"
    other.mkdir(parents=True)
    (other / "sweep.json").write_text('{"name": "another"}')
    code = main(["restore", "pub", "--src", str(published), "--dest", str(tmp_path / "fresh")])
    assert "holds a different sweep" in one_error_line(capsys, code)
    assert sorted(p.name for p in other.iterdir()) == ["sweep.json"]
    shutil.rmtree(other)


def test_publish_writes_an_index_of_every_publication_and_leaves_a_foreign_readme(sweeps, published, capsys):
    """DEST/README.md: one row per publication with its run count and report; rewritten by every
    publish (and by --index alone), but never over a README.md that cotmix did not write."""
    index = (published / "README.md").read_text()
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    assert len(rows) == 1 and rows[0].startswith("| [pub](pub/report.html)") and "1 of 1 done" in rows[0]
    (published / "README.md").write_text("# my notes\n")
    capsys.readouterr()
    assert main(["publish", "--index", "--dest", str(published)]) == 0
    assert (published / "README.md").read_text() == "# my notes\n"
    said = capsys.readouterr().out  # it says what it did: left the file alone
    assert "left" in said and "README.md alone" in said and "wrote" not in said
    assert one_error_line(capsys, main(["publish", "--dest", str(published)])).endswith("rewrite the index only")

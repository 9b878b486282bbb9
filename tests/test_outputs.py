"""One rule for every command that writes, and one line for every bad input (the third reliability
round's classes): nothing it did not make is replaced, nothing half-written is left, sizes are checked
before allocation, hostile files give one line, user errors exit 2 and machine errors 1 with a hint
that only names flags the command has, and a full disk at any write of `run` or `export` leaves
nothing torn and resumes to the same result."""

import builtins
import errno
import gzip
import io
import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from cotmix.cli import main

TINY = ["task.d=6", "task.p_cot=0.5", "model.d_model=32", "model.n_head=2", "pretrain.steps=4",
        "pretrain.batch_size=32", "pretrain.stop_when=none", "pretrain.eval_interval=4", "pretrain.ckpt_interval=4",
        "pretrain.log_interval=4", "posttrain.steps=2", "posttrain.prompts_per_step=8", "posttrain.group_size=4",
        "posttrain.eval_interval=2", "posttrain.ckpt_interval=2", "posttrain.stop_when=none", "eval.n_prompts=16",
        "eval.pass_k_prompts=8"]


def one_error_line(capsys, code, expected=2) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("cotmix: warning:")]
    assert code == expected and len(err) == 1 and err[0].startswith("cotmix: error:"), (code, err)
    return err[0]


def cli(args) -> int:
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code


def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def temporaries(root):
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def one_run_sweep(run_dir, sweep):
    """A sweep folder holding a copy of run_dir (no checkpoints), finished."""
    import shutil

    shutil.copytree(run_dir, sweep / "runs" / "r", ignore=shutil.ignore_patterns(".lock", "checkpoints"))
    (sweep / "runs" / "r" / "status.json").write_text(json.dumps({"state": "done", "name": "r"}))
    (sweep / "sweep.json").write_text(json.dumps({"name": sweep.name}))
    return sweep


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs") / "run"
    assert main(["run", *TINY, "--out", str(out), "--no-progress"]) == 0
    return out


# --- 1. data loss: only what the command made is replaced ------------------------------------------

def test_report_replaces_its_own_page_only(run_dir, tmp_path, capsys):
    sweep = one_run_sweep(run_dir, tmp_path / "one")
    notes = tmp_path / "notes.md"
    notes.write_text("my notes")
    assert "not a report that cotmix wrote" in one_error_line(capsys, cli(["report", sweep, "--out", notes]))
    link = tmp_path / "link.html"
    link.symlink_to(notes)
    assert "symbolic link" in one_error_line(capsys, cli(["report", sweep, "--out", link]))
    assert "is a folder" in one_error_line(capsys, cli(["report", sweep, "--out", tmp_path]))
    assert "does not exist" in one_error_line(capsys, cli(["report", sweep, "--out", tmp_path / "no" / "r.html"]))
    assert notes.read_text() == "my notes" and link.is_symlink() and temporaries(tmp_path) == []
    assert cli(["report", sweep, "--out", tmp_path / "r.html"]) == 0
    assert cli(["report", sweep, "--out", tmp_path / "r.html"]) == 0  # its own page: replaced
    # A figure in DIR/report/ that cotmix did not draw stops the report before anything is written.
    (sweep / "report" / "one.svg").write_text("<svg>someone else's</svg>")
    before = snapshot(sweep / "report")
    assert "not a figure that cotmix wrote" in one_error_line(capsys, cli(["report", sweep]))
    assert snapshot(sweep / "report") == before and not (sweep / "report.html").exists()


def test_plot_theory_and_results_leave_foreign_files_alone(run_dir, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n a holiday")
    assert "not a figure that cotmix wrote" in one_error_line(capsys, cli(["plot", run_dir, "--out", photo]))
    assert cli(["plot", run_dir, "--out", tmp_path / "curves.png"]) == 0
    assert cli(["plot", run_dir, "--out", tmp_path / "curves.png"]) == 0  # its own figure: replaced
    theory = tmp_path / "theory"
    theory.mkdir()
    (theory / "threshold.png").write_bytes(b"\x89PNG\r\n\x1a\n not ours")
    code = cli(["theory", "--out", theory, "--steps", "2", "--chain-steps", "2", "--star-rounds", "0"])
    assert "which `cotmix theory` did not write" in one_error_line(capsys, code)
    assert photo.read_bytes().endswith(b"a holiday") and (theory / "threshold.png").read_bytes().endswith(b"not ours")
    table = one_run_sweep(run_dir, tmp_path / "t")
    (table / "results.parquet").write_text("a spreadsheet of mine")
    assert "not a results table that cotmix wrote" in one_error_line(capsys, cli(["results", table]))
    assert (table / "results.parquet").read_text() == "a spreadsheet of mine"


# --- 2. half-written output ------------------------------------------------------------------------

def test_a_results_table_that_is_a_folder_is_one_line_and_no_temporary(run_dir, tmp_path, capsys):
    table = one_run_sweep(run_dir, tmp_path / "t")
    (table / "results.parquet").mkdir()
    assert "is a folder" in one_error_line(capsys, cli(["results", table]))
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("override", ["posttrain.temperature=1e-40", "eval.temperature=1e-300",
                                      "posttrain.temperature=0.001", "eval.temperature=0"])
def test_temperatures_that_overflow_softmax_are_refused_before_a_folder_is_made(run_dir, tmp_path, capsys, override):
    code = cli(["posttrain", "--from", run_dir, override, "--out", tmp_path / "rl"])
    assert "must be in [0.01, 10.0]" in one_error_line(capsys, code)
    assert not (tmp_path / "rl").exists()


@pytest.mark.parametrize("temperature", ["1e-40", "0.001", "-1", "11", "nan"])
def test_sample_refuses_temperatures_it_cannot_use(run_dir, capsys, temperature):
    code = cli(["sample", "--checkpoint", run_dir, "--temperature", temperature])
    assert "--temperature" in one_error_line(capsys, code)


# --- 3. sizes are checked before anything is allocated ---------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["data", "task.d=6", "--train-samples", "100000000000000"], "needs about"),
    (["data", "task.d=6", "--train-samples", str(10**40)], "needs about"),
    (["theory", "--batch", "100000000"], "needs about"),
    (["theory", "--eval-samples", "10000000000"], "needs about"),
    (["theory", "--star-samples", "100000000000000"], "must be in [1, 1000000000]"),
    (["theory", "--seeds", "100000000", "--star-rounds", "0"], "must be in [1, 10000]"),
    (["sample", "--checkpoint", "RUN", "-n", "1000000000"], "-n 1000000000: must be in"),
    (["bench", "--tiny", "--no-peers", "--batch", "100000000000"], "needs about"),
    (["bench", "--tiny", "--no-peers", "--rl-prompts", "100000000", "--rl-group", "1000"], "needs about"),
    (["sweep", "configs/sweeps/defaults-check.yaml", "--workers", "100000"], "need 1 <= workers <= 512"),
    (["sweep", "configs/sweeps/defaults-check.yaml", "--threads", "100000000"], "1 <= threads <= 1024"),
])
def test_sizes_the_machine_cannot_hold_are_one_line_at_once(run_dir, tmp_path, capsys, args, fragment):
    args = [str(run_dir) if a == "RUN" else a for a in args]
    out = tmp_path / ("out.json" if args[0] == "bench" else "out")
    code = cli(args + (["--out", out] if args[0] in ("data", "theory", "bench", "sweep") else []))
    assert fragment in one_error_line(capsys, code)
    assert not out.exists()


# --- 4. hostile files: one line, never a traceback -------------------------------------------------

DEEP = '{"a": ' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize("file, command, fragment", [
    ("config.json", ["plot", "COPY", "--out", "OUT/c.png"], "nested more than"),
    ("summary.json", ["report", "OUT/sweep", "--partial", "--out", "OUT/r.html"], "nested more than"),
    ("checkpoints/posttrain/step_000002/state.json", ["eval", "--checkpoint", "COPY"], "nested more than"),
    ("status.json", ["report", "OUT/sweep", "--out", "OUT/r.html"], "no sweep with a finished run"),  # unfinished
    ("sweep.json", ["report", "OUT/sweep", "--out", "OUT/r.html"], "nested more than")])
def test_deeply_nested_json_is_one_line(run_dir, tmp_path, capsys, file, command, fragment):
    import shutil

    copy = tmp_path / "sweep" / "runs" / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(".lock"))
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps({"name": "sweep"}))
    (copy / "status.json").write_text(json.dumps({"state": "done"}))
    (copy / file if file != "sweep.json" else tmp_path / "sweep" / file).write_text(DEEP)
    code = cli([a.replace("COPY", str(copy)).replace("OUT", str(tmp_path)) for a in command])
    assert fragment in one_error_line(capsys, code)


@pytest.mark.parametrize("content", ["[]", "5", '"x"', '{"task": 5}', '{"task": {"d": "x"}}', '{"state": "done"}'])
def test_run_files_of_the_wrong_shape_are_one_line(run_dir, tmp_path, capsys, content):
    sweep = one_run_sweep(run_dir, tmp_path / "sweep")
    (sweep / "runs" / "r" / "config.json").write_text(content)
    for args in (["plot", sweep / "runs" / "r", "--out", tmp_path / "c.png"], ["report", sweep, "--out", tmp_path / "r.html"]):
        assert "do not hold what cotmix writes" in one_error_line(capsys, cli(args))
    (sweep / "runs" / "r" / "config.json").write_text((run_dir / "config.json").read_text())
    (sweep / "runs" / "r" / "summary.json").write_text('{"pretrain": 5}')
    assert "do not hold what cotmix writes" in one_error_line(capsys, cli(["report", sweep, "--out", tmp_path / "r.html"]))
    assert temporaries(tmp_path) == [] and not (tmp_path / "r.html").exists()


def test_a_deep_metrics_line_and_a_deep_mixture_row_are_one_line(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(".lock"))
    with open(copy / "metrics.jsonl", "r+") as f:
        lines = f.readlines()
        f.seek(0)
        f.writelines([lines[0], DEEP + "\n", *lines[1:]])
    assert "line 2 is not JSON" in one_error_line(capsys, cli(["plot", copy]))  # a torn line is only ever the last
    source = tmp_path / "gsm.jsonl"
    source.write_text(json.dumps({"question": "1+1?", "answer": "one and one\n#### 2"}) + "\n" + DEEP + "\n")
    code = cli(["llm", "mixture", "--source", source, "--p-cot", "0.5", "--out", tmp_path / "mix"])
    assert "nested more than" in one_error_line(capsys, code)
    assert not (tmp_path / "mix").exists()


@pytest.mark.parametrize("kind", ["garbage", "symlink", "truncated", "fifo"])
def test_a_corrupt_or_linked_results_table_is_one_line(tmp_path, capsys, kind):
    published = tmp_path / "docs" / "fig"
    published.mkdir(parents=True)
    table = published / "results.parquet"
    if kind == "garbage":
        table.write_bytes(os.urandom(4096))
    elif kind == "symlink":
        table.symlink_to("/etc/passwd")
    elif kind == "truncated":
        table.write_bytes(b"PAR1" + os.urandom(100) + b"PAR1")
    else:
        os.mkfifo(table)
    for root in (published, tmp_path / "docs"):
        assert "results.parquet" in one_error_line(capsys, cli(["results", root]))


@pytest.mark.parametrize("args", [
    ["sample", "--checkpoint", "RUN", "--seed", str(2**64)],
    ["sample", "--checkpoint", "RUN", "--seed", "-1"],
    ["theory", "--seed", str(2**63)],
    ["eval", "--checkpoint", "RUN", f"eval.seed={2**70}"],
    ["llm", "eval", "--model", "RUN", "--data", "RUN", "--seed", str(2**64)],
])
def test_seeds_out_of_range_are_one_line(run_dir, tmp_path, capsys, args):
    args = [str(run_dir) if a == "RUN" else a for a in args]
    code = cli(args + (["--out", tmp_path / "out"] if args[0] == "theory" else []))
    assert "seed" in one_error_line(capsys, code)


def test_llm_eval_on_an_exported_parity_model_is_one_line(run_dir, tmp_path, capsys):
    assert cli(["export", run_dir, "--out", tmp_path / "hf"]) == 0
    source = tmp_path / "gsm.jsonl"
    source.write_text("".join(json.dumps({"question": f"What is {i} plus {i}?", "answer": f"twice\n#### {2 * i}"}) + "\n"
                              for i in range(4)))
    assert cli(["llm", "mixture", "--source", source, "--p-cot", "0.5", "--out", tmp_path / "mix",
                "--eval-size", "2"]) == 0
    capsys.readouterr()
    code = cli(["llm", "eval", "--model", tmp_path / "hf", "--data", tmp_path / "mix", "--k", "1"])
    assert "the model reads at most" in one_error_line(capsys, code)


# --- 5. exit codes, and hints that name only flags the command has ---------------------------------

def test_user_path_errors_exit_2_without_a_resume_hint(run_dir, tmp_path, capsys):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    for args in (["export", run_dir, "--out", tmp_path / "link"],
                 ["export", run_dir, "--out", tmp_path / ("x" * 300)],
                 ["report", run_dir, "--out", tmp_path / "missing" / "r.html"],
                 ["data", "--out", tmp_path / ("y" * 300)],
                 ["plot", run_dir, "--out", tmp_path / ("z" * 300 + ".png")]):
        line = one_error_line(capsys, cli(args))
        assert "--resume" not in line, line
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("kind", ["dir", "fifo"])
def test_a_config_that_is_a_folder_or_a_pipe_says_so(tmp_path, capsys, kind):
    path = tmp_path / "c.yaml"
    path.mkdir() if kind == "dir" else os.mkfifo(path)
    line = one_error_line(capsys, cli(["config", "--config", path]))
    assert "no such file" not in line and ("a folder" in line if kind == "dir" else "not a regular file" in line)


# --- 6. nothing accepted silently ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.int32, torch.float16, torch.float64, torch.bfloat16])
def test_checkpoint_tensors_of_another_dtype_are_refused(run_dir, tmp_path, capsys, dtype):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(run_dir / "checkpoints" / "posttrain" / "step_000002", ckpt)
    tensors = load_file(ckpt / "model.safetensors")
    name = sorted(tensors)[len(tensors) // 2]
    tensors[name] = tensors[name].to(dtype)
    save_file(tensors, ckpt / "model.safetensors")
    for args in (["eval", "--checkpoint", ckpt], ["sample", "--checkpoint", ckpt], ["export", ckpt, "--out", tmp_path / "x"]):
        line = one_error_line(capsys, cli(args))
        assert name in line and str(dtype).removeprefix("torch.") in line
    assert not (tmp_path / "x").exists()


def test_results_print_control_characters_escaped(run_dir, tmp_path, capsys):
    import shutil

    root = tmp_path / "sweep"
    name = "evil\r\nforged-row\x1b[2J\x07"
    shutil.copytree(run_dir, root / "runs" / name, ignore=shutil.ignore_patterns(".lock", "checkpoints"))
    for extra in ([], ["--csv"]):
        assert cli(["results", root, "--columns", "name,state", *extra]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\r" not in out and len(out.strip().splitlines()) == 2
        assert "forged-row" in out.splitlines()[1]


@pytest.mark.parametrize("flag", ["--calibration-grid", "--threshold-grid", "--star-p0", "--complexity-p"])
def test_empty_grids_are_refused(tmp_path, capsys, flag):
    for value in ("", ",", " , "):
        assert "an empty list" in one_error_line(capsys, cli(["theory", flag, value, "--out", tmp_path / "t"]))
    assert not (tmp_path / "t").exists()


def test_a_huge_value_is_not_echoed_whole(capsys):
    for args in (["config", "task.d=" + "9" * 100_000], ["config", "task.name=" + "x" * 100_000],
                 ["config", "x" * 100_000 + "=1"], ["theory", "--d", "7" * 100_000]):
        assert len(one_error_line(capsys, cli(args))) < 700


# --- 7. report --partial draws a `run` sweep whose runs are still pre-training ---------------------

def test_partial_report_reads_a_shared_pretraining_under_way(tmp_path, capsys):
    from cotmix.config import load_config
    from cotmix.experiments.shared_pretrain import pretrain_config, pretrain_key
    from cotmix.loops.pretrain import train_ntp
    from cotmix.rundir import prepare_run_dir, release_run_dir

    sweep = tmp_path / "sw"
    cfg = load_config(overrides=TINY)
    (sweep / "runs").mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"name": "sw", "command": "run", "grid": {}, "seeds": [0]}))
    prepare_run_dir(sweep / "runs" / "seed=0", cfg.to_dict(), resume=False)  # the run waits for the shared copy
    release_run_dir(sweep / "runs" / "seed=0")
    (sweep / "runs" / "seed=0" / "status.json").write_text(json.dumps({"state": "running", "name": "seed=0"}))
    shared = sweep / "pretrain-cache" / pretrain_key(cfg)
    shared_cfg = pretrain_config(cfg)
    prepare_run_dir(shared, shared_cfg.to_dict(), resume=False)
    train_ntp(shared_cfg, shared, progress=False)
    release_run_dir(shared)
    (shared / "summary.json").unlink()  # as while pre-training is still under way
    assert "no sweep with a finished run" in one_error_line(capsys, cli(["report", sweep]))
    assert cli(["report", sweep, "--partial"]) == 0
    page = (sweep / "report.html").read_text()
    assert "1 unfinished, drawn where they stopped: seed=0" in page


# --- fault injection: a full disk at each write of `run` and of `export` ---------------------------

class DiskFull:
    """Counts the writes a command makes (files opened to write, safetensors saves); with `fail_at`,
    the write of that number fails with ENOSPC, as a full disk would."""

    def __init__(self, monkeypatch, fail_at: int | None = None):
        import safetensors.torch
        import transformers.modeling_utils

        import cotmix.train.checkpoint

        self.count, self.fail_at = 0, fail_at
        real_open, real_save = builtins.open, safetensors.torch.save_file

        def opener(file, mode="r", *args, **kwargs):
            if any(c in mode for c in "wax+"):
                self.tick(file)
            return real_open(file, mode, *args, **kwargs)

        def saver(tensors, filename, *args, **kwargs):
            if self.tick(filename, raise_now=False):
                from safetensors import SafetensorError
                raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                                      'message: "No space left on device" })')
            return real_save(tensors, filename, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", opener)
        monkeypatch.setattr(io, "open", opener)
        monkeypatch.setattr(cotmix.train.checkpoint, "save_file", saver)
        monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", saver)

    def tick(self, name, raise_now=True) -> bool:
        self.count += 1
        if self.count != self.fail_at:
            return False
        if raise_now:
            raise OSError(errno.ENOSPC, "No space left on device", str(name))
        return True


def comparable(summary: dict) -> dict:
    """A summary without what differs between two runs of the same config (times, the machine)."""
    if isinstance(summary, dict):
        return {k: comparable(v) for k, v in summary.items() if k not in ("wall_s", "machine")}
    return summary


def count_writes(monkeypatch, args) -> int:
    with monkeypatch.context() as m:
        counter = DiskFull(m)
        assert cli(args) == 0
    return counter.count


def every_write(n: int) -> list[int]:
    """Every write number 1..n with COTMIX_FAULTS=all, else the first two, the last two and a spread."""
    if os.environ.get("COTMIX_FAULTS") == "all":
        return list(range(1, n + 1))
    return sorted({1, 2, n // 3, n // 2, 2 * n // 3, n - 1, n})


def test_a_full_disk_at_any_write_of_run_leaves_nothing_torn_and_resumes_to_the_same_result(
        run_dir, tmp_path, capsys, monkeypatch):
    reference = comparable(json.loads((run_dir / "summary.json").read_text()))
    n = count_writes(monkeypatch, ["run", *TINY, "--out", tmp_path / "count", "--no-progress"])
    assert n >= 20  # config, metrics, summaries, three files per checkpoint, the figure
    for k in every_write(n):
        out = tmp_path / f"full-{k}"
        with monkeypatch.context() as m:
            DiskFull(m, fail_at=k)
            code = cli(["run", *TINY, "--out", out, "--no-progress"])
        line = one_error_line(capsys, code, expected=1)
        assert "No space left on device" in line and "rerun with --resume" in line, (k, line)
        assert temporaries(out) == [], (k, temporaries(out))
        resume = ["--resume"] if (out / "config.json").is_file() else [*TINY]
        assert cli(["run", *resume, "--out", out, "--no-progress"]) == 0, k
        capsys.readouterr()
        assert comparable(json.loads((out / "summary.json").read_text())) == reference, k


def test_a_full_disk_at_any_write_of_export_leaves_no_folder(run_dir, tmp_path, capsys, monkeypatch):
    n = count_writes(monkeypatch, ["export", run_dir, "--out", tmp_path / "count"])
    assert n >= 4  # config, generation config, weights, tokenizer files, model card
    for k in every_write(n):
        with monkeypatch.context() as m:
            DiskFull(m, fail_at=k)
            code = cli(["export", run_dir, "--out", tmp_path / "hf"])
        line = one_error_line(capsys, code, expected=1)
        assert "No space left on device" in line and "--resume" not in line, (k, line)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["count"], k  # no folder, no temporary


def test_a_full_disk_while_writing_data_says_rerun_without_resume(tmp_path, capsys, monkeypatch):
    with monkeypatch.context() as m:
        DiskFull(m, fail_at=1)
        code = cli(["data", "task.d=6", "--train-samples", "10", "--format", "jsonl", "--out", tmp_path / "d"])
    line = one_error_line(capsys, code, expected=1)
    assert "No space left on device" in line and "--resume" not in line and "(rerun once it is fixed)" in line
    assert list(tmp_path.iterdir()) == []


def test_published_metrics_stay_readable(run_dir, tmp_path):
    """A run published with its metrics compressed reads like the original (the format restore seeds)."""
    from cotmix.rundir import read_metrics

    (tmp_path / "metrics.jsonl.gz").write_bytes(gzip.compress((run_dir / "metrics.jsonl").read_bytes()))
    assert read_metrics(tmp_path) == read_metrics(run_dir) != []

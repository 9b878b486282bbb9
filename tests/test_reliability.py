"""Nothing lost, nothing leaked, one clear line for every bad input: fault injection and hostile input.

Each test names the class of failure it guards (the reliability issue's list): data loss, the results
query reaching the filesystem, paths escaping from sweep files, torn files and full disks, two
processes on one run, values that validate and then crash, tracebacks where one line is promised,
resource exhaustion from a config file, and pickle in the LLM path.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cotmix.cli import main
from cotmix.config import load_config
from cotmix.errors import ConfigError, CotmixError
from cotmix.experiments.grid import grid_from_dict
from cotmix.loops.pretrain import train_ntp
from cotmix.rundir import lock_run_dir, prepare_run_dir, read_metrics, read_summary, release_run_dir

TINY = ["task.d=6", "task.p_cot=0.25", "model.d_model=32", "model.n_head=2", "pretrain.steps=12",
        "pretrain.batch_size=32", "pretrain.stop_when=none", "pretrain.eval_interval=6", "pretrain.ckpt_interval=6",
        "pretrain.log_interval=3", "eval.n_prompts=16"]


def one_error_line(capsys, code, expected_code=2) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == expected_code and len(err) == 1 and err[0].startswith("cotmix: error:"), err
    return err[0]


def strip_wall(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


# --- 1. data loss ---------------------------------------------------------------------------------

def test_llm_mixture_never_deletes_an_existing_out(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    source = tmp_path / "gsm.jsonl"
    source.write_text(json.dumps({"question": "1+1?", "answer": "one and one\n#### 2"}) + "\n")
    code = main(["llm", "mixture", "--source", str(source), "--p-cot", "0.5", "--out", str(out)])
    assert "already exists and is not an empty directory" in one_error_line(capsys, code)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_a_sweep_refuses_a_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep")
    code = main(["sweep", "configs/sweeps/defaults-check.yaml", "--out", str(tmp_path)])
    assert "not a sweep" in one_error_line(capsys, code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# --- 2. the results query reaches only the results table -----------------------------------------

@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    cfg = load_config(overrides=TINY)
    prepare_run_dir(root / "run", cfg.to_dict(), resume=False)
    train_ntp(cfg, root / "run", progress=False)
    release_run_dir(root / "run")
    return root


@pytest.mark.parametrize("where", [
    "(SELECT count(*) FROM read_text('/etc/hostname')) > 0",
    "1=1; COPY (SELECT 1) TO '{out}/leak.csv'",
    "1=1; ATTACH '{out}/leak.db' AS x",
    "1=1; SELECT 2",
    "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0",
])
def test_hostile_queries_are_refused_and_touch_nothing(results_dir, tmp_path, capsys, where):
    code = main(["results", str(results_dir), "--where", where.format(out=tmp_path)])
    one_error_line(capsys, code)
    assert list(tmp_path.iterdir()) == []


def test_hostile_sort_and_columns_are_refused(results_dir, tmp_path, capsys):
    code = main(["results", str(results_dir), "--sort", f"1; COPY (SELECT 1) TO '{tmp_path}/x.csv'"])
    one_error_line(capsys, code)
    code = main(["results", str(results_dir), "--columns", 'name" FROM read_text(\'/etc/hostname\') --'])
    assert "no column" in one_error_line(capsys, code)
    assert list(tmp_path.iterdir()) == []


def test_ordinary_queries_still_work(results_dir, capsys):
    assert main(["results", str(results_dir), "--where", "task_d = 6 AND pretrain_steps >= 12",
                 "--columns", "name,task_d", "--sort", "name DESC"]) == 0
    assert "run" in capsys.readouterr().out


# --- 3. paths from sweep files stay inside their folder --------------------------------------------

@pytest.mark.parametrize("sweep, fragment", [
    ({"name": "../escape", "preset": "tiny"}, "no '/' or '..'"),
    ({"name": "/tmp/abs", "preset": "tiny"}, "no '/' or '..'"),
    ({"name": ".hidden", "preset": "tiny"}, "not starting with '.'"),
    ({"preset": "tiny", "grid": {"task.name": ["../../x"]}}, "run name"),
    ({"preset": "tiny", "grid": {"task.p_cot": [0.5, "0.5"]}}, "share the folder"),
    ({"preset": "tiny", "grid": [1, 2]}, "grid must be a dict"),
    ({"preset": "tiny", "grid": {"task.d": []}}, "non-empty list"),
    ({"preset": "tiny", "also": {"task.d": 5}}, "also must be a list"),
    ({"preset": "tiny", "also": [5]}, "list of non-empty mappings"),
    ({"preset": "tiny", "base": [1]}, "base must be a dict"),
    ({"preset": "tiny", "seeds": "0,1"}, "seeds must be a list"),
    ({"preset": "tiny", "seeds": [True]}, "integers >= 0"),
    ({"preset": "tiny", "grid": {"task.d": [{"a": 1}]}}, "must be a number, a string or a boolean"),
])
def test_bad_sweep_files_are_one_line(sweep, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        grid_from_dict(sweep)


# --- 4. torn files and full disks ----------------------------------------------------------------

def test_a_torn_last_line_is_dropped_and_resume_goes_on(tmp_path):
    cfg = load_config(overrides=TINY)
    (tmp_path / "whole").mkdir(), (tmp_path / "torn").mkdir()
    train_ntp(cfg, tmp_path / "whole", progress=False)
    train_ntp(cfg, tmp_path / "torn", steps=6, progress=False)
    with open(tmp_path / "torn" / "metrics.jsonl", "a") as f:
        f.write('{"phase": "pretrain", "step": 7, "lo')  # a full disk stopped this append
    train_ntp(cfg, tmp_path / "torn", resume=True, progress=False)
    assert strip_wall(read_metrics(tmp_path / "torn")) == strip_wall(read_metrics(tmp_path / "whole"))
    text = (tmp_path / "torn" / "metrics.jsonl").read_text()
    assert all(json.loads(line) for line in text.splitlines())  # the file is whole again


def test_no_space_mid_append_is_one_line_and_resume_finishes(tmp_path, capsys, monkeypatch):
    import cotmix.train.phase as phase_module

    original, calls = phase_module.append_metrics, []

    def full_disk(run_dir, record):
        calls.append(1)
        if len(calls) == 5:
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record)[:17])
            raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "metrics.jsonl"))
        original(run_dir, record)

    monkeypatch.setattr(phase_module, "append_metrics", full_disk)
    out = tmp_path / "run"
    code = main(["pretrain", *TINY, "--out", str(out), "--no-progress"])
    assert "No space left on device" in one_error_line(capsys, code, expected_code=1)
    monkeypatch.setattr(phase_module, "append_metrics", original)
    release_run_dir(out)  # in-process: the failed command's lock is this process's own
    assert main(["pretrain", "--resume", "--out", str(out), "--no-progress"]) == 0
    (tmp_path / "whole").mkdir()
    train_ntp(load_config(overrides=TINY), tmp_path / "whole", progress=False)
    assert strip_wall(read_metrics(out)) == strip_wall(read_metrics(tmp_path / "whole"))


def test_no_space_mid_checkpoint_then_resume_from_the_one_before(tmp_path, capsys, monkeypatch):
    import cotmix.train.checkpoint as checkpoint_module

    original, calls = checkpoint_module.save_file, []

    def full_disk(tensors, path):
        calls.append(1)
        if len(calls) == 3:  # the model file of the second checkpoint
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        original(tensors, path)

    monkeypatch.setattr(checkpoint_module, "save_file", full_disk)
    out = tmp_path / "run"
    code = main(["pretrain", *TINY, "--out", str(out), "--no-progress"])
    one_error_line(capsys, code, expected_code=1)
    monkeypatch.setattr(checkpoint_module, "save_file", original)
    release_run_dir(out)
    assert main(["pretrain", "--resume", "--out", str(out), "--no-progress"]) == 0
    (tmp_path / "whole").mkdir()
    whole = train_ntp(load_config(overrides=TINY), tmp_path / "whole", progress=False)
    assert read_summary(out)["pretrain"]["eval"] == whole["eval"]


def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    cfg = load_config(overrides=TINY)
    (tmp_path / "run").mkdir()
    whole = train_ntp(cfg, tmp_path / "run", progress=False)
    newest = tmp_path / "run" / "checkpoints" / "pretrain" / "step_000012"
    (newest / "model.safetensors").write_bytes(b"\x00" * 10)
    again = train_ntp(cfg, tmp_path / "run", resume=True, progress=False)
    assert "resuming from the checkpoint before it" in capsys.readouterr().err
    assert again["eval"] == whole["eval"]  # steps 6..12 redone from step 6, to the same model


# --- 5. two processes on one run folder ------------------------------------------------------------

@pytest.mark.slow
def test_a_second_process_gets_one_line_while_the_first_holds_the_run(tmp_path):
    out = tmp_path / "run"
    assert main(["pretrain", *TINY, "pretrain.steps=1", "--out", str(out), "--no-progress"]) == 0
    lock_run_dir(out)  # this test process plays the first writer
    result = subprocess.run([sys.executable, "-m", "cotmix", "pretrain", "--resume", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    release_run_dir(out)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "another process" in lines[0] and str(os.getpid()) in lines[0]


def test_a_sigkilled_lock_holder_leaves_nothing_stale(tmp_path):
    (tmp_path / "run").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from cotmix.rundir import lock_run_dir; "
                               f"lock_run_dir({str(tmp_path / 'run')!r}); print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(CotmixError, match="another process"):
        lock_run_dir(tmp_path / "run")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    lock_run_dir(tmp_path / "run")  # taken at once: the kernel dropped the dead holder's lock
    release_run_dir(tmp_path / "run")


# --- 6. values that would validate and then crash ---------------------------------------------------

@pytest.mark.parametrize("override, fragment", [
    ("seed=18446744073709551616", "seed="),
    ("eval.seed=-1", "eval.seed=-1"),
    ("device=cuda:99999999999999999999", "device="),
    ("model.d_model=8192", "needs about"),
    ("eval.batch_size=100000000", "needs about"),
    ("task.p_cot=nan", "finite"),
])
def test_values_are_refused_up_front(tmp_path, capsys, override, fragment):
    code = main(["pretrain", override, "--out", str(tmp_path / "run")])
    assert fragment in one_error_line(capsys, code)
    assert not (tmp_path / "run").exists()


def test_nan_temperature_and_nan_weights_are_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", *TINY, "pretrain.steps=1", "--out", str(out), "--no-progress"]) == 0
    release_run_dir(out)
    capsys.readouterr()
    code = main(["sample", "--checkpoint", str(out), "--temperature", "nan"])
    assert "temperature" in one_error_line(capsys, code)
    from safetensors.torch import load_file, save_file

    ckpt = out / "checkpoints" / "pretrain" / "step_000001" / "model.safetensors"
    weights = load_file(ckpt)
    weights[next(iter(weights))][0] = float("nan")
    save_file(weights, ckpt)
    code = main(["eval", "--checkpoint", str(out)])
    assert "NaN or inf" in one_error_line(capsys, code)


# --- 7. tracebacks where one line is promised -------------------------------------------------------

def test_out_that_is_a_file_or_under_a_file(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "run"):
        code = main(["pretrain", *TINY, "--out", str(out)])
        one_error_line(capsys, code)
    assert blocker.read_text() == "x"


def test_binary_and_hostile_config_files(tmp_path, capsys):
    binary = tmp_path / "c.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "not a text file" in one_error_line(capsys, main(["config", "--config", str(binary)]))
    laughs = tmp_path / "laughs.yaml"  # 9 levels of 9 aliases: 387 million strings if expanded
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    laughs.write_text("\n".join(lines) + "\n")
    start = time.time()
    assert "aliases" in one_error_line(capsys, main(["config", "--config", str(laughs)]))
    assert time.time() - start < 5


def test_corrupt_run_files_become_a_row_not_a_traceback(results_dir, capsys):
    broken = results_dir / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "config.json").write_text('{"task": ')
    assert main(["results", str(results_dir), "--columns", "name,state"]) == 0
    out = capsys.readouterr().out
    assert "broken" in out and "corrupt" in out


def test_llm_bad_inputs_are_one_line(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"\n')
    code = main(["llm", "mixture", "--source", str(bad), "--p-cot", "0.5", "--out", str(tmp_path / "m")])
    assert "not valid JSON lines" in one_error_line(capsys, code)
    code = main(["llm", "eval", "--model", "./no/such/model", "--data", str(tmp_path)])
    one_error_line(capsys, code)
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if the llm extra were not installed
    (tmp_path / "saved").mkdir()
    code = main(["llm", "mixture", "--source", str(tmp_path / "saved"), "--p-cot", "0.5", "--out", str(tmp_path / "m")])
    assert "needs datasets" in one_error_line(capsys, code)
    assert not (tmp_path / "m").exists()


# --- 9. pickle in the LLM path -----------------------------------------------------------------------

def test_resuming_trainer_checkpoints_needs_allow_pickle(tmp_path, capsys):
    (tmp_path / "out" / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    code = main(["llm", "sft", "--model", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "out"),
                 "--resume"])
    assert "--allow-pickle" in one_error_line(capsys, code)


def test_no_checkpoint_is_ever_unpickled():
    """cotmix's own checkpoints are safetensors + JSON; nothing in src calls torch.load or pickle."""
    from pathlib import Path

    files = list((Path(__file__).parent.parent / "src" / "cotmix").rglob("*.py"))
    assert len(files) > 40
    for path in files:
        text = path.read_text()
        assert "torch.load(" not in text and "import pickle" not in text, path


def test_resume_without_the_finished_pretrain_checkpoint_says_what_is_missing(results_dir, tmp_path, capsys):
    """A run whose pre-training finished but whose checkpoints were deleted cannot start RL: one line
    naming the folder, and nothing written."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(results_dir / "run", run)
    shutil.rmtree(run / "checkpoints" / "pretrain")
    before = sorted(p.name for p in run.iterdir())
    line = one_error_line(capsys, main(["run", "--out", str(run), "--resume"]))
    assert "says pre-training finished" in line and "checkpoints/pretrain/ holds no checkpoint" in line
    assert sorted(p.name for p in run.iterdir() if p.name != ".lock") == [n for n in before if n != ".lock"]

"""The command line as a user meets it: one-line errors with exit code 2 and nothing written,
a tiny end-to-end `cotmix run`, readable samples, and SIGKILL + --resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY

COTMIX = [sys.executable, "-m", "cotmix.cli"]


def cotmix(*args, timeout=300):
    return subprocess.run(COTMIX + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, fragment", [
    (["task.p_cot=1.5"], "task.p_cot=1.5: must be in [0.0, 1.0]"),
    (["task.d=1"], "task.d=1"),
    (["model.n_head=5"], "must divide model.d_model"),
    (["pretrain.steps=-2"], "pretrain.steps=-2"),
    (["task.name=sorting"], "allowed: digitsum, multiplication, parity"),
    (["--preset", "huge"], "unknown preset"),
    (["posttrain.algorithm=ppo"], "allowed: reinforce, rloo, grpo, dr_grpo, dapo, star"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, fragment):
    out = tmp_path / "run"
    result = cotmix("pretrain", *args, "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert not out.exists()


def test_overrides_count_on_both_sides_of_the_options():
    result = cotmix("config", "task.d=7", "--preset", "tiny", "task.p_cot=0.3")
    assert result.returncode == 0, result.stderr
    values = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.startswith("task.")}
    assert values["task.d"] == "7" and values["task.p_cot"] == "0.3"
    result = cotmix("config", "task.d=7", "--preset", "tiny", "--bogus")
    assert result.returncode == 2 and "unrecognized arguments: --bogus" in result.stderr


def test_missing_and_corrupt_checkpoints(tmp_path):
    result = cotmix("eval", "--checkpoint", str(tmp_path / "none"))
    assert result.returncode == 2 and "no such" in result.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("model.safetensors", "trainer.safetensors", "state.json"):
        (bad / name).write_bytes(b"\x00garbage")
    for command in (["eval", "--checkpoint", str(bad)], ["posttrain", "--from", str(bad), "--out", str(tmp_path / "o")]):
        result = cotmix(*command)
        assert result.returncode == 2 and "corrupt" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_occupied_out_directory_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = cotmix("pretrain", *TINY, "--out", str(tmp_path))
    assert result.returncode == 2 and "--resume" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = cotmix("run", *TINY, "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_run_writes_all_three_phases_a_table_and_a_figure(tiny_run):
    out, stdout = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    assert {"pretrain", "posttrain", "baseline"} <= summary.keys()
    assert all("greedy_accuracy" in summary[k]["eval"] for k in ("pretrain", "posttrain", "baseline"))
    assert summary["baseline"]["samples"] >= summary["posttrain"]["samples"]
    assert "NTP only" in stdout and "NTP + RL" in stdout and "greedy accuracy" in stdout
    png = (out / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    config = json.loads((out / "config.json").read_text())
    assert config["task"]["d"] == 6


def test_sample_and_eval_read_a_run(tiny_run):
    out, _ = tiny_run
    result = cotmix("sample", "--checkpoint", str(out), "-n", "5", "--temperature", "0")
    assert result.returncode == 0
    assert "checkpoints/posttrain/step_000004" in result.stdout.splitlines()[0]  # a run means its RL model
    rows = result.stdout.strip().splitlines()[1:]
    assert len(rows) == 5 and all(r.split()[0].endswith("=") and ("correct" in r or "wrong" in r) for r in rows)
    result = cotmix("eval", "--checkpoint", str(out), "eval.n_prompts=32", "--json")
    assert result.returncode == 0
    metrics = json.loads(result.stdout)
    assert metrics["n_prompts"] == 16  # d = 6: 64 inputs, a quarter held out, each evaluated once
    hits = metrics["greedy_accuracy"] * 16
    assert hits == round(hits)  # a share of those 16 prompts
    lo, hi = metrics["greedy_accuracy_ci95"]
    assert lo <= metrics["greedy_accuracy"] <= hi and hi - lo > 0.2  # 16 prompts leave a wide interval


def test_posttrain_from_several_checkpoints(tiny_run, tmp_path):
    out, _ = tiny_run
    steps = sorted((out / "checkpoints" / "pretrain").iterdir())
    result = cotmix("posttrain", "--from", *map(str, steps), "posttrain.steps=2", "--out", str(tmp_path / "rl"),
                    "--no-progress")
    assert result.returncode == 0, result.stderr
    made = sorted(p.name for p in (tmp_path / "rl").iterdir())
    assert len(made) == len(steps) and all((tmp_path / "rl" / m / "summary.json").is_file() for m in made)


def test_posttrain_from_a_sweep_run_directory(tiny_run, tmp_path):
    # Sweep runs are named by their settings ("task.p_cot=0.01,seed=1"): the "=" must not turn the
    # path into a config override.
    out, _ = tiny_run
    run_dir = tmp_path / "task.p_cot=0.5,seed=0"
    run_dir.symlink_to(out, target_is_directory=True)
    result = cotmix("posttrain", "--from", str(run_dir), "posttrain.steps=1", "--out", str(tmp_path / "rl"),
                    "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "rl" / "config.json").read_text())["posttrain"]["steps"] == 1


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    args = ["task.d=8", "model.d_model=32", "model.n_head=2", "pretrain.steps=300", "pretrain.batch_size=64",
            "pretrain.ckpt_interval=50", "pretrain.eval_interval=100", "eval.n_prompts=256", "threads=1"]
    straight = cotmix("pretrain", *args, "--out", str(tmp_path / "straight"), "--no-progress")
    assert straight.returncode == 0, straight.stderr

    killed = tmp_path / "killed"
    proc = subprocess.Popen(COTMIX + ["pretrain", *args, "--out", str(killed), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "pretrain" / "step_000100").exists():
        assert time.time() < deadline and proc.poll() is None, "run ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()
    resumed = cotmix("pretrain", "--out", str(killed), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr

    def final(path):
        return json.loads((Path(path) / "summary.json").read_text())["pretrain"]["eval"]

    assert final(killed) == final(tmp_path / "straight")


def test_sample_eval_and_export_pick_a_runs_arm(tiny_run, tmp_path):
    """--arm names which model of a run: the NTP-only arm without knowing its checkpoint's step."""
    out, _ = tiny_run
    baseline = sorted((out / "checkpoints" / "baseline").iterdir())[-1]
    result = cotmix("sample", "--checkpoint", str(out), "--arm", "ntp-only", "-n", "2", "threads=1")
    assert result.returncode == 0 and str(baseline) in result.stdout.splitlines()[0], result.stderr
    result = cotmix("eval", "--checkpoint", str(out), "--arm", "pretrained", "eval.n_prompts=16")
    assert result.returncode == 0 and "checkpoints/pretrain/" in result.stdout.splitlines()[0]
    result = cotmix("sample", "--checkpoint", str(out), "task.d=7")
    assert result.returncode == 2 and "sample takes only threads=" in result.stderr


@pytest.mark.parametrize("args, expected", [
    (["pretrain", "--out", "x", "task.pcot=0.2"], "(did you mean 'task.p_cot'?)"),
    (["frobnicate"], "cotmix: error: argument command: invalid choice"),
    (["plot", "somewhere", "threads=2"], "cotmix plot takes no key=value settings (got threads=2)"),
])
def test_usage_errors_say_it_once_and_suggest_the_fix(tmp_path, args, expected):
    result = subprocess.run(COTMIX + args, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and expected in result.stderr and result.stderr.count("cotmix:") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_stop_rule_that_ends_pre_training_says_so(tmp_path):
    """A bar left at 400/800 is not a crash: the stop is announced, with the value the rule read."""
    result = cotmix("pretrain", *TINY, "pretrain.stop_when=chain_learnt", "pretrain.steps=20", "--out",
                    str(tmp_path / "r"), "--no-progress")
    assert result.returncode == 0 and "was not met within pretrain.steps=20" in result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert any("was not met" in w for w in summary["pretrain"]["warnings"])  # kept for the sweep's report


def test_plot_compares_several_runs_in_one_figure(tiny_run, tmp_path):
    out, _ = tiny_run
    result = cotmix("plot", str(out), str(out), "--out", str(tmp_path / "both.png"))
    assert result.returncode == 0 and (tmp_path / "both.png").read_bytes()[:4] == b"\x89PNG"
    result = cotmix("plot", str(out), str(out))
    assert result.returncode == 2 and "--out" in result.stderr

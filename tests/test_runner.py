"""The sweep runner: failures recorded, kill and rerun, two processes on one list, parallel workers
(Ray and processes), shared pre-trainings, published runs resuming a sweep, the device script."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FAILING_RUN, FAILING_SWEEP, TINY_SWEEP, failing_algorithm

import cotmix
from cotmix.errors import CotmixError
from cotmix.experiments.grid import grid_from_dict
from cotmix.experiments.runner import execute_run, run_sweep
from cotmix.rundir import read_metrics, read_status, write_status


def test_a_failing_run_is_recorded_and_the_others_finish(tiny_sweep):
    out, statuses = tiny_sweep
    states = {s["name"]: s["state"] for s in statuses}
    assert [n for n, st in states.items() if st == "done"] == [
        "task.p_cot=0.2,seed=0", "task.p_cot=0.2,seed=1", "task.p_cot=0.5,seed=0", "task.p_cot=0.5,seed=1"]
    failed = read_status(out / "runs" / f"{FAILING_RUN},seed=0")
    assert failed["state"] == "failed" and "fails at its first step, on purpose" in failed["error"]


def test_rerun_skips_finished_runs_and_refuses_another_grid(tiny_sweep):
    out, _ = tiny_sweep
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/task*/summary.json")}
    logs = []
    with failing_algorithm():
        run_sweep(grid_from_dict(FAILING_SWEEP), out, progress=False, log=logs.append)
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


def _without_wall_time(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def test_runs_that_differ_only_in_rl_share_one_pretraining_and_keep_their_numbers(tmp_path):
    from safetensors.torch import load_file

    from cotmix.experiments.pipeline import run_experiment
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
    cotmix.run(specs[1].config(), alone, progress=False)
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
    logs = []
    with failing_algorithm():
        grid = grid_from_dict(FAILING_SWEEP)
        statuses = run_sweep(grid, fresh / out.name, progress=False, log=logs.append,
                             only=["task.p_cot=*", "*,seed=1"])
    assert "5 runs, 4 done already, 1 to run" in logs[0]  # the failed run of seed 1; seed 0's is not asked for
    assert {s["name"] for s in statuses} == {"task.p_cot=0.2,seed=0", "task.p_cot=0.2,seed=1", "task.p_cot=0.5,seed=0",
                                             "task.p_cot=0.5,seed=1", f"{FAILING_RUN},seed=1"}
    assert not (fresh / out.name / "runs" / f"{FAILING_RUN},seed=0").exists()
    with pytest.raises(CotmixError, match="--only nothing: matches none of the 6 runs"):
        run_sweep(grid, fresh / out.name, progress=False, log=logs.append, only=["nothing"])


def test_device_studies_stops_runs_at_its_deadline_and_packs_what_resumes(tmp_path):
    """scripts/device_studies.sh, here on the CPU: at the deadline the run still going is stopped and
    packed with its newest checkpoint of each phase and no older one; the finished run, without
    checkpoints. Unpacked elsewhere, the stopped run's checkpoint loads."""
    from cotmix.train.checkpoint import list_checkpoints, load_checkpoint

    repo = Path(__file__).resolve().parents[1]
    sweep = tmp_path / "cut.yaml"
    sweep.write_text("name: cut\ncommand: pretrain\npreset: tiny\n"
                     "base: {pretrain.stop_when: none, pretrain.ckpt_interval: 5, pretrain.eval_interval: 1000}\n"
                     "grid: {pretrain.steps: [20, 1000000]}\nseeds: [0]\n")
    work, out, elsewhere = tmp_path / "work", tmp_path / "out", tmp_path / "elsewhere"
    env = os.environ | {"PY": sys.executable, "DEADLINE": "30", "NO_MPS": "1"}
    done = subprocess.run(["bash", "scripts/device_studies.sh", str(work), str(out), f"{sweep}:2"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    stopped = work / "cut" / "runs" / "pretrain.steps=1000000,seed=0"
    # A save the deadline interrupted leaves step_N.tmp; only finished checkpoints count (and are packed).
    steps_there = [p.name for p in list_checkpoints(stopped, "pretrain")]
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

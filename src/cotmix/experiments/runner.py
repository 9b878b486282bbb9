"""Execute a sweep: every run of a Grid, in-process (`workers=1`) or in parallel on Ray.

Without Ray (or with engine="processes"), parallel runs go to a pool of local processes, one fresh
process per run: the same runs and the same numbers, on one machine only.

Layout of a sweep directory:

    OUT/sweep.json              the expanded grid (a rerun must ask for the same one)
    OUT/runs/NAME/              an ordinary cotmix run directory, plus
    OUT/runs/NAME/status.json   {"state": "running" | "done" | "failed", "error", "wall_s"}
    OUT/results.parquet         the results table (`cotmix results OUT` rebuilds it any time)
    OUT/pretrain-cache/KEY/     one pre-training shared by the runs that differ only in posttrain.*
                                (cotmix.experiments.shared_pretrain)

A rerun skips runs whose state is `done`, resumes the others from their last checkpoint, and
retries failed ones. A run that raises is recorded as failed with its error; the others go on.
Two sweep processes may share one --out and one list of runs: each run is taken by whichever
gets to it first (its lock), and the other passes it by (`busy`, or `done` when it has finished).
Each run uses `threads` torch threads (1 by default, so parallel runs do not fight for cores).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import time
import traceback
from pathlib import Path

from tqdm import tqdm

from cotmix.errors import CotmixError, RunBusy
from cotmix.experiments.grid import Grid, RunSpec, grid_from_dict
from cotmix.rundir import (
    SHARED_PRETRAIN,
    create_empty_dir,
    read_json,
    read_status,
    release_run_dir,
    write_json_atomic,
    write_status,
)


def execute_run(spec: RunSpec, run_dir: str, threads: int = 1, niceness: int | None = None) -> dict:
    """Run (or resume) one run; never raises: failures come back as {"state": "failed", "error"},
    a run another sweep process holds as {"state": "busy"} (its status file left to that process).
    `niceness`: the scheduling priority to run at (Ray starts its workers at nice 15, which starves
    them next to any other busy process; the driver passes its own)."""
    import torch

    if niceness is not None:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        except PermissionError:
            pass  # raising priority back needs privileges: run as Ray left us

    from cotmix.experiments.pipeline import run_experiment
    from cotmix.loops.pretrain import train_ntp
    from cotmix.rundir import prepare_run_dir

    run_dir = Path(run_dir)
    start = time.time()
    torch.set_num_threads(max(1, threads))
    try:
        cfg = spec.config()
        if not (run_dir / "config.json").is_file():
            shutil.rmtree(run_dir, ignore_errors=True)  # a run that died before writing its config
        try:
            prepare_run_dir(run_dir, cfg.to_dict(), resume=run_dir.exists())
        except RunBusy:  # another sweep process is running it: its status is that process's to write
            return {"state": "busy", "name": spec.name, "wall_s": 0.0, "elsewhere": True}
        finished = read_status(run_dir)
        if finished.get("state") == "done":  # by another sweep process, since this one listed it
            release_run_dir(run_dir)
            return finished | {"name": spec.name, "elsewhere": True}
        write_status(run_dir, {"state": "running", "name": spec.name, "arm": spec.arm})
        if spec.command == "run":
            shared = run_dir.parent.parent / SHARED_PRETRAIN  # OUT/runs/NAME -> OUT/pretrain-cache
            run_experiment(cfg, run_dir, resume=True, progress=False, pretrain_cache=shared)
        else:
            train_ntp(cfg, run_dir, resume=True, progress=False)
        status = {"state": "done", "name": spec.name, "arm": spec.arm, "wall_s": round(time.time() - start, 2)}
    except Exception as exc:  # noqa: BLE001  (one run's failure must not stop the sweep)
        status = {"state": "failed", "name": spec.name, "wall_s": round(time.time() - start, 2),
                  "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=8)}
    try:
        write_status(run_dir, status)  # before the lock goes: whoever takes it next sees the outcome
    finally:
        release_run_dir(run_dir)  # the next run of this process, or another process, may take it
    return status


def _check_same_grid(out: Path, grid: Grid) -> None:
    """A new sweep takes an empty or new --out; a rerun must ask for the same grid as before."""
    path = out / "sweep.json"
    if out.exists() and not out.is_dir():
        raise CotmixError(f"--out {out}: is a file, not a directory")
    if path.is_file():
        before = read_json(path)
        if before != grid.to_dict():
            name = before.get("name") if isinstance(before, dict) else None
            differ = ", ".join(_differing_keys(before, grid.to_dict())[:6])
            raise CotmixError(f"--out {out}: holds a different sweep ({name!r}; differs in {differ}: "
                              "another file?); use a new --out, or the same sweep to resume it")
        return
    create_empty_dir(out, "they are not a sweep; choose an empty or new directory")
    write_json_atomic(path, grid.to_dict())


def _differing_keys(before, now: dict) -> list[str]:
    """The keys whose values differ between two sweep mappings, one level into dicts: `base.task.d`."""
    if not isinstance(before, dict):
        return ["everything"]
    keys = []
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            keys += [f"{key}.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        elif old != new:
            keys.append(key)
    return keys


ENGINES = ("auto", "ray", "processes")


def pick_engine(engine: str, workers: int, address: str | None) -> str:
    """in-process, ray or processes: `auto` is in-process for one worker, else Ray where it is
    installed and a local process pool where it is not."""
    if engine not in ENGINES:
        raise CotmixError(f"--engine {engine!r}: allowed: {', '.join(ENGINES)}")
    if address:
        if engine == "processes":
            raise CotmixError("--address joins a Ray cluster; it cannot be used with --engine processes")
        return "ray"
    if workers == 1 and engine == "auto":
        return "in-process"
    if engine == "auto":
        import importlib.util

        return "ray" if importlib.util.find_spec("ray") else "processes"
    return engine


def select_runs(specs: list[RunSpec], only: list[str] | None) -> list[RunSpec]:
    """The runs whose names match one of the glob patterns `only` (all runs when there are none), so
    that part of a sweep (one d, one arm) can run first, or on another machine, into the same --out."""
    if not only:
        return specs
    chosen = [s for s in specs if any(fnmatch.fnmatchcase(s.name, pattern) for pattern in only)]
    if not chosen:
        raise CotmixError(f"--only {' '.join(only)}: matches none of the {len(specs)} runs "
                          f"(e.g. {specs[0].name!r}; `cotmix sweep ... --list` prints them all)")
    return chosen


def run_sweep(grid: Grid, out: Path, workers: int = 1, address: str | None = None, threads: int = 1,
              progress: bool = True, log=print, engine: str = "auto", only: list[str] | None = None) -> list[dict]:
    """Execute every unfinished run of `grid` (or of its runs matching `only`) under `out`;
    returns the status of each of those runs."""
    engine = pick_engine(engine, workers, address)
    out = Path(out)
    specs = select_runs(grid.runs(), only)
    _check_same_grid(out, grid)
    todo = interleave([s for s in specs if read_status(out / "runs" / s.name).get("state") != "done"])
    log(f"sweep {grid.name}: {len(specs)} runs, {len(specs) - len(todo)} done already, {len(todo)} to run "
        f"({engine}{'' if engine == 'in-process' else f', {workers} workers'})")
    bar = tqdm(total=len(todo), desc=grid.name, disable=not progress, unit="run")

    def report(status: dict) -> None:
        line = (f"[{status['state']} in another sweep process] {status['name']}" if status.get("elsewhere")
                else f"[{status['state']}] {status['name']} ({status['wall_s']:.0f} s)")
        bar.write(line + (f": {status['error']}" if status["state"] == "failed" else ""))
        bar.update(1)

    if engine == "in-process":
        for spec in todo:
            report(execute_run(spec, str(out / "runs" / spec.name), threads))
    elif todo and engine == "ray":
        _run_on_ray(todo, out, workers, address, threads, report)
    elif todo:
        _run_on_processes(todo, out, workers, threads, report)
    bar.close()
    from cotmix.experiments.results import write_results

    write_results(out)
    return [read_status(out / "runs" / s.name) | {"name": s.name} for s in specs]


def interleave(specs: list[RunSpec]) -> list[RunSpec]:
    """Runs in an order where those sharing a pre-training come apart (round-robin over the
    shared pre-trainings), so that parallel workers start different pre-trainings instead of
    waiting for one another's."""
    from cotmix.experiments.shared_pretrain import pretrain_key

    def key(spec: RunSpec) -> str:
        try:
            return pretrain_key(spec.config()) if spec.command == "run" else spec.name
        except CotmixError:
            return spec.name  # a bad config: the run itself records the error

    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(key(spec), []).append(spec)
    rounds = max((len(g) for g in groups.values()), default=0)
    return [g[i] for i in range(rounds) for g in groups.values() if i < len(g)]


def _worker_died(out: Path, spec: RunSpec, exc: Exception) -> dict:
    """Record a run whose worker died before it could record anything itself; returns its status."""
    status = {"state": "failed", "name": spec.name, "wall_s": 0.0, "error": f"worker died: {exc}"}
    write_status(out / "runs" / spec.name, status)
    return status


def _run_on_ray(todo: list[RunSpec], out: Path, workers: int, address: str | None, threads: int, report) -> None:
    """One Ray task per run, `threads` CPUs each; a local Ray sized to `workers` x `threads` CPUs
    unless `address` joins a running cluster."""
    try:
        import ray
    except ImportError:
        raise CotmixError("--workers > 1 needs Ray: pip install 'ray>=2.30' (or use --workers 1)") from None
    import logging

    logging.getLogger("ray").setLevel(logging.ERROR)  # its start-up lines landed inside the progress bar
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(num_cpus=min(workers, len(todo)) * threads, include_dashboard=False, **quiet)
    try:
        remote = ray.remote(num_cpus=threads, max_retries=0)(execute_run)
        niceness = os.getpriority(os.PRIO_PROCESS, 0)
        pending = {remote.remote(s, str(out / "runs" / s.name), threads, niceness): s for s in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            spec = pending.pop(ready[0])
            try:
                report(ray.get(ready[0]))
            except Exception as exc:  # noqa: BLE001  (the worker died: killed, out of memory, ...)
                report(_worker_died(out, spec, exc))
    finally:
        ray.shutdown()


def _run_on_processes(todo: list[RunSpec], out: Path, workers: int, threads: int, report) -> None:
    """A pool of `workers` local processes, a fresh one per run (spawned, so no torch state is shared)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context, max_tasks_per_child=1) as pool:
        pending = {pool.submit(execute_run, s, str(out / "runs" / s.name), threads): s for s in todo}
        for future in as_completed(pending):
            spec = pending[future]
            try:
                report(future.result())
            except Exception as exc:  # noqa: BLE001  (the process died: killed, out of memory, ...)
                report(_worker_died(out, spec, exc))


def grid_for(name_or_file: str) -> Grid:
    """A sweep file path, or the name of a built-in study (see cotmix.experiments.studies)."""
    from cotmix.experiments.grid import load_grid
    from cotmix.experiments.studies import STUDIES, study_grid

    if name_or_file in STUDIES:
        return grid_from_dict(study_grid(name_or_file), default_name=name_or_file)
    if not Path(name_or_file).exists() and not name_or_file.endswith((".yaml", ".yml", ".json")):
        raise CotmixError(f"sweep {name_or_file!r}: not a file and not a built-in study; "
                          f"studies: {', '.join(STUDIES)}")
    return load_grid(name_or_file)

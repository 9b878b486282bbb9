"""What the report reads from a sweep directory: its runs grouped by setting, curves averaged over seeds.

A *setting* is a run's varying values without its seed ("task.p_cot=0.3"); figures average the
seeds of a setting (cotmix.plotting). A single run directory reads as a sweep of one run.
With `partial`, unfinished runs are drawn too, as far as they got: each phase they have not
finished reads from its last evaluation in metrics.jsonl.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from cotmix.errors import CotmixError
from cotmix.rundir import SHARED_PRETRAIN, read_config, read_json, read_metrics, read_status, read_summary


@dataclass
class Run:
    name: str
    path: Path
    values: dict  # the run's varying config values, seed included
    config: dict
    summary: dict
    status: dict
    label_keys: list = field(default_factory=list)  # the values that tell this sweep's settings apart

    @property
    def setting(self) -> str:
        """The varying values without the seed, by the last part of each key when those are distinct
        ("algorithm=star, reward=e2e" for posttrain.algorithm and posttrain.reward)."""
        short = [k.rsplit(".", 1)[-1] for k in self.label_keys]
        names = short if len(set(short)) == len(short) else self.label_keys
        return ", ".join(f"{n}={self.values[k]}" for n, k in zip(names, self.label_keys)) or "default"

    def metric(self, phase: str, key: str):
        return self.summary.get(phase, {}).get("eval", {}).get(key)

    def title(self) -> str:
        from cotmix.registry import TASKS

        t, p = self.config["task"], self.config["posttrain"]
        task = TASKS.resolve(t["name"], quiet=True)
        name = task.describe(t) if task is not None else t["name"]
        return (f"{name}, p_cot={t['p_cot']}: NTP alone vs NTP + RL "
                f"({p['algorithm']}, {p['reward']} reward, T={p['temperature']})")

    def curve(self, phase: str, key: str, evals: bool = True) -> Curve:
        """(RL-phase samples, value) along `phase`: x counts samples since pre-training ended."""
        offset = self.summary.get("pretrain", {}).get("samples_seen", 0) if phase != "pretrain" else 0
        points = Curve((r["samples_seen"] - offset, r[key]) for r in read_metrics(self.path, phase)
                       if bool(r.get("eval")) == evals and r.get(key) is not None)
        start = self.metric("pretrain", key)
        if phase != "pretrain" and evals and start is not None and points and points[0][0] > 0:
            points.insert(0, (0, start))  # both arms start from the same pre-trained model
        points.held = self.summary.get(phase, {}).get("stop_reason") == "greedy_learnt"
        return points


class Curve(list):
    """A run's (x, value) points; `held`: the phase ended early because greedy decoding had been
    learnt (a stop_when rule), so its last value stands for every later x when seeds are averaged."""

    held = False


@dataclass
class Sweep:
    name: str
    path: Path
    spec: dict
    runs: list[Run] = field(default_factory=list)
    partial: bool = False  # draw unfinished runs as far as they got

    @classmethod
    def of_run(cls, run_dir: Path) -> "Sweep":
        """One run directory as a sweep of that run alone."""
        run_dir = Path(run_dir)
        config = read_config(run_dir)
        run = Run(run_dir.name, run_dir, {"seed": config["seed"]}, config, read_summary(run_dir), {"state": "done"})
        return cls(run_dir.name, run_dir, {}, [run])

    def done(self) -> list[Run]:
        """The runs the figures draw: the finished ones, and with `partial` every run with an evaluation."""
        return [r for r in self.runs if r.status.get("state") == "done" or (self.partial and r.summary)]

    def unfinished(self) -> list[Run]:
        return [r for r in self.done() if r.status.get("state") != "done"]

    def not_started(self) -> list:
        """The runs of the sweep's own spec (its sweep.json) with no folder yet: what a partial copy
        is still to get. Matched by the name's parts, not their order (a sweep.json written with
        sorted keys expands to "model.d_model=64,model.n_layer=2" where the runner wrote them the
        other way round); none for a spec this version cannot read."""
        from cotmix.experiments.grid import grid_from_dict

        if not self.spec.get("seeds"):
            return []
        try:
            specs = grid_from_dict(self.spec, self.name).runs()
        except CotmixError:
            return []
        there = {frozenset(r.name.split(",")) for r in self.runs}
        return [spec for spec in specs if frozenset(spec.name.split(",")) not in there]

    def settings(self) -> dict[str, list[Run]]:
        groups: dict[str, list[Run]] = {}
        for run in self.done():
            groups.setdefault(run.setting, []).append(run)
        return groups

    def n_prompts(self) -> int | None:
        """Held-out prompts per evaluation (the smallest over the done runs; None for runs from before
        evaluations recorded it)."""
        counts = [r.metric("pretrain", "n_prompts") for r in self.done()]
        return min(counts) if counts and None not in counts else None

    def varying_keys(self) -> list[str]:
        keys = list(self.spec.get("grid", {}))
        for extra in self.spec.get("also", []):
            keys += [k for k in extra if k not in keys]
        return keys


@contextlib.contextmanager
def hostile_files(where: Path):
    """Run files that parse as JSON but do not hold what cotmix writes (a summary that is a number, a
    config without its sections) would fail deep in the figure code: one line naming the folder."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise CotmixError(f"{where}: its run files do not hold what cotmix writes ({type(exc).__name__}: "
                          f"{str(exc)[:120]})") from None


def arm_of(run_name: str) -> str | None:
    """The arm in a run's name ("...,arm=grpo,seed=0" -> "grpo"), or None."""
    return next((part[4:] for part in run_name.split(",") if part.startswith("arm=")), None)


def _value_of(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node


def _order(value):
    """Sort key that puts numbers in numeric order before anything else."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def _with_unfinished_phases(run_dir: Path, summary: dict, config: dict) -> dict:
    """A run in progress: every phase summary.json does not have yet, from its last evaluation. A run
    of a sweep whose pre-training is shared (cotmix.experiments.shared_pretrain) and still under way
    has none of its own yet: that phase is read from the shared copy."""
    records = read_metrics(run_dir)
    shared = _shared_pretrain(run_dir, config)
    if "pretrain" not in summary and shared is not None and not any(r.get("phase") == "pretrain" for r in records):
        summary = summary | {k: v for k, v in read_summary(shared).items() if k == "pretrain"}
        records = read_metrics(shared, "pretrain") + records
    last = {row["phase"]: row for row in records if row.get("eval") and "phase" in row}
    return summary | {phase: {"eval": row, "samples_seen": row.get("samples_seen"), "steps": row.get("step"),
                              "unfinished": True} for phase, row in last.items() if phase not in summary}


def _shared_pretrain(run_dir: Path, config: dict) -> Path | None:
    """SWEEP/pretrain-cache/KEY of a sweep's run, if that folder exists."""
    cache = run_dir.parent.parent / SHARED_PRETRAIN
    if run_dir.parent.name != "runs" or not cache.is_dir():
        return None
    from cotmix.config import config_from_dict
    from cotmix.experiments.shared_pretrain import pretrain_key

    try:
        shared = cache / pretrain_key(config_from_dict(config))
    except CotmixError:  # a config this version cannot read: no shared copy to find
        return None
    return shared if shared.is_dir() else None


def load_sweep(path: Path, partial: bool = False) -> Sweep:
    spec = read_json(path / "sweep.json")
    if not isinstance(spec, dict):
        raise CotmixError(f"{path / 'sweep.json'}: not a sweep (expected a JSON object)")
    sweep = Sweep(spec.get("name", path.name), path, spec, partial=partial)
    keys = sweep.varying_keys()
    for run_dir in sorted((path / "runs").glob("*")):
        if run_dir.name.startswith(".") or not (run_dir / "config.json").is_file():
            continue
        config = read_config(run_dir)
        status = read_status(run_dir)
        values = {k: _value_of(config, k) for k in keys} | {"seed": config["seed"]}
        if spec.get("arms"):
            values["arm"] = status.get("arm") or arm_of(run_dir.name)
        summary = read_summary(run_dir)
        if partial and status.get("state") != "done":
            summary = _with_unfinished_phases(run_dir, summary, config)
        sweep.runs.append(Run(run_dir.name, run_dir, values, config, summary, status))
    # By value, not by directory name: pretrain.steps 100, 300, 1000 rather than 100, 1000, 300.
    keys = keys + (["arm"] if spec.get("arms") else [])
    sweep.runs.sort(key=lambda r: tuple(_order(r.values[k]) for k in [*keys, "seed"]))
    differing = [k for k in keys if len({repr(r.values[k]) for r in sweep.done() or sweep.runs}) > 1]
    for run in sweep.runs:
        run.label_keys = differing
    return sweep


def find_sweeps(root: Path, partial: bool = False) -> list[Sweep]:
    """Every sweep directory (one holding sweep.json) at or under `root`."""
    from cotmix.experiments.results import hidden

    root = Path(root)
    return [load_sweep(p.parent, partial) for p in sorted(root.rglob("sweep.json")) if not hidden(p, root)]

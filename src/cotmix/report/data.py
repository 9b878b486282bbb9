"""What the report reads from a sweep directory: its runs grouped by setting, curves averaged over seeds.

A *setting* is a run's varying values without its seed ("task.p_cot=0.3"); the seeds of one
setting are averaged and given a 95% confidence band from Student's t (wide with 2-3 seeds, as
it should be). For an accuracy or a fraction the band also carries the binomial error of the
n held-out prompts it was measured on: every seed is scored on the same prompts, so seeds that
agree exactly (a model at chance scores the prompts' own share of x_1 = parity in every seed)
still leave that error, which Student's t alone would call zero.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from cotmix.phase import read_metrics, read_summary

# Two-sided 95% Student t quantiles by degrees of freedom (beyond 30: the normal's 1.96).
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        2.042]


def mean_ci(values: list[float], n_prompts: int | None = None) -> tuple[float, float]:
    """(mean, half-width of the 95% confidence interval) over seeds; with n_prompts (a fraction
    measured on that many prompts) the binomial half-width 1.96 sqrt(m (1 - m) / n) is added in
    quadrature. Without it a single value has half-width 0."""
    k = len(values)
    mean = sum(values) / k
    half = 0.0
    if k > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
        half = (_T95[k - 2] if k - 1 <= len(_T95) else 1.96) * sd / math.sqrt(k)
    if n_prompts:
        half = math.hypot(half, 1.96 * math.sqrt(max(0.0, mean * (1 - mean)) / n_prompts))
    return mean, half


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
        return ",".join(f"{k}={self.values[k]}" for k in self.label_keys) or "default"

    def metric(self, phase: str, key: str):
        return self.summary.get(phase, {}).get("eval", {}).get(key)

    def curve(self, phase: str, key: str, evals: bool = True) -> list[tuple[float, float]]:
        """(RL-phase samples, value) along `phase`: x counts samples since pre-training ended."""
        offset = self.summary.get("pretrain", {}).get("samples_seen", 0) if phase != "pretrain" else 0
        points = [(r["samples_seen"] - offset, r[key]) for r in read_metrics(self.path, phase)
                  if bool(r.get("eval")) == evals and r.get(key) is not None]
        start = self.metric("pretrain", key)
        if phase != "pretrain" and evals and start is not None and points and points[0][0] > 0:
            points.insert(0, (0, start))  # both arms start from the same pre-trained model
        return points


@dataclass
class Sweep:
    name: str
    path: Path
    spec: dict
    runs: list[Run] = field(default_factory=list)

    def done(self) -> list[Run]:
        return [r for r in self.runs if r.status.get("state") == "done"]

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


def _value_of(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node


def _order(value):
    """Sort key that puts numbers in numeric order before anything else."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def load_sweep(path: Path) -> Sweep:
    spec = json.loads((path / "sweep.json").read_text())
    sweep = Sweep(spec.get("name", path.name), path, spec)
    keys = sweep.varying_keys()
    for run_dir in sorted((path / "runs").glob("*")):
        if not (run_dir / "config.json").is_file():
            continue
        config = json.loads((run_dir / "config.json").read_text())
        status_path = run_dir / "status.json"
        status = json.loads(status_path.read_text()) if status_path.is_file() else {}
        values = {k: _value_of(config, k) for k in keys} | {"seed": config["seed"]}
        sweep.runs.append(Run(run_dir.name, run_dir, values, config, read_summary(run_dir), status))
    # By value, not by directory name: pretrain.steps 100, 300, 1000 rather than 100, 1000, 300.
    sweep.runs.sort(key=lambda r: tuple(_order(r.values[k]) for k in [*keys, "seed"]))
    differing = [k for k in keys if len({repr(r.values[k]) for r in sweep.done() or sweep.runs}) > 1]
    for run in sweep.runs:
        run.label_keys = differing
    return sweep


def find_sweeps(root: Path) -> list[Sweep]:
    """Every sweep directory (one holding sweep.json) at or under `root`."""
    return [load_sweep(p.parent) for p in sorted(Path(root).rglob("sweep.json"))]


def average_curves(curves: list[list[tuple[float, float]]], n_prompts: int | None = None
                   ) -> list[tuple[float, float, float]]:
    """(x, mean, ci) at the x values every curve has (seeds evaluate at the same sample counts);
    n_prompts as in mean_ci, for curves of a fraction."""
    if not curves:
        return []
    common = set.intersection(*(set(x for x, _ in c) for c in curves))
    out = []
    for x in sorted(common):
        mean, ci = mean_ci([dict(c)[x] for c in curves], n_prompts)
        out.append((x, mean, ci))
    return out

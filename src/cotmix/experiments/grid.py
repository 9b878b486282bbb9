"""A sweep file: a base configuration, a grid of config values, and seeds, expanded into runs.

    name: threshold
    command: pretrain          # pretrain (NTP only) or run (NTP, RL, NTP-only baseline); default run
    preset: demo               # optional base preset
    base:                      # dotted overrides for every run
      task.d: 20
    grid:                      # every combination of these values...
      task.p_cot: [0.2, 0.3, 0.4]
    also:                      # ...plus these extra settings (each merged into base)
      - {task.p_cot: 0.01}
    arms:                      # optional: every setting once per arm, a named bundle of overrides
      ntp_only: {posttrain.steps: 0}
      ntp_rl: {posttrain.stop_when: greedy_learnt}
    seeds: [0, 1, 2]           # every setting (and arm) once per seed (config key `seed`)

Each run is named by the values that differ between runs ("task.p_cot=0.3,arm=ntp_only,seed=1"),
so the directory `OUT/runs/NAME` is the same on every rerun of the same sweep.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from cotmix.config import Config, load_config
from cotmix.errors import ConfigError
from cotmix.options import read_config_file

COMMANDS = ("run", "pretrain")
KEYS = {"name", "command", "preset", "base", "grid", "also", "arms", "seeds"}


@dataclass
class RunSpec:
    """One run of a sweep: where it lives, what it runs, and its full set of overrides."""

    name: str
    command: str
    preset: str | None
    overrides: dict = field(default_factory=dict)
    arm: str | None = None

    def config(self) -> Config:
        return load_config(self.preset, None, [f"{k}={_text(v)}" for k, v in self.overrides.items()])


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass
class Grid:
    name: str
    command: str = "run"
    preset: str | None = None
    base: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    also: list = field(default_factory=list)
    seeds: list = field(default_factory=lambda: [0])
    arms: dict = field(default_factory=dict)

    def settings(self) -> list[dict]:
        """The grid's combinations, then the `also` entries (each a dict of varying keys)."""
        keys = list(self.grid)
        combos = [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]
        return (combos if keys or not self.also else []) + [dict(extra) for extra in self.also]

    def runs(self) -> list[RunSpec]:
        specs = []
        for setting in self.settings():
            for arm, bundle in (self.arms.items() or [(None, {})]):
                for seed in self.seeds:
                    named = setting | ({"arm": arm} if arm else {}) | {"seed": seed}
                    name = ",".join(f"{k}={_text(v)}" for k, v in named.items())
                    specs.append(RunSpec(name, self.command, self.preset, self.base | setting | bundle | {"seed": seed},
                                         arm))
        return specs

    def to_dict(self) -> dict:
        out = {"name": self.name, "command": self.command, "preset": self.preset, "base": self.base,
               "grid": self.grid, "also": self.also, "seeds": self.seeds}
        return out | ({"arms": self.arms} if self.arms else {})


def grid_from_dict(data: dict, default_name: str = "sweep") -> Grid:
    """Validate a sweep mapping; every run's config is built once here so errors surface before any run."""
    if not isinstance(data, dict):
        raise ConfigError("sweep file: expected a mapping with keys " + ", ".join(sorted(KEYS)))
    unknown = set(data) - KEYS
    if unknown:
        raise ConfigError(f"sweep file: unknown key(s) {', '.join(sorted(map(str, unknown)))}; allowed: "
                          f"{', '.join(sorted(KEYS))}")
    _expect(data, "name", str), _expect(data, "command", str), _expect(data, "preset", str)
    _expect(data, "base", dict), _expect(data, "grid", dict), _expect(data, "also", list), _expect(data, "seeds", list)
    _expect(data, "arms", dict)
    grid = Grid(name=safe_name(str(data.get("name", default_name)), "name"), command=data.get("command", "run"),
                preset=data.get("preset"), base=dict(data.get("base") or {}), grid=dict(data.get("grid") or {}),
                also=list(data.get("also") or []), seeds=list(data.get("seeds") if data.get("seeds") is not None else [0]),
                arms=dict(data.get("arms") or {}))
    if grid.command not in COMMANDS:
        raise ConfigError(f"sweep file: command={grid.command!r}; allowed: {', '.join(COMMANDS)}")
    for key, values in grid.grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep file: grid.{key} must be a non-empty list of values")
    if not all(isinstance(extra, dict) and extra for extra in grid.also):
        raise ConfigError("sweep file: also must be a list of non-empty mappings of config keys to values")
    if not grid.seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in grid.seeds):
        raise ConfigError(f"sweep file: seeds={grid.seeds}: must be a non-empty list of integers >= 0")
    if not all(isinstance(bundle, dict) for bundle in grid.arms.values()):
        raise ConfigError("sweep file: arms must map each arm's name to a mapping of config keys to values")
    for arm in grid.arms:
        safe_name(str(arm), "arm")
    values = list(grid.base.items()) + [(k, v) for k, vs in grid.grid.items() for v in vs]
    values += [(k, v) for bundle in grid.arms.values() for k, v in bundle.items()]
    values += [(k, v) for extra in grid.also for k, v in extra.items()]
    for key, value in values:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"sweep file: {key}={value!r}: each value must be a number, a string or a boolean")
    runs = grid.runs()
    if not runs:
        raise ConfigError("sweep file: no runs (give a grid, an `also` list, or both)")
    seen: dict[str, RunSpec] = {}
    for spec in runs:
        safe_name(spec.name, "run name")
        if spec.name in seen:
            raise ConfigError(f"sweep file: two runs would share the folder runs/{spec.name} (values that print "
                              f"alike, e.g. 1 and 1.0 or true and 'true'); make them distinct")
        seen[spec.name] = spec
    for spec in runs:
        try:
            spec.config()
        except ConfigError as exc:
            raise ConfigError(f"sweep run {spec.name}: {exc}") from None
    return grid


SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=,@-]{0,199}")


def safe_name(name: str, what: str) -> str:
    """A sweep or run name that is a plain file name: no '/', no '..', nothing hidden, at most 200
    characters, so that no sweep file can make `cotmix sweep` or `cotmix report` write outside its folder."""
    if not SAFE.fullmatch(name) or ".." in name:
        raise ConfigError(f"sweep file: {what} {name!r}: use letters, digits and . _ + = , @ - only (no '/' or "
                          f"'..', at most 200 characters, not starting with '.')")
    return name


def _expect(data: dict, key: str, kind: type) -> None:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"sweep file: {key} must be a {kind.__name__}, got {type(value).__name__}")


def load_grid(path: str | Path) -> Grid:
    return grid_from_dict(read_config_file(path, what="sweep file"), default_name=Path(path).stem)

"""What several command groups share: config arguments, run-directory arguments, the device and
thread set-up done before anything is written, and the metrics table."""

from __future__ import annotations

import argparse
from pathlib import Path

from cotmix.api import ARMS
from cotmix.config import Config
from cotmix.errors import CotmixError
from cotmix.presets import PRESETS


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help=f"named configuration: {', '.join(sorted(PRESETS))}")
    p.add_argument("--config", help="YAML or JSON file of config values (nested by section)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides, e.g. task.p_cot=0.25")


def add_arm_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arm", default="final", choices=list(ARMS),
                   help="with a run directory, which model: final (RL if any, else NTP), rl, ntp-only (the "
                        "baseline arm of cotmix run), pretrained (the last NTP checkpoint before RL)")


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="run directory (must be empty or new unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def saved_config(run_dir: Path) -> Config:
    """The config.json of a run, validated; one CotmixError line when it is missing or corrupt."""
    from cotmix.api import _saved_config

    return _saved_config(run_dir)


def resumed_config(out: Path, args) -> Config:
    """With --resume the run's own config.json is authoritative; extra overrides are refused."""
    if not (out / "config.json").is_file():
        raise CotmixError(f"--resume: {out} holds no run (no config.json); drop --resume to start one")
    if args.overrides or args.preset or args.config:
        raise CotmixError("--resume continues the run exactly as configured; drop --preset/--config/key=value")
    return saved_config(out)


def print_metrics(metrics: dict, header: str) -> None:
    """One metric a line; an interval NAME_ci95 is shown beside NAME, not on a line of its own."""
    print(header)
    shown = {k: v for k, v in metrics.items() if not k.endswith("_ci95") and not isinstance(v, dict)}
    width = max(24, *(len(key) for key in shown))
    for key, value in shown.items():
        text = "-" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        interval = metrics.get(f"{key}_ci95")
        if interval:
            text += f"  [{interval[0]:.4f}, {interval[1]:.4f}]"
        print(f"  {key:<{width}} {text}")
    validation = metrics.get("validation")
    if validation:  # the decisions' inputs: a few lines, not a dict
        print(f"  validation (n = {validation['n_prompts']}, read by stop rules and the preflight): greedy_accuracy "
              f"{validation['greedy_accuracy']:.4f}, chain_exact_accuracy {validation['chain_exact_accuracy']:.4f}")

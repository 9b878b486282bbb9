"""cotmix from Python: the functions the `cotmix` commands are made of.

    import cotmix

    cfg = cotmix.load_config("tiny", {"task.p_cot": 0.25})
    summary = cotmix.run(cfg, "runs/tiny")                  # NTP, then RL, beside the NTP-only arm
    summary["posttrain"]["eval"]["greedy_accuracy"]
    cotmix.evaluate("runs/tiny")                            # the final model on the test prompts
    table = cotmix.load_results("runs")                     # every run under runs/, one row each (pandas)

Each writes what its command writes (a run directory with config.json, metrics.jsonl,
summary.json and checkpoints) and raises CotmixError, with the message the command would print,
for bad input. A run directory given to `posttrain` or `evaluate` means its final model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from cotmix.config import Config
from cotmix.config import load_config as _load_config
from cotmix.errors import CotmixError

FINAL_MODEL = ("posttrain", "pretrain")  # what a run directory stands for: its RL model, else its NTP one
# `--arm` of eval/sample/export: which model of a run directory (checkpoints/PHASE/, latest step)
ARMS = {"final": FINAL_MODEL, "rl": ("posttrain",), "ntp-only": ("baseline",), "pretrained": ("pretrain",)}


def load_config(preset: str | None = None, overrides: Mapping[str, object] | Iterable[str] | None = None,
                config_file: str | Path | None = None) -> Config:
    """Defaults, then a preset (demo, quick, tiny), then a YAML/JSON file, then overrides, given as
    {"task.d": 12} or ["task.d=12"]; validated (ConfigError names a bad key or value)."""
    return _load_config(preset, config_file, _as_overrides(overrides))


def _as_overrides(overrides) -> list[str]:
    """{"task.d": 12} or ["task.d=12"] (or None) as the key=value strings the config reads."""
    if isinstance(overrides, Mapping):
        return [f"{key}={_text(value)}" for key, value in overrides.items()]
    return list(overrides or [])


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def prepare(cfg: Config):
    """Torch threads, the device, and the memory estimate, checked before anything is written;
    returns the run's task (cotmix.tasks.Task, with its held-out partition), built once here."""
    import torch

    from cotmix.model.device import resolve_device
    from cotmix.model.memory import check_memory
    from cotmix.tasks import make_task

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    task = make_task(cfg.task)
    if resolve_device(cfg.device).type == "cpu":
        check_memory(cfg, task.prompt_len, task.long_response_len, task.vocab_size)
    return task


def pretrain(cfg: Config, out: str | Path, *, resume: bool = False, progress: bool = True) -> dict:
    """NTP pre-training into run directory `out` (new or empty; `resume` continues a killed one).
    Returns the phase's summary entry: steps, samples, wall_s, eval (the test metrics, with the
    validation ones under `validation`) and heldout."""
    from cotmix.loops.pretrain import train_ntp
    from cotmix.rundir import prepare_run_dir, release_run_dir

    out = Path(out)
    task = prepare(cfg)
    prepare_run_dir(out, cfg.to_dict(), resume)
    try:
        return train_ntp(cfg, out, task=task, resume=resume, progress=progress)
    finally:
        release_run_dir(out)


def posttrain(start, out: str | Path, overrides: Mapping[str, object] | Iterable[str] = (), *,
              resume: bool = False, progress: bool = True) -> dict:
    """RL from `start` (a checkpoint directory, a run directory: its last pre-training checkpoint,
    or a loaded cotmix.train.checkpoint.Checkpoint) into `out`, with the checkpoint's config and
    `overrides` (posttrain.*, eval.*, task.p_cot, seed, ...). Returns the phase's summary entry."""
    from cotmix.loops.posttrain import posttrain as run_posttrain
    from cotmix.loops.posttrain import posttrain_config
    from cotmix.rundir import prepare_run_dir, release_run_dir
    from cotmix.train.checkpoint import Checkpoint, load_checkpoint, resolve_checkpoint

    checkpoint = start if isinstance(start, Checkpoint) else load_checkpoint(resolve_checkpoint(start))
    out = Path(out)
    cfg = _saved_config(out) if resume and (out / "config.json").is_file() else \
        posttrain_config(checkpoint.config, _as_overrides(overrides))
    task = prepare(cfg)
    prepare_run_dir(out, cfg.to_dict(), resume and (out / "config.json").is_file())
    try:
        return run_posttrain(cfg, out, checkpoint, task=task, resume=resume, progress=progress)
    finally:
        release_run_dir(out)


def run(cfg: Config, out: str | Path, *, resume: bool = False, progress: bool = True) -> dict:
    """The headline experiment (`cotmix run`): pre-training, RL, and the NTP-only arm on as many
    samples, in one run directory. Returns the run's summary (one entry per phase, and `heldout`)."""
    from cotmix.experiments.pipeline import run_experiment
    from cotmix.rundir import prepare_run_dir, release_run_dir

    out = Path(out)
    task = prepare(cfg)
    prepare_run_dir(out, cfg.to_dict(), resume)
    try:
        return run_experiment(cfg, out, task=task, resume=resume, progress=progress)
    finally:
        release_run_dir(out)


def evaluate(checkpoint: str | Path, overrides: Mapping[str, object] | Iterable[str] = (), *,
             pass_k: bool = False, arm: str = "final", split: str = "test") -> dict:
    """Every evaluation metric of a checkpoint (a run directory: the model `arm` names, see ARMS)
    on its config's test prompts (split="validation": the validation prompts, what a decision may
    read), eval.* overridable (e.g. {"eval.n_prompts": 4096}); pass@k on request."""
    from cotmix.eval.evaluate import evaluate as run_evaluate
    from cotmix.loops.posttrain import posttrain_config
    from cotmix.model.device import place
    from cotmix.model.transformer import build_model
    from cotmix.train.checkpoint import load_checkpoint, resolve_checkpoint

    ckpt = load_checkpoint(resolve_checkpoint(checkpoint, arm_phases(arm)))
    cfg = posttrain_config(ckpt.config, _as_overrides(overrides))
    task = prepare(cfg)
    model = place(build_model(cfg.model, task), cfg)
    ckpt.load_model(model)
    return run_evaluate(model, task, cfg.eval, with_pass_k=pass_k, split=split, run_seed=cfg.seed)


def arm_phases(arm: str) -> tuple[str, ...]:
    """The checkpoint phases a run directory's `arm` reads, first found wins (one line on a miss)."""
    if arm not in ARMS:
        raise CotmixError(f"arm {arm!r}: allowed: {', '.join(ARMS)}")
    return ARMS[arm]


def load_results(root: str | Path, where: str | None = None, columns: list[str] | None = None):
    """The results table of every run under `root` (a run, a sweep, a folder of sweeps, published
    tables included) as a pandas DataFrame: config keys and final metrics, one row per run
    (`columns` default: all). `where` is an SQL condition, as `cotmix results --where`."""
    import pandas as pd

    from cotmix.experiments.results import query

    names, rows = query(Path(root), where, columns or ["all"])
    return pd.DataFrame(rows, columns=names)


def _saved_config(run_dir: Path) -> Config:
    """The config.json of a run, validated; one CotmixError line when it is missing or corrupt."""
    from cotmix.config import config_from_dict
    from cotmix.errors import CotmixError
    from cotmix.rundir import read_config

    try:
        return config_from_dict(read_config(run_dir))
    except CotmixError as exc:
        raise CotmixError(f"{Path(run_dir) / 'config.json'}: {str(exc).splitlines()[0]}") from None

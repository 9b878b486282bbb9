"""Checkpoints: safetensors for every tensor, JSON for everything else; never pickle.

A checkpoint is a directory written atomically (into `NAME.tmp`, then renamed):

    model.safetensors     model weights
    trainer.safetensors   optimizer moments, random-generator states (for exact resume) and the
                          held-out counter's flags (cotmix.tasks.heldout)
    state.json            the run's config, the step, samples seen, wall time, optimizer hyper-parameters

A run keeps them under `RUN/checkpoints/PHASE/step_000123/`.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cotmix.config import Config, config_from_dict
from cotmix.errors import CotmixError, UnimportableCode
from cotmix.files import read_json_file

FILES = ("model.safetensors", "trainer.safetensors", "state.json")


def save_checkpoint(path: Path, model: torch.nn.Module, cfg: Config, state: dict,
                    optimizer: torch.optim.Optimizer | None = None,
                    generators: dict[str, torch.Generator] | None = None,
                    extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # a killed save's leftover: only a save makes NAME.tmp
    tmp.mkdir(parents=True)
    try:
        _write_checkpoint(tmp, model, cfg, state, optimizer, generators, extra_tensors)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing half-written stays behind (a full disk, an interrupt)
    return path


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """safetensors' save_file, whose I/O failures (a full disk) surface as OSError like any other write."""
    try:
        save_file(tensors, path)
    except SafetensorError as exc:
        code = re.search(r"code: (\d+)", str(exc))
        number = int(code.group(1)) if code else errno.EIO
        raise OSError(number, os.strerror(number), str(path)) from None


def _write_checkpoint(tmp: Path, model, cfg, state, optimizer, generators, extra_tensors) -> None:
    # CPU tensors, so that a checkpoint written on a GPU loads anywhere (load_state_dict copies
    # them onto the model's device; the optimizer moves its moments to its parameters').
    save_tensors({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    tensors, groups = {}, []
    if optimizer is not None:
        opt_state = optimizer.state_dict()
        for index, slots in opt_state["state"].items():
            for name, value in slots.items():
                tensors[f"optimizer.{index}.{name}"] = torch.as_tensor(value).cpu().contiguous()
        groups = opt_state["param_groups"]
    for name, gen in (generators or {}).items():
        tensors[f"rng.{name}"] = gen.get_state()
    tensors.update({k: v.cpu().contiguous() for k, v in (extra_tensors or {}).items()})
    save_tensors(tensors, tmp / "trainer.safetensors")
    meta = {"config": cfg.to_dict(), "state": state, "optimizer_param_groups": groups}
    (tmp / "state.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


@dataclass
class Checkpoint:
    path: Path
    config: Config
    state: dict
    model_tensors: dict
    trainer_tensors: dict
    optimizer_param_groups: list

    def load_model(self, model: torch.nn.Module) -> None:
        expected = model.state_dict()
        wrong = [(k, t.dtype, expected[k].dtype) for k, t in self.model_tensors.items()
                 if k in expected and t.dtype != expected[k].dtype]
        if wrong:  # load_state_dict would cast silently (int32 weights then score 0.0)
            name, found, want = wrong[0]
            raise CotmixError(f"checkpoint {self.path}: tensor {name} is {str(found).removeprefix('torch.')}, the model "
                              f"keeps {str(want).removeprefix('torch.')} ({len(wrong)} tensor(s) differ); not a checkpoint "
                              "cotmix wrote")
        try:
            model.load_state_dict(self.model_tensors, strict=True)
        except RuntimeError as exc:
            raise CotmixError(f"checkpoint {self.path}: weights do not fit the model ({str(exc).splitlines()[0]})") from None

    def load_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        state: dict[int, dict] = {}
        for key, value in self.trainer_tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": self.optimizer_param_groups})

    def load_generator(self, name: str, generator: torch.Generator) -> None:
        key = f"rng.{name}"
        if key not in self.trainer_tensors:
            raise CotmixError(f"checkpoint {self.path}: has no state for random generator '{name}'")
        generator.set_state(self.trainer_tensors[key])


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint directory; a missing or corrupt one raises CotmixError."""
    path = Path(path)
    if not path.is_dir():
        raise CotmixError(f"checkpoint {path}: no such directory (expected one holding {', '.join(FILES)})")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise CotmixError(f"checkpoint {path}: missing {', '.join(missing)}")
    try:
        meta = read_json_file(path / "state.json")
        try:
            config = config_from_dict(meta["config"])
        except UnimportableCode as exc:  # a plugin not installed here: the file is fine
            raise CotmixError(f"checkpoint {path}: its config names code that does not load here ({exc}); "
                              "put that module on PYTHONPATH or install its package") from None
        except CotmixError as exc:
            raise CotmixError(f"checkpoint {path}: corrupt config ({exc})") from None
        model_tensors = load_file(path / "model.safetensors")
        trainer_tensors = load_file(path / "trainer.safetensors")
        broken = [name for name, t in model_tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
        if broken:
            raise CotmixError(f"checkpoint {path}: weights hold NaN or inf ({broken[0]}); a diverged or tampered model")
        return Checkpoint(path, config, meta["state"], model_tensors, trainer_tensors,
                          meta.get("optimizer_param_groups", []))
    except (json.JSONDecodeError, KeyError, TypeError, SafetensorError, OSError, ValueError) as exc:
        raise CotmixError(f"checkpoint {path}: corrupt ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def checkpoint_dir(run_dir: Path, phase: str, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / phase / f"step_{step:06d}"


def list_checkpoints(run_dir: Path, phase: str) -> list[Path]:
    """Finished checkpoints of a phase, oldest first (unfinished `.tmp` ones are ignored)."""
    folder = Path(run_dir) / "checkpoints" / phase
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step_") and not p.name.endswith(".tmp"))


def resolve_checkpoint(path: str | Path, phase: str | tuple[str, ...] = "pretrain") -> Path:
    """A checkpoint directory, or a run directory: the latest checkpoint of the first of the
    phases it has (e.g. ("posttrain", "pretrain") picks the RL model when there is one)."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    phases = (phase,) if isinstance(phase, str) else phase
    for name in phases:
        found = list_checkpoints(path, name)
        if found:
            return found[-1]
    if path.is_dir():
        raise CotmixError(f"{path}: neither a checkpoint (no state.json) nor a run with {' or '.join(phases)} checkpoints")
    raise CotmixError(f"checkpoint {path}: no such file or directory")

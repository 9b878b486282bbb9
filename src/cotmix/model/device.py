"""Where a run computes, and in which arithmetic: chosen once per run from two config keys.

    device=auto      the first CUDA GPU when torch sees one, else the CPU
    precision=auto   bf16 autocast on CUDA, fp32 on the CPU

fp32 is the CPU default because at this project's widths (64-256) the casts cost more than
bf16 matmuls save there (`make bench`, "bf16 autocast" row: 0.5-0.6x of fp32 on 2 cores).

Everything random is drawn on the CPU from seeded CPU generators (the data, the initial
weights, the sampler's uniforms), so a seed names the same data and the same initial model
on every device. Checkpoints hold CPU tensors, so a run started on a GPU can be resumed or
evaluated on a laptop.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from cotmix import __version__
from cotmix.config import DEVICE_PATTERN, Config
from cotmix.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """The torch device a config's `device` names; ConfigError if it is not usable here."""
    if not DEVICE_PATTERN.fullmatch(name):
        raise ConfigError(f"device={name!r}: allowed values are auto, cpu, cuda, cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name}: torch sees no CUDA GPU on this machine; use device=cpu or device=auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device={name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                              f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """bf16 when autocast should run, None for plain fp32."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return torch.bfloat16 if precision == "bf16" else None


def place(model: torch.nn.Module, cfg: Config) -> torch.nn.Module:
    """Move a freshly built (CPU-initialised) model to the run's device and set its autocast."""
    device = resolve_device(cfg.device)
    model.to(device)
    model.autocast_dtype = autocast_dtype(device, cfg.precision)
    return model


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def describe_machine(device: torch.device) -> dict:
    """What a phase ran on, for its summary entry. Same seed, same numbers holds on one machine, not
    across CPUs: torch picks vectorised kernels by instruction set (`kernels`) and MKL its
    matrix-multiply code by CPU model (`cpu`, or as pinned by `mkl_cbwr`), and another pick changes
    the floats, which training amplifies (docs/reference.md has the measurements)."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {"device": name, "kernels": torch.backends.cpu.get_cpu_capability(), "cpu": cpu_model(),
            "mkl_cbwr": os.environ.get("MKL_CBWR", ""), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "cotmix": __version__}


def cpu_model() -> str:
    """The CPU's name with its family and model numbers (a VM's name is often generic), from
    /proc/cpuinfo where there is one, else what the platform says."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name") or platform.processor() or platform.machine()
    return f"{name} (family {fields['cpu family']}, model {fields['model']})" if "cpu family" in fields else name


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a wall-clock timing covers it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)

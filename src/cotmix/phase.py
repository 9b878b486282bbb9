"""Bookkeeping shared by every training phase (pretrain, posttrain, baseline).

A run directory holds:

    config.json      the full config of the run
    metrics.jsonl    one JSON object per log or evaluation: phase, step, samples_seen, wall_s, metrics
    summary.json     one entry per finished phase: steps, samples, wall_s, eval, heldout; and a
                     top-level `heldout` block for the whole run
    checkpoints/PHASE/step_000123/

`Phase` owns a phase's counters, its metrics records, its checkpoints and its summary
entry, so that the training loops only say *what* to do each step. `resume()` restores
the latest checkpoint (weights, optimizer, random generators, counters) and drops the
metrics records written after it, so a killed run continues to the same result.
Every training batch passes through `observe`, which counts how close training came to the
held-out inputs (cotmix.tasks.heldout); the count goes on from the phase's starting checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from cotmix.checkpoint import (Checkpoint, checkpoint_dir, list_checkpoints, load_checkpoint, save_checkpoint,
                               write_json_atomic)
from cotmix.config import Config
from cotmix.evaluate import evaluate
from cotmix.tasks.heldout import HeldoutCounter


def read_metrics(run_dir: Path, phase: str | None = None) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if phase is None or r.get("phase") == phase]


def read_summary(run_dir: Path) -> dict:
    path = Path(run_dir) / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def update_summary(run_dir: Path, phase: str, entry: dict) -> dict:
    summary = read_summary(run_dir)
    summary[phase] = entry
    summary["heldout"] = run_heldout(summary)
    write_json_atomic(Path(run_dir) / "summary.json", summary)
    return summary


def run_heldout(summary: dict) -> dict:
    """The run's `heldout` block from its phases' blocks. Each phase counts its whole lineage (RL and
    the NTP-only arm go on from pre-training's count), so the run's overlap is the union of the
    evaluation prompts any phase met, and its other counts the largest of any phase."""
    blocks = [entry["heldout"] for name, entry in summary.items() if name != "heldout" and "heldout" in entry]
    met = set().union(*(b["overlap_prompts"] for b in blocks))
    seen = [b["train_inputs_seen_fraction"] for b in blocks if b["train_inputs_seen_fraction"] is not None]
    return {"eval_prompts": blocks[-1]["eval_prompts"], "reserved_fraction": blocks[-1]["reserved_fraction"],
            "overlap_count": len(met), "reserved_hits": max(b["reserved_hits"] for b in blocks),
            "train_inputs_seen_fraction": max(seen) if seen else None,
            "eval_prompts_tracked_from_start": all(b["eval_prompts_tracked_from_start"] for b in blocks)}


class Phase:
    def __init__(self, run_dir: Path, name: str, cfg: Config, task, model, optimizer,
                 generators: dict[str, torch.Generator], start: Checkpoint | None = None):
        """start: the checkpoint this phase continues from (none for pre-training)."""
        self.run_dir, self.name, self.cfg, self.task = Path(run_dir), name, cfg, task
        self.model, self.optimizer, self.generators = model, optimizer, generators
        # samples of earlier phases, for curves on one axis
        self.samples_offset = start.state["samples_offset"] + start.state["samples"] if start else 0
        self.step, self.samples, self.wall_before = 0, 0, 0.0
        self.started = time.perf_counter()
        self.last_eval: dict = {}
        self.stop_reason: str | None = None  # set by a loop that ends before its step budget
        self.heldout = HeldoutCounter(task, task.heldout_prompts(cfg.eval.n_prompts, cfg.eval.seed))
        if start is not None:
            self.heldout.restore(start.trainer_tensors, start.state.get("heldout", {}))

    # --- counters ----------------------------------------------------------------------
    @property
    def wall_s(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    @property
    def samples_seen(self) -> int:
        return self.samples_offset + self.samples

    def due(self, interval: int, last_step: int) -> bool:
        return self.step % interval == 0 or self.step == last_step

    def observe(self, prompts: torch.Tensor) -> None:
        """Count one training batch's prompts (batch, prompt_len) against the held-out inputs."""
        self.heldout.observe(prompts)

    # --- records -----------------------------------------------------------------------
    def log(self, metrics: dict) -> dict:
        record = {"phase": self.name, "step": self.step, "samples_seen": self.samples_seen,
                  "wall_s": round(self.wall_s, 3), **metrics}
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        return record

    def evaluate(self, with_pass_k: bool = False) -> dict:
        self.last_eval = evaluate(self.model, self.task, self.cfg.eval, with_pass_k=with_pass_k)
        self.log({"eval": True, **self.last_eval})
        return self.last_eval

    # --- checkpoints -------------------------------------------------------------------
    def save(self) -> Path:
        state = {"phase": self.name, "step": self.step, "samples": self.samples,
                 "samples_offset": self.samples_offset, "wall_s": self.wall_s,
                 "last_eval": self.last_eval, "stop_reason": self.stop_reason, "heldout": self.heldout.counts()}
        path = checkpoint_dir(self.run_dir, self.name, self.step)
        return save_checkpoint(path, self.model, self.cfg, state, self.optimizer, self.generators,
                               extra_tensors=self.heldout.tensors())

    def resume(self) -> bool:
        """Restore the latest checkpoint of this phase, if any; return whether one was found."""
        found = list_checkpoints(self.run_dir, self.name)
        if not found:  # killed before its first checkpoint: start over, forgetting what it logged
            self._drop_records_after(-1)
            return False
        ckpt = load_checkpoint(found[-1])
        ckpt.load_model(self.model)
        if self.optimizer is not None:
            ckpt.load_optimizer(self.optimizer)
        for name, gen in self.generators.items():
            ckpt.load_generator(name, gen)
        s = ckpt.state
        self.step, self.samples, self.wall_before = s["step"], s["samples"], s["wall_s"]
        self.samples_offset, self.last_eval = s["samples_offset"], s.get("last_eval", {})
        self.stop_reason = s.get("stop_reason")
        self.heldout.restore(ckpt.trainer_tensors, s.get("heldout", {}))
        self.started = time.perf_counter()
        self._drop_records_after(self.step)
        return True

    def _drop_records_after(self, step: int) -> None:
        path = self.run_dir / "metrics.jsonl"
        if not path.is_file():
            return
        keep = [r for r in read_metrics(self.run_dir) if r.get("phase") != self.name or r["step"] <= step]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        tmp.replace(path)

    def finish(self, **extra) -> dict:
        """Write this phase's summary entry (after the final evaluation and checkpoint)."""
        entry = {"steps": self.step, "samples": self.samples, "samples_seen": self.samples_seen,
                 "wall_s": round(self.wall_s, 3), "eval": self.last_eval, "heldout": self.heldout.report(), **extra}
        update_summary(self.run_dir, self.name, entry)
        return entry

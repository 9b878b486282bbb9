"""Bookkeeping shared by every training phase (pretrain, posttrain, baseline).

A phase writes into its run directory (cotmix.rundir): records to metrics.jsonl, its entry
(steps, samples, wall_s, eval, heldout) and the run's `heldout` block to summary.json, and
checkpoints to checkpoints/PHASE/step_000123/.

`Phase` owns a phase's counters, its metrics records, its checkpoints and its summary
entry, so that the training loops only say *what* to do each step. `resume()` restores
the latest checkpoint (weights, optimizer, random generators, counters) and drops the
metrics records written after it, so a killed run continues to the same result.
Every training batch passes through `observe`, which counts how close training came to the
held-out inputs (cotmix.tasks.heldout); the count goes on from the phase's starting checkpoint.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from cotmix.config import Config
from cotmix.errors import CotmixError, warn
from cotmix.eval.evaluate import STOP_RULES, evaluate
from cotmix.model.device import describe_machine, model_device
from cotmix.rundir import append_metrics, read_metrics, read_summary, rewrite_metrics, write_summary
from cotmix.tasks.heldout import HeldoutCounter
from cotmix.train.checkpoint import Checkpoint, checkpoint_dir, list_checkpoints, load_checkpoint, save_checkpoint
from cotmix.train.compute import ComputeCounter
from cotmix.train.tracking import Trackers, tracker_names


def update_summary(run_dir: Path, phase: str, entry: dict) -> dict:
    summary = read_summary(run_dir)
    summary[phase] = entry
    summary["heldout"] = run_heldout(summary)
    write_summary(run_dir, summary)
    return summary


def run_heldout(summary: dict) -> dict:
    """The run's `heldout` block from its phases' blocks. Each phase counts its whole lineage (RL and
    the NTP-only arm go on from pre-training's count), so the run's overlap is the union of the
    evaluation prompts any phase met, and its other counts the largest of any phase."""
    blocks = [entry["heldout"] for name, entry in summary.items() if name != "heldout" and "heldout" in entry]
    met = set().union(*(b["overlap_prompts"] for b in blocks))
    seen = [b["train_inputs_seen_fraction"] for b in blocks if b["train_inputs_seen_fraction"] is not None]
    validation = [b.get("validation_overlap_count") for b in blocks if b.get("validation_overlap_count") is not None]
    return {"eval_prompts": blocks[-1]["eval_prompts"], "reserved_fraction": blocks[-1]["reserved_fraction"],
            "overlap_count": len(met), "reserved_hits": max(b["reserved_hits"] for b in blocks),
            "train_inputs_seen_fraction": max(seen) if seen else None,
            "eval_prompts_tracked_from_start": all(b["eval_prompts_tracked_from_start"] for b in blocks),
            "validation_prompts": blocks[-1].get("validation_prompts"),
            "validation_fraction": blocks[-1].get("validation_fraction"),
            "validation_overlap_count": max(validation) if validation else None,
            "decisions_read": blocks[-1].get("decisions_read"),
            "decision_test_overlap": max(b.get("decision_test_overlap", 0) for b in blocks)}


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
        self.warnings: list[str] = []  # printed, and kept in summary.json (a sweep's report shows them)
        self.heldout = HeldoutCounter(task, task.heldout_prompts(cfg.eval.n_prompts, cfg.eval.seed),
                                      task.heldout_prompts(cfg.eval.validation_prompts, cfg.eval.seed, "validation"))
        self.resumed_at: int | None = None  # samples seen at the checkpoint resume() restored
        self.trackers: Trackers | None = None  # opened at the first record, once resume() has run
        self.compute = ComputeCounter()  # the training's FLOPs (cotmix.train.compute); posttrain watches its ref model too
        self.compute.watch(model)
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
        append_metrics(self.run_dir, record)
        if self.trackers is None:
            self.trackers = Trackers(tracker_names(self.cfg.logger), self.run_dir, self.name, self.cfg.to_dict(),
                                     resume_at=self.resumed_at)
        self.trackers.log(record)
        return record

    def evaluate(self, with_pass_k: bool = False) -> dict:
        """The test metrics (reported), with the validation metrics (for decisions) under `validation`."""
        with self.compute.paused():
            test = evaluate(self.model, self.task, self.cfg.eval, with_pass_k=with_pass_k, run_seed=self.cfg.seed)
            validation = evaluate(self.model, self.task, self.cfg.eval, split="validation", run_seed=self.cfg.seed)
        self.last_eval = {**test, "validation": validation}
        self.log({"eval": True, **self.last_eval})
        return self.last_eval

    def decision_metrics(self, last_eval: dict | None = None) -> dict:
        """What a decision (a stop rule, the RL preflight) may read: the validation metrics of the
        last evaluation (or of `last_eval`), never the test ones; the prompts behind them are counted
        (heldout.decision_test_overlap stays 0 unless the partition has no validation side)."""
        self.heldout.decided(self.heldout.validation_keys)
        return (self.last_eval if last_eval is None else last_eval).get("validation", {})

    # --- checkpoints -------------------------------------------------------------------
    def save(self) -> Path:
        state = {"phase": self.name, "step": self.step, "samples": self.samples,
                 "samples_offset": self.samples_offset, "wall_s": self.wall_s,
                 "last_eval": self.last_eval, "stop_reason": self.stop_reason, "heldout": self.heldout.counts(),
                 "compute": self.compute.state()}
        path = checkpoint_dir(self.run_dir, self.name, self.step)
        return save_checkpoint(path, self.model, self.cfg, state, self.optimizer, self.generators,
                               extra_tensors=self.heldout.tensors())

    def resume(self) -> bool:
        """Restore the latest readable checkpoint of this phase, if any; return whether one was found.
        A corrupt newest checkpoint (a crash mid-write can leave one only outside the atomic rename,
        e.g. a disk error) is passed over for the one before it, with a warning."""
        ckpt = None
        for path in reversed(list_checkpoints(self.run_dir, self.name)):
            try:
                ckpt = load_checkpoint(path)
                break
            except CotmixError as exc:
                warn(f"{exc}; resuming from the checkpoint before it")
        if ckpt is None:  # killed before its first checkpoint: start over, forgetting what it logged
            self._drop_records_after(-1)
            self.resumed_at = self.samples_offset - 1
            return False
        ckpt.load_model(self.model)
        if self.optimizer is not None:
            ckpt.load_optimizer(self.optimizer)
        for name, gen in self.generators.items():
            ckpt.load_generator(name, gen)
        s = ckpt.state
        self.step, self.samples, self.wall_before = s["step"], s["samples"], s["wall_s"]
        self.samples_offset, self.last_eval = s["samples_offset"], s.get("last_eval", {})
        self.stop_reason = s.get("stop_reason")
        self.compute.restore(s.get("compute", {}))
        self.resumed_at = self.samples_seen
        self.heldout.restore(ckpt.trainer_tensors, s.get("heldout", {}))
        self.started = time.perf_counter()
        self._drop_records_after(self.step)
        return True

    def _drop_records_after(self, step: int) -> None:
        if (self.run_dir / "metrics.jsonl").is_file():
            rewrite_metrics(self.run_dir, [r for r in read_metrics(self.run_dir)
                                           if r.get("phase") != self.name or r["step"] <= step])

    def say_stopped(self, cap: int, setting: str) -> None:
        """One line when a stop rule ended the phase before its cap, so a bar left at 400/800 is
        not read as a crash: which rule, at which step, on which validation value."""
        if self.stop_reason is None or self.stop_reason == "steps":
            return
        key, bar = STOP_RULES[self.stop_reason]
        value = self.decision_metrics().get(key, float("nan"))
        print(f"{self.name}: stopped at step {self.step} of {cap} by {setting}={self.stop_reason} "
              f"(validation {key} {value:.3f} >= {bar}), as configured", file=sys.stderr)

    def warn(self, message: str) -> None:
        """`cotmix: warning: ...` on stderr, and the same line in this phase's summary entry."""
        warn(f"{self.name}: {message}")
        self.warnings.append(message)

    def finish(self, **extra) -> dict:
        """Write this phase's summary entry (after the final evaluation and checkpoint)."""
        if self.trackers is not None:
            self.trackers.close()
        self.compute.close()
        entry = {"steps": self.step, "samples": self.samples, "samples_seen": self.samples_seen,
                 "wall_s": round(self.wall_s, 3), "eval": self.last_eval, "heldout": self.heldout.report(),
                 "machine": describe_machine(model_device(self.model)), "warnings": self.warnings,
                 "compute": self.compute.report(), **extra}
        update_summary(self.run_dir, self.name, entry)
        return entry

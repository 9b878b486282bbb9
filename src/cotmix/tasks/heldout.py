"""The held-out split: a seeded partition of a task's input space, and a counter of leaks.

Every input (the d bits of parity, the pair of factors of multiplication) has a 64-bit *key*: its
index in the input space where that fits in 63 bits, else a hash. A seeded mix of the key decides
its side. Training samplers only ever emit inputs of the training side; evaluation draws only from
the reserved side, so an evaluation prompt is never a training input, at d = 6 as at d = 50.

- Small spaces (at most ENUMERABLE inputs) reserve exactly round(fraction * size) inputs, the ones
  with the smallest mixed keys, so even d = 2 keeps one input on each side. Evaluation takes
  distinct reserved inputs in a seeded order (all of them when there are fewer than asked for).
- Large spaces reserve every input whose mixed key falls below `fraction` of the 64-bit range, and
  evaluation draws distinct reserved inputs by rejection.

`HeldoutCounter` watches every training batch of a phase and counts what the partition promises
never happens: evaluation prompts met in training (`overlap_count`), training inputs on the reserved
side (`reserved_hits`), and, in small spaces, the share of training inputs seen at least once.
"""

from __future__ import annotations

import numpy as np
import torch

ENUMERABLE = 2**22  # input spaces up to this size are listed whole (4 M inputs: ~0.3 s, 4 MB of flags)

_GOLDEN, _MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: uint64 -> uint64, a bijection that scrambles every bit. Not linear over
    GF(2), so the reserved side carries no information about the parity of the input."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def hash_rows(rows: torch.Tensor, bits_per_value: int) -> torch.Tensor:
    """(n, width) small non-negative ints -> (n,) int64 hashes (for inputs too wide for an exact key)."""
    values = rows.numpy().astype(np.uint64)
    per_word = 64 // bits_per_value
    h = np.zeros(len(values), dtype=np.uint64)
    for start in range(0, values.shape[1], per_word):
        word = np.zeros(len(values), dtype=np.uint64)
        for j, column in enumerate(values[:, start : start + per_word].T):
            word |= column << np.uint64(j * bits_per_value)
        h = mix64(h ^ word)
    return torch.from_numpy(h.view(np.int64).copy())


class Partition:
    """Which inputs of `task` are reserved for evaluation. keys: (n,) int64 from task.input_keys."""

    def __init__(self, task, fraction: float, seed: int):
        self.task, self.fraction, self.seed = task, fraction, seed
        self.size = task.input_space_size
        self.salt = mix64(np.array([seed], dtype=np.uint64))[0]
        self._table = None  # (size,) bool, for small spaces: built on first use
        self._eval = {}  # (n, seed) -> evaluation prompts: every phase and every evaluation asks again

    @property
    def enumerable(self) -> bool:
        return self.size <= ENUMERABLE

    def _scores(self, keys: np.ndarray) -> np.ndarray:
        return mix64(keys.view(np.uint64) ^ self.salt)

    def table(self) -> torch.Tensor:
        """(size,) bool: reserved or not, for every input of a small space."""
        if self._table is None:
            scores = self._scores(np.arange(self.size, dtype=np.int64))
            n_reserved = min(self.size - 1, max(1, round(self.fraction * self.size)))
            order = np.argsort(scores, kind="stable")
            table = np.zeros(self.size, dtype=bool)
            table[order[:n_reserved]] = True
            self._table = torch.from_numpy(table)
        return self._table

    def reserved(self, keys: torch.Tensor) -> torch.Tensor:
        """(n,) bool for (n,) int64 keys."""
        if self.enumerable:
            return self.table()[keys]
        unit = (self._scores(keys.numpy()) >> np.uint64(11)).astype(np.float64) / 2.0**53
        return torch.from_numpy(unit < self.fraction)

    @property
    def reserved_count(self) -> int | None:
        return int(self.table().sum()) if self.enumerable else None

    def eval_prompts(self, n: int, seed: int) -> torch.Tensor:
        """(m, prompt_len) prompts of m = min(n, reserved inputs) distinct reserved inputs, in a
        seeded order; the first n of a longer list are the same, so a larger n only adds prompts."""
        if (n, seed) not in self._eval:
            self._eval[(n, seed)] = self._draw_eval_prompts(n, seed)
        return self._eval[(n, seed)].clone()

    def _draw_eval_prompts(self, n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        if self.enumerable:
            pool = self.table().nonzero().squeeze(1)
            return self.task.prompts_at(pool[torch.randperm(len(pool), generator=gen)[:n]])
        rows, seen = [], set()
        while len(rows) < n:
            prompts = self.task.draw(max(1024, 2 * n), gen).prompts
            keys = self.task.input_keys(prompts)
            for row, key, reserved in zip(prompts, keys.tolist(), self.reserved(keys).tolist()):
                if reserved and key not in seen and len(rows) < n:
                    seen.add(key)
                    rows.append(row)
        return torch.stack(rows)


class HeldoutCounter:
    """Counts, batch by batch, how far training came to the held-out inputs (it never should).

    eval_prompts: (n_eval, prompt_len), the evaluation prompts this phase reports on."""

    def __init__(self, task, eval_prompts: torch.Tensor):
        self.task, self.partition = task, task.partition
        self.eval_keys = task.input_keys(eval_prompts)
        self.seen_eval = torch.zeros(len(self.eval_keys), dtype=torch.bool)
        self.reserved_hits = 0
        self.train_inputs = 0
        self.tracked_from_start = True
        self.seen_inputs = torch.zeros(self.partition.size, dtype=torch.bool) if self.partition.enumerable else None

    def observe(self, prompts: torch.Tensor) -> None:
        """Record one training batch's prompts (n, prompt_len)."""
        keys = self.task.input_keys(prompts.cpu())
        self.seen_eval |= torch.isin(self.eval_keys, keys)
        self.reserved_hits += int(self.partition.reserved(keys).sum())
        self.train_inputs += len(keys)
        if self.seen_inputs is not None:
            self.seen_inputs[keys] = True

    # --- checkpointing: tensors go to trainer.safetensors, counts to state.json -----------------
    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"heldout.eval_keys": self.eval_keys, "heldout.seen_eval": self.seen_eval}
        if self.seen_inputs is not None:
            out["heldout.seen_inputs"] = self.seen_inputs
        return out

    def counts(self) -> dict:
        return {"reserved_hits": self.reserved_hits, "train_inputs": self.train_inputs,
                "eval_prompts_tracked_from_start": self.tracked_from_start}

    def restore(self, tensors: dict, counts: dict) -> None:
        """Continue the count of a checkpoint (of this phase, or the one this phase starts from).
        When that counted other evaluation prompts (eval.* changed), the prompts it met are known
        only in small spaces (from its flags of every training input); in large spaces this
        counter's overlap covers this phase alone and says so (eval_prompts_tracked_from_start)."""
        self.reserved_hits = int(counts.get("reserved_hits", 0))
        self.train_inputs = int(counts.get("train_inputs", 0))
        self.tracked_from_start = bool(counts.get("eval_prompts_tracked_from_start", True))
        if self.seen_inputs is not None and "heldout.seen_inputs" in tensors:
            self.seen_inputs = tensors["heldout.seen_inputs"].clone()
        keys = tensors.get("heldout.eval_keys")
        if keys is not None and torch.equal(keys, self.eval_keys):
            self.seen_eval = tensors["heldout.seen_eval"].clone()
        elif self.seen_inputs is not None:
            self.seen_eval = self.seen_inputs[self.eval_keys].clone()
        else:
            self.tracked_from_start = False

    def report(self) -> dict:
        """The `heldout` block of a summary entry."""
        p = self.partition
        training_side = p.size - p.reserved_count if p.enumerable else None
        return {
            "eval_prompts": len(self.eval_keys),
            "reserved_fraction": p.reserved_count / p.size if p.enumerable else p.fraction,
            "overlap_count": int(self.seen_eval.sum()),
            "overlap_prompts": self.seen_eval.nonzero().squeeze(1).tolist(),
            "eval_prompts_tracked_from_start": self.tracked_from_start,
            "reserved_hits": self.reserved_hits,
            "train_inputs": self.train_inputs,
            "train_inputs_seen_fraction": (int(self.seen_inputs.sum()) / training_side
                                           if self.seen_inputs is not None else None),
        }

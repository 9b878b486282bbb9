"""The held-out split: a seeded partition of a task's input space into training, validation and
test inputs, and a counter of leaks.

Every input (the d bits of parity, the pair of factors of multiplication) has a 64-bit *key*: its
index in the input space where that fits in 63 bits, else a hash. A seeded mix of the key decides
its side. Training samplers only ever emit training inputs. Every reported number is measured on
test inputs; every decision (a stop rule, the RL preflight) reads validation inputs, which are
disjoint from both. So an evaluation prompt is never a training input, at d = 6 as at d = 50, and
the numbers reported were not chosen by looking at them.

- Small spaces (at most ENUMERABLE inputs) order the inputs by their mixed keys: the first
  round(fraction * size) are test inputs (so even d = 2 keeps one input on each side), the next
  round(validation_fraction * size) validation inputs. Evaluation takes distinct inputs of a side
  in a seeded order (all of them when there are fewer than asked for).
- Large spaces put an input on the test side when its mixed key falls below `fraction` of the
  64-bit range, on the validation side when it falls in the next `validation_fraction`; evaluation
  draws distinct inputs of a side by rejection.
- A space too small for a validation side (validation_fraction 0, or no input left for it) has
  none: decisions then read the test inputs, and the run's `heldout` block says so.

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


TRAIN, TEST, VALIDATION = 0, 1, 2  # the sides of the partition, as stored in Partition.table()
SIDES = {"train": TRAIN, "test": TEST, "validation": VALIDATION}


class Partition:
    """Which inputs of `task` are training, test and validation inputs. keys: (n,) int64 from
    task.input_keys. `fraction` is the test share, `validation_fraction` the validation share."""

    def __init__(self, task, fraction: float, seed: int, validation_fraction: float = 0.0):
        self.task, self.fraction, self.seed = task, fraction, seed
        self.validation_fraction = validation_fraction
        self.size = task.input_space_size
        self.salt = mix64(np.array([seed], dtype=np.uint64))[0]
        self._table = None  # (size,) int8 side of every input, for small spaces: built on first use
        self._eval = {}  # (n, seed, side) -> evaluation prompts: every phase and every evaluation asks again

    @property
    def enumerable(self) -> bool:
        return self.size <= ENUMERABLE

    def _scores(self, keys: np.ndarray) -> np.ndarray:
        return mix64(keys.view(np.uint64) ^ self.salt)

    def table(self) -> torch.Tensor:
        """(size,) int8: the side (TRAIN, TEST or VALIDATION) of every input of a small space."""
        if self._table is None:
            scores = self._scores(np.arange(self.size, dtype=np.int64))
            n_test, n_validation = self.side_sizes()
            order = np.argsort(scores, kind="stable")
            table = np.full(self.size, TRAIN, dtype=np.int8)
            table[order[:n_test]] = TEST
            table[order[n_test : n_test + n_validation]] = VALIDATION
            self._table = torch.from_numpy(table)
        return self._table

    def side_sizes(self) -> tuple[int, int]:
        """(test inputs, validation inputs) of a small space; at least one input stays for training."""
        n_test = min(self.size - 1, max(1, round(self.fraction * self.size)))
        room = self.size - 1 - n_test
        if self.validation_fraction == 0:
            return n_test, 0
        return n_test, min(room, max(1, round(self.validation_fraction * self.size)))

    def sides(self, keys: torch.Tensor) -> torch.Tensor:
        """(n,) int8 side of each of (n,) int64 keys."""
        if self.enumerable:
            return self.table()[keys]
        unit = (self._scores(keys.numpy()) >> np.uint64(11)).astype(np.float64) / 2.0**53
        side = np.where(unit < self.fraction, TEST,
                        np.where(unit < self.fraction + self.validation_fraction, VALIDATION, TRAIN))
        return torch.from_numpy(side.astype(np.int8))

    def reserved(self, keys: torch.Tensor) -> torch.Tensor:
        """(n,) bool for (n,) int64 keys: not a training input (test or validation)."""
        return self.sides(keys) != TRAIN

    @property
    def has_validation(self) -> bool:
        """Whether there are validation inputs (else decisions read the test inputs, flagged)."""
        if self.enumerable:
            return self.side_sizes()[1] > 0
        return self.validation_fraction > 0

    @property
    def reserved_count(self) -> int | None:
        """Test inputs of a small space (None for a large one)."""
        return self.side_sizes()[0] if self.enumerable else None

    @property
    def validation_count(self) -> int | None:
        return self.side_sizes()[1] if self.enumerable else None

    def eval_prompts(self, n: int, seed: int, split: str = "test") -> torch.Tensor:
        """(m, prompt_len) prompts of m = min(n, inputs of the side) distinct inputs of `split`
        (test or validation), in a seeded order; the first n of a longer list are the same, so a
        larger n only adds prompts."""
        side = SIDES[split]
        if side == VALIDATION and not self.has_validation:
            side = TEST  # no validation inputs: decisions read the test inputs (the heldout block says so)
        if (n, seed, side) not in self._eval:
            self._eval[(n, seed, side)] = self._draw_eval_prompts(n, seed, side)
        return self._eval[(n, seed, side)].clone()

    def _draw_eval_prompts(self, n: int, seed: int, side: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        if self.enumerable:
            pool = (self.table() == side).nonzero().squeeze(1)
            return self.task.prompts_at(pool[torch.randperm(len(pool), generator=gen)[:n]])
        rows, seen = [], set()
        while len(rows) < n:
            prompts = self.task.draw(max(1024, 2 * n), gen).prompts
            keys = self.task.input_keys(prompts)
            for row, key, on_side in zip(prompts, keys.tolist(), (self.sides(keys) == side).tolist()):
                if on_side and key not in seen and len(rows) < n:
                    seen.add(key)
                    rows.append(row)
        return torch.stack(rows)


class HeldoutCounter:
    """Counts, batch by batch, how far training came to the held-out inputs (it never should), and
    which prompts the phase's decisions read (validation ones, never test ones).

    eval_prompts: (n_eval, prompt_len), the test prompts this phase reports on; validation_prompts:
    (n_validation, prompt_len), the ones its decisions read (empty: none)."""

    def __init__(self, task, eval_prompts: torch.Tensor, validation_prompts: torch.Tensor | None = None):
        self.task, self.partition = task, task.partition
        self.eval_keys = task.input_keys(eval_prompts)
        self.validation_keys = (task.input_keys(validation_prompts) if validation_prompts is not None
                                else torch.zeros(0, dtype=torch.int64))
        self.seen_eval = torch.zeros(len(self.eval_keys), dtype=torch.bool)
        self.seen_validation = torch.zeros(len(self.validation_keys), dtype=torch.bool)
        self.decided_on = torch.zeros(0, dtype=torch.int64)  # keys of the prompts decisions read
        self.reserved_hits = 0
        self.train_inputs = 0
        self.tracked_from_start = True
        self.seen_inputs = torch.zeros(self.partition.size, dtype=torch.bool) if self.partition.enumerable else None

    def observe(self, prompts: torch.Tensor) -> None:
        """Record one training batch's prompts (n, prompt_len)."""
        keys = self.task.input_keys(prompts.cpu())
        self.seen_eval |= torch.isin(self.eval_keys, keys)
        self.seen_validation |= torch.isin(self.validation_keys, keys)
        self.reserved_hits += int(self.partition.reserved(keys).sum())
        self.train_inputs += len(keys)
        if self.seen_inputs is not None:
            self.seen_inputs[keys] = True

    def decided(self, keys: torch.Tensor) -> None:
        """Record the keys (n,) of the prompts a decision read."""
        self.decided_on = torch.unique(torch.cat([self.decided_on, keys.to(torch.int64)]))

    # --- checkpointing: tensors go to trainer.safetensors, counts to state.json -----------------
    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"heldout.eval_keys": self.eval_keys, "heldout.seen_eval": self.seen_eval,
               "heldout.validation_keys": self.validation_keys, "heldout.seen_validation": self.seen_validation,
               "heldout.decided_on": self.decided_on}
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
        if "heldout.decided_on" in tensors:
            self.decided_on = tensors["heldout.decided_on"].clone()
        for name in ("eval", "validation"):
            keys, mine = tensors.get(f"heldout.{name}_keys"), getattr(self, f"{name}_keys")
            if keys is not None and torch.equal(keys, mine):
                setattr(self, f"seen_{name}", tensors[f"heldout.seen_{name}"].clone())
            elif self.seen_inputs is not None:
                setattr(self, f"seen_{name}", self.seen_inputs[mine].clone())
            elif len(mine):
                self.tracked_from_start = False

    def report(self) -> dict:
        """The `heldout` block of a summary entry."""
        p = self.partition
        training_side = p.size - p.reserved_count - p.validation_count if p.enumerable else None
        return {
            "eval_prompts": len(self.eval_keys),
            "reserved_fraction": p.reserved_count / p.size if p.enumerable else p.fraction,
            "overlap_count": int(self.seen_eval.sum()),
            "overlap_prompts": self.seen_eval.nonzero().squeeze(1).tolist(),
            "eval_prompts_tracked_from_start": self.tracked_from_start,
            "validation_prompts": len(self.validation_keys) if p.has_validation else 0,
            "validation_fraction": (p.validation_count / p.size if p.enumerable else p.validation_fraction),
            "validation_overlap_count": int(self.seen_validation.sum()) if p.has_validation else None,
            "decisions_read": "validation" if p.has_validation else "test (no validation inputs)",
            "decision_test_overlap": int(torch.isin(self.decided_on, self.eval_keys).sum()),
            "reserved_hits": self.reserved_hits,
            "train_inputs": self.train_inputs,
            "train_inputs_seen_fraction": (int(self.seen_inputs.sum()) / training_side
                                           if self.seen_inputs is not None else None),
        }

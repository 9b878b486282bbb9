"""The task interface: what the trainers, sampler and evaluator need from a task.

A task samples demonstrations (a prompt and a long or short response), scores any
response (rewards), classifies it as long / short / malformed, and decodes tokens to
text. Trainers only see token tensors and these methods, so a new task (multiplication,
text) plugs in without touching them.

Conventions shared by every task:
- prompts have a fixed length per task: `prompts` is `(batch, prompt_len)`;
- responses are right-padded with `pad_id` after their EOS: `(batch, response_len)`;
- a response's length counts its tokens including EOS (a short parity answer is 2).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum

import torch

from cotmix.tasks.heldout import Partition


class Kind(IntEnum):
    """The shape of a response, judged by format alone (tensors of kinds hold these values)."""

    LONG = 0
    SHORT = 1
    MALFORMED = 2

    def __str__(self) -> str:
        return self.name.lower()


LONG, SHORT, MALFORMED = Kind.LONG, Kind.SHORT, Kind.MALFORMED


@dataclass
class Batch:
    """A batch of demonstrations.

    prompts:   (batch, prompt_len) long
    responses: (batch, response_len) long, PAD after EOS
    is_long:   (batch,) bool, which demonstrations carry the chain of thought
    """

    prompts: torch.Tensor
    responses: torch.Tensor
    is_long: torch.Tensor

    def to(self, device) -> "Batch":
        return Batch(self.prompts.to(device), self.responses.to(device), self.is_long.to(device))

    def sequences(self) -> torch.Tensor:
        """(batch, prompt_len + response_len): prompt followed by response."""
        return torch.cat([self.prompts, self.responses], dim=1)


class Task(ABC):
    """Base class. Subclasses set the attributes below and implement the methods."""

    token_text: dict[int, str]  # token id -> its character(s), as `cotmix sample` prints them
    vocab_size: int
    pad_id: int
    eos_id: int
    prompt_len: int
    long_response_len: int  # tokens of a long response including EOS: the default max_new_tokens
    decision_position: int  # response index where a long answer continues and a short one has EOS
    answer_len: int  # tokens of the final answer, the last ones before EOS
    answer_symbols: int | None = None  # values a one-token answer takes (parity 2): chance is 1/answer_symbols
    input_space_size: int  # how many distinct inputs (prompts) there are

    def set_heldout(self, fraction: float = 0.25, seed: int = 0, validation_fraction: float = 0.0) -> "Task":
        """Reserve `fraction` of the input space for the reported (test) numbers and
        `validation_fraction` for decisions (see cotmix.tasks.heldout)."""
        self._partition = Partition(self, fraction, seed, validation_fraction)
        return self

    @property
    def max_response_len(self) -> int:
        """Longest response a model built for this task can generate: twice the long answer, so RL
        may sample past it (posttrain.max_new_tokens)."""
        return 2 * self.long_response_len

    @property
    def partition(self) -> Partition:
        """Which inputs are reserved for evaluation: set_heldout's, or its defaults on first use (a
        task built only to read its sizes, as config validation does, never draws one)."""
        if "_partition" not in self.__dict__:
            self.set_heldout()
        return self._partition

    @classmethod
    def describe(cls, task: dict) -> str:
        """A short name of the task a config's `task` section (a dict) sets, for titles: "parity d=20"."""
        return cls.__name__

    # Settings post-training may change: they shape the demonstrations, not the task's inputs and outputs.
    mutable_fields: tuple[str, ...] = ("p_cot",)
    # The task's own settings, an opt() dataclass (cotmix.options): set as task.KEY beside the settings
    # every task has (task.p_cot, the held-out split), typed and range-checked by its fields, shown by
    # `cotmix config` and in docs/config.md. None: the task has no settings of its own.
    Options = None

    @classmethod
    def greedy_threshold(cls) -> float | None:
        """The theory hook: the p_cot above which a length-calibrated model's greedy decoding takes
        the long path at decision_position (docs/theory.md), or None where no closed form holds. A
        one-token answer of answer_symbols values the model cannot compute gives 1/(symbols + 1)."""
        from cotmix.theory.closed_form import greedy_threshold

        return greedy_threshold(cls.answer_symbols) if cls.answer_symbols else None

    @classmethod
    def check(cls, options) -> None:
        """Rules between the task's own settings (an Options instance); raise ConfigError to refuse."""

    @classmethod
    def settings(cls, cfg) -> dict:
        """The parameters of __init__ from a `task` section: each from the task's own settings when it
        declares it there, else from the section's field of the same name (p_cot)."""
        params = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
        options = getattr(cfg, "options", None) or {}
        return {name: options[name] if name in options else getattr(cfg, name) for name in params
                if name in options or hasattr(cfg, name)}

    @classmethod
    def from_config(cls, cfg) -> "Task":
        """The task of a run's `task` section (override it when a task needs more than its settings)."""
        return cls(**cls.settings(cfg))

    @classmethod
    def shape(cls, cfg) -> dict:
        """The settings that fix the task's inputs and outputs, which a checkpoint fixes: all of
        them but mutable_fields."""
        return {name: value for name, value in cls.settings(cfg).items() if name not in cls.mutable_fields}

    @abstractmethod
    def draw(self, n: int, generator: torch.Generator, p_cot: float | None = None) -> Batch:
        """n demonstrations on uniform inputs from the whole input space, held-out ones included;
        p_cot overrides the task's mixture (1.0 = all long). Trainers use `sample`."""

    @abstractmethod
    def input_keys(self, prompts: torch.Tensor) -> torch.Tensor:
        """(batch,) int64: each prompt's index in the input space (0 .. input_space_size - 1) when
        that fits in 63 bits, else a 64-bit hash of its input."""

    @abstractmethod
    def prompts_at(self, keys: torch.Tensor) -> torch.Tensor:
        """(batch, prompt_len) prompts of (batch,) input indices (the inverse of input_keys)."""

    @abstractmethod
    def long_demonstrations(self, prompts: torch.Tensor) -> Batch:
        """The correct long demonstration of every prompt (no chain noise)."""

    @abstractmethod
    def short_demonstrations(self, prompts: torch.Tensor) -> Batch:
        """The short demonstration (the answer, then EOS) of every prompt."""

    def demonstrations(self, prompts: torch.Tensor, generator: torch.Generator, p_cot: float | None = None) -> Batch:
        """Demonstrations of given prompts, each long with probability p_cot (no chain noise)."""
        p_cot = self.p_cot if p_cot is None else p_cot
        is_long = torch.rand(len(prompts), generator=generator) < p_cot
        long, short = self.long_demonstrations(prompts), self.short_demonstrations(prompts)
        return Batch(prompts, torch.where(is_long[:, None], long.responses, short.responses), is_long)

    def sample(self, n: int, generator: torch.Generator, p_cot: float | None = None,
               split: str = "train") -> Batch:
        """n fresh demonstrations whose inputs all lie on one side of the partition: `train` (every
        trainer) or `heldout`. Rows that land on the other side are drawn again."""
        batch = self.draw(n, generator, p_cot)
        want_reserved = {"train": False, "heldout": True}[split]
        wrong = self.partition.reserved(self.input_keys(batch.prompts)) != want_reserved
        while wrong.any():
            fresh = self.draw(int(wrong.sum()), generator, p_cot)
            batch.prompts[wrong], batch.responses[wrong], batch.is_long[wrong] = (
                fresh.prompts, fresh.responses, fresh.is_long)
            wrong[wrong.clone()] = self.partition.reserved(self.input_keys(fresh.prompts)) != want_reserved
        return batch

    def heldout_prompts(self, n: int, seed: int, split: str = "test") -> torch.Tensor:
        """(m, prompt_len): m = min(n, inputs of the split) distinct prompts of `split` (test, the
        reported numbers; validation, the decisions) in a seeded order."""
        return self.partition.eval_prompts(n, seed, split)

    @abstractmethod
    def answer_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """(batch,) bool: the final answer before EOS is right (the end-to-end criterion)."""

    @abstractmethod
    def classify(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """(batch,) long in {LONG, SHORT, MALFORMED}, judged by format only."""

    @abstractmethod
    def chain_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        """(batch,) bool: the response is exactly one of the correct long or short demonstrations."""

    @abstractmethod
    def chain_token_mask(self, batch: Batch) -> torch.Tensor:
        """(batch, response_len) bool: the response positions that are chain steps (for the
        teacher-forced chain accuracy); the positions where the model must decide long vs short
        are excluded."""

    def chain_step_kinds(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named subsets of chain_token_mask, each (batch, response_len) bool, whose teacher-forced
        accuracy is reported apart (as chain_token_accuracy_NAME); none by default."""
        return {}

    @abstractmethod
    def decode(self, prompt: torch.Tensor, response: torch.Tensor) -> tuple[str, str]:
        """Readable (prompt, response) strings of one example."""

    # --- shared helpers -------------------------------------------------------------

    def reward(self, prompts: torch.Tensor, responses: torch.Tensor, kind: str) -> torch.Tensor:
        """(batch,) float: the reward registered as `kind` (cotmix.rl.rewards: 'e2e', the final
        answer; 'chain', the exact format)."""
        from cotmix.registry import REWARDS

        return REWARDS[kind](self, prompts, responses)

    def response_lengths(self, responses: torch.Tensor) -> torch.Tensor:
        """(batch,) long: tokens up to and including the first EOS (the full width if none)."""
        return response_lengths(responses, self.eos_id)


def response_lengths(responses: torch.Tensor, eos_id: int) -> torch.Tensor:
    is_eos = responses == eos_id
    has_eos = is_eos.any(dim=1)
    first = is_eos.float().argmax(dim=1)
    return torch.where(has_eos, first + 1, torch.full_like(first, responses.shape[1]))


def pad_to_width(responses: torch.Tensor, width: int, pad_id: int) -> torch.Tensor:
    """Right-pad (batch, len) responses with PAD to at least `width` columns (narrow responses can
    come from a small max_new_tokens; judging them needs the full long width)."""
    if responses.shape[1] >= width:
        return responses
    pad = torch.full((responses.shape[0], width - responses.shape[1]), pad_id, dtype=responses.dtype)
    return torch.cat([responses, pad], dim=1)


def response_text(response: torch.Tensor, token_text: dict, eos_id: int, pad_id: int) -> str:
    """One response as text, up to and including its EOS."""
    out = []
    for token in response.tolist():
        if token == pad_id:
            break
        out.append(token_text[token])
        if token == eos_id:
            break
    return "".join(out)

"""Parity of d bits, demonstrated long (with the chain of prefix parities) or short.

The distribution D(p_cot) of the paper. Tokens: `0`, `1`, SEP (`=`), EOS, PAD.
x = (x_1..x_d) are uniform bits; c_i = x_1 XOR ... XOR x_i, so c_d is the parity.
A demonstration is long with probability p_cot, otherwise short. Example, d = 4,
x = 1 0 1 1 (parity 1):

    position   0  1  2  3  4    5  6  7  8  9
    long       1  0  1  1  =    1  1  0  1  EOS        (c_1 c_2 c_3 c_4 EOS)
    short      1  0  1  1  =    1  EOS PAD PAD PAD     (c_4 EOS)
               '-- prompt --'   '---- response ----'

With the default loss only the response positions 5.. (targets c_1.. and EOS) carry
NTP loss; PAD never does. The first response token is x_1 = c_1 in a long demonstration
and the parity in a short one, so the long/short decision is made at the *second*
response token (continue with c_2, or EOS), as in the theory.

With leap = k the long chain writes every k-th prefix parity and always ends with the
full parity: d = 5, k = 2 gives c_2 c_4 c_5 EOS.

With chain_noise = q a long demonstration is, with probability q, wrong from one step on: a
step i is drawn uniformly and c_i, c_{i+1}, ... are all flipped (one wrong XOR, then correct XORs
from the wrong value), so its final answer is wrong as well. Short demonstrations stay correct.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cotmix.errors import ConfigError
from cotmix.options import opt
from cotmix.registry import TASKS
from cotmix.tasks.base import LONG, MALFORMED, SHORT, Batch, Task, pad_to_width, response_lengths, response_text
from cotmix.tasks.heldout import hash_rows

ZERO, ONE, SEP, EOS, PAD = 0, 1, 2, 3, 4
TOKEN_TEXT = {ZERO: "0", ONE: "1", SEP: "=", EOS: "<eos>", PAD: "_"}


def chain_positions(d: int, leap: int) -> list[int]:
    """0-based indices i of the prefix parities c_{i+1} that a long response writes."""
    positions = list(range(leap - 1, d, leap))
    if positions[-1] != d - 1:
        positions.append(d - 1)
    return positions


@TASKS.register("parity")
class ParityTask(Task):
    token_text = TOKEN_TEXT
    answer_symbols = 2
    mutable_fields = ("p_cot", "chain_noise")
    vocab_size = 5
    pad_id = PAD
    eos_id = EOS

    @dataclass
    class Options:
        d: int = opt(20, "number of input bits", lo=2, hi=512)
        leap: int = opt(1, "long chains write every leap-th prefix parity (1 = all of them); must be < d", lo=1)
        chain_noise: float = opt(0.0, "probability that a long demonstration carries one wrong step (its prefix "
                                 "parity is flipped there and the chain goes on correctly from the wrong value, so "
                                 "the final answer is wrong too)", lo=0.0, hi=1.0)

    @classmethod
    def check(cls, options: Options) -> None:
        if options.leap >= options.d:
            raise ConfigError(f"task.leap={options.leap}: must be < task.d={options.d} (otherwise long and short "
                              "coincide)")

    @classmethod
    def describe(cls, task: dict) -> str:
        return f"parity d={task['d']}"

    def __init__(self, d: int, p_cot: float, leap: int = 1, chain_noise: float = 0.0):
        self.d, self.p_cot, self.leap, self.chain_noise = d, p_cot, leap, chain_noise
        self.chain_index = torch.tensor(chain_positions(d, leap))
        self.chain_len = len(self.chain_index)  # response tokens before EOS in a long answer
        self.prompt_len = d + 1
        self.long_response_len = self.chain_len + 1
        self.decision_position = 1
        self.answer_len = 1
        self.input_space_size = 2**d

    # --- data --------------------------------------------------------------------------

    def draw(self, n: int, generator: torch.Generator, p_cot: float | None = None) -> Batch:
        p_cot = self.p_cot if p_cot is None else p_cot
        bits = torch.randint(0, 2, (n, self.d), generator=generator)
        is_long = torch.rand(n, generator=generator) < p_cot
        prompts = torch.cat([bits, torch.full((n, 1), SEP)], dim=1)
        parities = self.prefix_parities(bits)  # (n, d)
        if self.chain_noise > 0:  # draws only when asked, so noiseless runs keep their random stream
            noisy = is_long & (torch.rand(n, generator=generator) < self.chain_noise)
            wrong_from = torch.randint(0, self.d, (n,), generator=generator)
            flip = noisy[:, None] & (torch.arange(self.d)[None, :] >= wrong_from[:, None])
            parities = parities ^ flip.long()
        chain = parities[:, self.chain_index]  # (n, chain_len)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[is_long, : self.chain_len] = chain[is_long]
        responses[is_long, self.chain_len] = EOS
        responses[~is_long, 0] = chain[~is_long, -1]
        responses[~is_long, 1] = EOS
        return Batch(prompts, responses, is_long)

    def long_demonstrations(self, prompts: torch.Tensor) -> Batch:
        n = len(prompts)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[:, : self.chain_len] = self.prefix_parities(prompts[:, : self.d])[:, self.chain_index]
        responses[:, self.chain_len] = EOS
        return Batch(prompts, responses, torch.ones(n, dtype=torch.bool))

    def short_demonstrations(self, prompts: torch.Tensor) -> Batch:
        n = len(prompts)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[:, 0], responses[:, 1] = self.parity(prompts), EOS
        return Batch(prompts, responses, torch.zeros(n, dtype=torch.bool))

    # --- the input space (for the held-out split) ------------------------------------------

    def input_keys(self, prompts: torch.Tensor) -> torch.Tensor:
        bits = prompts[:, : self.d]
        if self.d <= 62:  # the bits as a binary number, x_1 least significant
            return (bits << torch.arange(self.d)).sum(dim=1)
        return hash_rows(bits, bits_per_value=1)

    def prompts_at(self, keys: torch.Tensor) -> torch.Tensor:
        bits = (keys[:, None] >> torch.arange(self.d)) & 1
        return torch.cat([bits, torch.full((len(keys), 1), SEP)], dim=1)

    @staticmethod
    def prefix_parities(bits: torch.Tensor) -> torch.Tensor:
        """(n, d) bits -> (n, d) running parities c_1..c_d."""
        return bits.cumsum(dim=1) % 2

    def parity(self, prompts: torch.Tensor) -> torch.Tensor:
        return prompts[:, : self.d].sum(dim=1) % 2

    # --- judging responses ---------------------------------------------------------------

    def _parts(self, responses: torch.Tensor):
        """Pad to the long width; return (responses, number of tokens before EOS, has EOS,
        all tokens before EOS are bits)."""
        responses = pad_to_width(responses, self.long_response_len, PAD)
        lengths = response_lengths(responses, EOS)
        has_eos = (responses == EOS).any(dim=1)
        n_tokens = lengths - 1
        before_eos = torch.arange(responses.shape[1])[None, :] < n_tokens[:, None]
        is_bit = (responses == ZERO) | (responses == ONE)
        all_bits = (is_bit | ~before_eos).all(dim=1)
        return responses, n_tokens, has_eos, all_bits

    def classify(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        _, n_tokens, has_eos, all_bits = self._parts(responses)
        well_formed = has_eos & all_bits
        kind = torch.full_like(n_tokens, MALFORMED)
        kind[well_formed & (n_tokens == 1)] = SHORT
        kind[well_formed & (n_tokens == self.chain_len)] = LONG
        return kind

    def answer_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos, _ = self._parts(responses)
        last = responses.gather(1, (n_tokens - 1).clamp(min=0)[:, None]).squeeze(1)
        return has_eos & (n_tokens >= 1) & (last == self.parity(prompts))

    def chain_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos, _ = self._parts(responses)
        chain = self.prefix_parities(prompts[:, : self.d])[:, self.chain_index]
        long_ok = (n_tokens == self.chain_len) & (responses[:, : self.chain_len] == chain).all(dim=1)
        short_ok = (n_tokens == 1) & (responses[:, 0] == chain[:, -1])
        return has_eos & (long_ok | short_ok)

    def chain_token_mask(self, batch: Batch) -> torch.Tensor:
        mask = torch.zeros_like(batch.responses, dtype=torch.bool)
        mask[:, 1 : self.chain_len] = True
        return mask & batch.is_long[:, None]

    def chain_step_kinds(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Chain steps after a 0, which copy the new bits' parity, and after a 1, which flip it.
        The two can be learnt apart: at p_cot = 0.01 a model had every step after a 0 right and 82%
        of those after a 1, the errors depending on the other bits."""
        mask = self.chain_token_mask(batch)
        previous = torch.full_like(batch.responses, PAD)
        previous[:, 1:] = batch.responses[:, :-1]
        return {"after_0": mask & (previous == ZERO), "after_1": mask & (previous == ONE)}

    def decode(self, prompt: torch.Tensor, response: torch.Tensor) -> tuple[str, str]:
        prompt_text = "".join(TOKEN_TEXT[int(t)] for t in prompt)  # ends with "=", as a model is prompted
        return prompt_text, response_text(response, TOKEN_TEXT, EOS, PAD)

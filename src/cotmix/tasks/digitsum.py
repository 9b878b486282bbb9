"""The sum mod 10 of d digits, demonstrated long (with the running sums) or short: parity's
phenomenon with ten symbols instead of two, built on the public task interface alone.

x = (x_1..x_d) are uniform digits; s_i = (x_1 + ... + x_i) mod 10, so s_d is the answer. Each chain
step adds one digit to the last running sum (a 10 x 10 table), while the short answer depends on all
d digits at once: no subset of fewer than d of them carries any information about it, as with
parity. Tokens: the digits `0`..`9`, SEP (`=`), EOS, PAD. Example, d = 4, x = 3 9 4 5 (sum 21):

    position   0  1  2  3  4    5  6  7  8  9
    long       3  9  4  5  =    3  2  6  1  EOS        (s_1 s_2 s_3 s_4 EOS)
    short      3  9  4  5  =    1  EOS PAD PAD PAD     (s_4 EOS)
               '-- prompt --'   '---- response ----'

As in parity the first long token is s_1 = x_1, so the long/short decision is made at the second
response token: continue with s_2, or EOS. Config: task.name=digitsum with task.d and task.p_cot.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cotmix.options import opt
from cotmix.registry import TASKS
from cotmix.tasks.base import LONG, MALFORMED, SHORT, Batch, Task, pad_to_width, response_lengths, response_text
from cotmix.tasks.heldout import hash_rows

BASE = 10
SEP, EOS, PAD = 10, 11, 12
TOKEN_TEXT = {**{i: str(i) for i in range(BASE)}, SEP: "=", EOS: "<eos>", PAD: "_"}
EXACT_KEYS = 18  # 10^18 < 2^63: up to 18 digits an input's key is the number they write


@TASKS.register("digitsum")
class DigitSumTask(Task):
    token_text = TOKEN_TEXT
    answer_symbols = BASE
    vocab_size = 13
    pad_id = PAD
    eos_id = EOS

    @dataclass
    class Options:
        d: int = opt(20, "number of input digits", lo=2, hi=512)

    def __init__(self, d: int, p_cot: float):
        self.d, self.p_cot = d, p_cot
        self.prompt_len = d + 1
        self.long_response_len = d + 1
        self.decision_position = 1
        self.answer_len = 1
        self.input_space_size = BASE**d

    @classmethod
    def describe(cls, task: dict) -> str:
        return f"sum mod 10 of d={task['d']} digits"

    # --- data --------------------------------------------------------------------------

    def draw(self, n: int, generator: torch.Generator, p_cot: float | None = None) -> Batch:
        p_cot = self.p_cot if p_cot is None else p_cot
        digits = torch.randint(0, BASE, (n, self.d), generator=generator)
        is_long = torch.rand(n, generator=generator) < p_cot
        prompts = torch.cat([digits, torch.full((n, 1), SEP)], dim=1)
        long, short = self.long_demonstrations(prompts), self.short_demonstrations(prompts)
        return Batch(prompts, torch.where(is_long[:, None], long.responses, short.responses), is_long)

    def long_demonstrations(self, prompts: torch.Tensor) -> Batch:
        n = len(prompts)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[:, : self.d] = self.running_sums(prompts)
        responses[:, self.d] = EOS
        return Batch(prompts, responses, torch.ones(n, dtype=torch.bool))

    def short_demonstrations(self, prompts: torch.Tensor) -> Batch:
        n = len(prompts)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[:, 0], responses[:, 1] = self.running_sums(prompts)[:, -1], EOS
        return Batch(prompts, responses, torch.zeros(n, dtype=torch.bool))

    def running_sums(self, prompts: torch.Tensor) -> torch.Tensor:
        """(n, prompt_len) prompts -> (n, d) running sums s_1..s_d mod 10."""
        return prompts[:, : self.d].cumsum(dim=1) % BASE

    # --- the input space (for the held-out split) ------------------------------------------

    def input_keys(self, prompts: torch.Tensor) -> torch.Tensor:
        digits = prompts[:, : self.d]
        if self.d <= EXACT_KEYS:  # the digits as a decimal number, x_1 least significant
            return (digits * BASE ** torch.arange(self.d)).sum(dim=1)
        return hash_rows(digits, bits_per_value=4)

    def prompts_at(self, keys: torch.Tensor) -> torch.Tensor:
        digits = (keys[:, None] // BASE ** torch.arange(self.d)) % BASE
        return torch.cat([digits, torch.full((len(keys), 1), SEP)], dim=1)

    # --- judging responses ---------------------------------------------------------------

    def _parts(self, responses: torch.Tensor):
        """(responses padded to the long width, tokens before EOS, has EOS, all of those digits)."""
        responses = pad_to_width(responses, self.long_response_len, PAD)
        n_tokens = response_lengths(responses, EOS) - 1
        has_eos = (responses == EOS).any(dim=1)
        before_eos = torch.arange(responses.shape[1])[None, :] < n_tokens[:, None]
        all_digits = ((responses < BASE) | ~before_eos).all(dim=1)
        return responses, n_tokens, has_eos, all_digits

    def classify(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        _, n_tokens, has_eos, all_digits = self._parts(responses)
        well_formed = has_eos & all_digits
        kind = torch.full_like(n_tokens, MALFORMED)
        kind[well_formed & (n_tokens == 1)] = SHORT
        kind[well_formed & (n_tokens == self.d)] = LONG
        return kind

    def answer_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos, _ = self._parts(responses)
        last = responses.gather(1, (n_tokens - 1).clamp(min=0)[:, None]).squeeze(1)
        return has_eos & (n_tokens >= 1) & (last == self.running_sums(prompts)[:, -1])

    def chain_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos, _ = self._parts(responses)
        sums = self.running_sums(prompts)
        long_ok = (n_tokens == self.d) & (responses[:, : self.d] == sums).all(dim=1)
        short_ok = (n_tokens == 1) & (responses[:, 0] == sums[:, -1])
        return has_eos & (long_ok | short_ok)

    def chain_token_mask(self, batch: Batch) -> torch.Tensor:
        mask = torch.zeros_like(batch.responses, dtype=torch.bool)
        mask[:, 1 : self.d] = True  # s_2..s_d; s_1 is a copy and the decision follows it
        return mask & batch.is_long[:, None]

    def decode(self, prompt: torch.Tensor, response: torch.Tensor) -> tuple[str, str]:
        prompt_text = "".join(TOKEN_TEXT[int(t)] for t in prompt)  # ends with "=", as a model is prompted
        return prompt_text, response_text(response, TOKEN_TEXT, EOS, PAD)

"""Multiplication of an n-digit by an m-digit number, demonstrated long (worked steps) or short.

Every number is written least-significant digit first, zero-padded to w = n + m digits (the
width of any product). Tokens: digits 0..9, `*`, `=`, `;` (step separator), EOS, PAD.
A demonstration is long with probability p_cot. Example, n = m = 2, a = 12, b = 34 (w = 4):

    prompt      2 1 * 4 3 =                       (a = 12, b = 34, LSB first)
    long        8 4 0 0 ; 0 6 3 0 ; 8 0 4 0 EOS   (P_0 = 12*4 = 48; P_1 = 12*3*10 = 360;
                                                   S_1 = P_0 + P_1 = 408, the product)
    short       8 0 4 0 EOS                       (the product only)

The long response lists the partial products P_j = a * b_j * 10^j, and after each P_j with
j >= 1 the running sum S_j = P_0 + ... + P_j, all separated by `;`. Its last w digits are the
product, just like the short response, so the end-to-end reward reads the last w tokens before
EOS. The long/short decision is made at token w (EOS, or `;` to continue).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cotmix.options import opt
from cotmix.registry import TASKS
from cotmix.tasks.base import LONG, MALFORMED, SHORT, Batch, Task, pad_to_width, response_lengths, response_text

TIMES, EQUALS, STEP, EOS, PAD = 10, 11, 12, 13, 14
TOKEN_TEXT = {**{i: str(i) for i in range(10)}, TIMES: "*", EQUALS: "=", STEP: ";", EOS: "<eos>", PAD: "_"}


def digits_lsb_first(values: torch.Tensor, width: int) -> torch.Tensor:
    """(batch,) non-negative integers -> (batch, width) digits, least significant first."""
    powers = 10 ** torch.arange(width)
    return (values[:, None] // powers) % 10


@TASKS.register("multiplication")
class MultiplicationTask(Task):
    token_text = TOKEN_TEXT
    vocab_size = 15
    pad_id = PAD
    eos_id = EOS

    @dataclass
    class Options:
        digits_a: int = opt(2, "digits of the first factor", lo=1, hi=9)
        digits_b: int = opt(2, "digits of the second factor (>= 2 for a worked chain)", lo=2, hi=9)

    @classmethod
    def greedy_threshold(cls) -> float | None:
        # The decision is at the second answer digit, by value, and its threshold depends on what
        # the model has learnt of the product: 0 while that digit is unknown, 1/2 once it is
        # (cotmix.theory.closed_form.long_digit_threshold). No single number to predict from.
        return None

    @classmethod
    def describe(cls, task: dict) -> str:
        return f"multiplication {task['digits_a']}x{task['digits_b']} digits"

    def __init__(self, digits_a: int, digits_b: int, p_cot: float):
        self.n, self.m, self.p_cot = digits_a, digits_b, p_cot
        self.width = digits_a + digits_b
        self.prompt_len = digits_a + digits_b + 2
        # P_0, then (P_j ; S_j) for j >= 1, separated by `;`
        self.blocks = 1 + 2 * (digits_b - 1)
        self.long_len = self.blocks * self.width + (self.blocks - 1)  # tokens before EOS
        self.long_response_len = self.long_len + 1
        self.decision_position = self.width
        self.answer_len = self.width
        self.lowest_a, self.lowest_b = ((10 ** (k - 1) if k > 1 else 0) for k in (digits_a, digits_b))
        self.count_b = 10**digits_b - self.lowest_b
        self.input_space_size = (10**digits_a - self.lowest_a) * self.count_b

    def draw(self, n: int, generator: torch.Generator, p_cot: float | None = None) -> Batch:
        p_cot = self.p_cot if p_cot is None else p_cot
        a = torch.randint(self.lowest_a, 10**self.n, (n,), generator=generator)
        b = torch.randint(self.lowest_b, 10**self.m, (n,), generator=generator)
        is_long = torch.rand(n, generator=generator) < p_cot
        prompts = self.prompts_of(a, b)
        responses = torch.full((n, self.long_response_len), PAD)
        chain = self.chain_tokens(a, b)
        responses[is_long, : self.long_len] = chain[is_long]
        responses[is_long, self.long_len] = EOS
        responses[~is_long, : self.width] = digits_lsb_first(a * b, self.width)[~is_long]
        responses[~is_long, self.width] = EOS
        return Batch(prompts, responses, is_long)

    def prompts_of(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n = len(a)
        return torch.cat([digits_lsb_first(a, self.n), torch.full((n, 1), TIMES), digits_lsb_first(b, self.m),
                          torch.full((n, 1), EQUALS)], dim=1)

    def long_demonstrations(self, prompts: torch.Tensor) -> Batch:
        n = len(prompts)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[:, : self.long_len] = self.chain_tokens(*self.operands(prompts))
        responses[:, self.long_len] = EOS
        return Batch(prompts, responses, torch.ones(n, dtype=torch.bool))

    def short_demonstrations(self, prompts: torch.Tensor) -> Batch:
        n, (a, b) = len(prompts), self.operands(prompts)
        responses = torch.full((n, self.long_response_len), PAD)
        responses[:, : self.width] = digits_lsb_first(a * b, self.width)
        responses[:, self.width] = EOS
        return Batch(prompts, responses, torch.zeros(n, dtype=torch.bool))

    def input_keys(self, prompts: torch.Tensor) -> torch.Tensor:
        a, b = self.operands(prompts)
        return (a - self.lowest_a) * self.count_b + (b - self.lowest_b)

    def prompts_at(self, keys: torch.Tensor) -> torch.Tensor:
        return self.prompts_of(keys // self.count_b + self.lowest_a, keys % self.count_b + self.lowest_b)

    def chain_tokens(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(batch, long_len) tokens of the worked steps, without EOS."""
        pieces, running = [], torch.zeros_like(a)
        for j in range(self.m):
            partial = a * ((b // 10**j) % 10) * 10**j
            running = running + partial
            if j:
                pieces.append(torch.full((len(a), 1), STEP))
            pieces.append(digits_lsb_first(partial, self.width))
            if j:
                pieces += [torch.full((len(a), 1), STEP), digits_lsb_first(running, self.width)]
        return torch.cat(pieces, dim=1)

    def operands(self, prompts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a_digits, b_digits = prompts[:, : self.n], prompts[:, self.n + 1 : self.n + 1 + self.m]
        value = lambda digits: (digits * 10 ** torch.arange(digits.shape[1])).sum(dim=1)  # noqa: E731
        return value(a_digits), value(b_digits)

    def _parts(self, responses: torch.Tensor):
        responses = pad_to_width(responses, self.long_response_len, PAD)
        n_tokens = response_lengths(responses, EOS) - 1
        has_eos = (responses == EOS).any(dim=1)
        return responses, n_tokens, has_eos

    def answer_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos = self._parts(responses)
        a, b = self.operands(prompts)
        start = (n_tokens - self.width).clamp(min=0)
        index = start[:, None] + torch.arange(self.width)[None, :]
        answer = responses.gather(1, index.clamp(max=responses.shape[1] - 1))
        return has_eos & (n_tokens >= self.width) & (answer == digits_lsb_first(a * b, self.width)).all(dim=1)

    def classify(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos = self._parts(responses)
        before_eos = torch.arange(responses.shape[1])[None, :] < n_tokens[:, None]
        position = torch.arange(self.long_len)
        separator_at = (position % (self.width + 1)) == self.width  # where a long answer has `;`
        is_digit = responses < 10
        long_shape = torch.where(separator_at, responses[:, : self.long_len] == STEP, is_digit[:, : self.long_len])
        kind = torch.full_like(n_tokens, MALFORMED)
        kind[has_eos & (n_tokens == self.width) & (is_digit | ~before_eos).all(dim=1)] = SHORT
        kind[has_eos & (n_tokens == self.long_len) & long_shape.all(dim=1)] = LONG
        return kind

    def chain_correct(self, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
        responses, n_tokens, has_eos = self._parts(responses)
        a, b = self.operands(prompts)
        long_ok = (n_tokens == self.long_len) & (responses[:, : self.long_len] == self.chain_tokens(a, b)).all(dim=1)
        short_ok = (n_tokens == self.width) & (responses[:, : self.width] == digits_lsb_first(a * b, self.width)).all(dim=1)
        return has_eos & (long_ok | short_ok)

    def chain_token_mask(self, batch: Batch) -> torch.Tensor:
        """Every long-response token after the first block; the first `;` (token w) is where the
        model decides long vs short, and it is excluded with the rest of the first block."""
        mask = torch.zeros_like(batch.responses, dtype=torch.bool)
        mask[:, self.width + 1 : self.long_len] = True
        return mask & batch.is_long[:, None]

    def decode(self, prompt: torch.Tensor, response: torch.Tensor) -> tuple[str, str]:
        return "".join(TOKEN_TEXT[int(t)] for t in prompt), response_text(response, TOKEN_TEXT, EOS, PAD)

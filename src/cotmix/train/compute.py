"""What a phase's training costs in arithmetic: the tokens its model's forward passes take, and the
FLOPs they come to. The resource-gap studies put this beside samples, so that RL's generation counts.

A forward pass costs about 2 FLOPs per weight of each matrix per token (a multiply-add; Kaplan et al.
2020), its backward about twice that. The counter sees every forward pass of the models it watches
except during evaluation, and sorts the tokens by whether gradients were on: those are followed by a
backward (NTP, the RL update) and cost 6 FLOPs per weight, the rest (RL's generation, one token per
row per step with the KV cache; reference log-probs) 2. Attention over the context (about
2 * n_layer * context * d_model per token, under a tenth of the total at the lengths here) and
embedding lookups are left out: an estimate for comparing arms on one model, not a profiler's count.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def matmul_weights(model: nn.Module) -> int:
    """The weights a token multiplies through: every nn.Linear's (the output head included)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


class ComputeCounter:
    def __init__(self):
        self.weights = 0
        self.grad_tokens = 0  # tokens through a forward pass with a backward after it
        self.nograd_tokens = 0  # tokens through a forward pass alone
        self._paused = False
        self._hooks: list = []

    def watch(self, model: nn.Module) -> None:
        """Count the forward passes of `model` (a transformer called as model(idx, ...), idx (rows, seq))."""
        self.weights = self.weights or matmul_weights(model)
        self._hooks.append(model.register_forward_hook(self._count))

    def _count(self, module, args, output) -> None:
        if self._paused or not args:
            return
        tokens = args[0].numel()
        if torch.is_grad_enabled():
            self.grad_tokens += tokens
        else:
            self.nograd_tokens += tokens

    @contextmanager
    def paused(self):
        """Evaluation measures the model; it is not what training cost."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    @property
    def flops(self) -> int:
        return self.weights * (6 * self.grad_tokens + 2 * self.nograd_tokens)

    def state(self) -> dict:
        return {"grad_tokens": self.grad_tokens, "nograd_tokens": self.nograd_tokens}

    def restore(self, state: dict) -> None:
        self.grad_tokens = state.get("grad_tokens", 0)
        self.nograd_tokens = state.get("nograd_tokens", 0)

    def report(self) -> dict:
        """The phase summary's `compute` block."""
        return {"weights": self.weights, **self.state(), "flops": self.flops}

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()

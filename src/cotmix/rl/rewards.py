"""Rewards, registered by name (cotmix.registry.REWARDS): `reward(task, prompts, responses) -> (batch,)`
floats in [0, 1]. prompts (batch, prompt_len), responses (batch, response_len), PAD after EOS.
None of them looks at length: RL lengthens answers only through what these reward.

    e2e     1 when the final answer (the last tokens before EOS) is right, however it got there
    chain   1 when the response is exactly one of the task's two correct formats (the short answer,
            or the whole chain with every step right)

Your own: `@REWARDS.register("my_reward")` in a module of yours, then
`posttrain.reward=my_package.rewards:my_reward` (or the registered name once it is imported).
"""

from __future__ import annotations

import torch

from cotmix.registry import REWARDS


@REWARDS.register("e2e")
def end_to_end(task, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    return task.answer_correct(prompts, responses).float()


@REWARDS.register("chain")
def exact_chain(task, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    return task.chain_correct(prompts, responses).float()

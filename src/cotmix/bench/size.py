"""The shapes `cotmix bench` measures (no torch here: the CLI builds its flags from this)."""

from __future__ import annotations

from dataclasses import dataclass

from cotmix.options import opt


@dataclass
class BenchSize:
    d: int = opt(20, "input bits of the ratio rows", lo=2, hi=512)
    batch: int = opt(256, "NTP demonstrations per step", lo=1)
    sample_prompts: int = opt(1024, "prompts decoded at once in the sampling rows", lo=1)
    rl_prompts: int = opt(64, "prompts per RL step", lo=1)
    rl_group: int = opt(8, "samples per prompt in the RL rows", lo=1)
    repeats: int = opt(5, "timed repeats of each row (the median is reported)", lo=1)
    scaling_d: list[int] = opt([10, 20, 50, 100], "d of the scaling rows", lo=2, hi=512)
    time_to_generalise: bool = opt(True, "also time `cotmix run` to greedy accuracy 0.99")
    pretrain_steps: int = opt(800, "NTP steps of the pre-trained model that RL starts from (the chain is learnt "
                              "by then at d = 20)", lo=1)


# Checks that the benchmark runs: `cotmix bench --tiny` and the test.
TINY = BenchSize(d=6, batch=16, sample_prompts=16, rl_prompts=4, rl_group=4, repeats=2, scaling_d=[6, 8],
                 time_to_generalise=False, pretrain_steps=10)

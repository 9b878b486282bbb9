"""The options of `cotmix theory` (no torch here: the CLI builds its flags from these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from cotmix.config import MAX_SEED
from cotmix.options import opt


@dataclass
class TheoryConfig:
    d: int = opt(20, "input bits", lo=2, hi=512)
    calibration_grid: list[float] = opt([0.05, 0.1, 0.2, 0.3, 0.4], "p_cot values for calibration", lo=0.0, hi=1.0)
    threshold_grid: list[float] = opt([0.2, 0.25, 0.3, 0.32, 0.35, 0.37, 0.4, 0.5],
                                      "p_cot values around 1/3 for greedy accuracy", lo=0.0, hi=1.0)
    star_p0: list[float] = opt([0.02, 0.1, 0.25], "starting p_cot of the STaR runs", lo=0.0, hi=1.0)
    star_rounds: int = opt(6, "STaR rounds (0 = skip)", lo=0, hi=10_000)
    star_samples: int = opt(2_560_000, "responses sampled per STaR round and run", lo=1, hi=10**9)
    star_batch: int = opt(64, "minibatch of kept samples: one pass gives about star_samples / 2 / 64 SGD steps",
                          lo=1)
    lam: float = opt(1e-3, "L2 of positions 1 and 2a: smaller = less bias, needs more steps", lo=0.0, lo_open=True)
    lam_chain: float = opt(1e-4, "L2 of the chain positions (noise-free labels: small, with enough steps)",
                           lo=0.0, lo_open=True)
    steps: int = opt(10_000, "horizon of positions 1 and 2a (minibatches)", lo=1, hi=10**8)
    chain_steps: int = opt(5_000, "horizon of the chain positions (minibatches of long samples)", lo=1, hi=10**8)
    batch: int = opt(256, "minibatch of pre-training samples", lo=1)
    eval_samples: int = opt(16_384, "samples per evaluation of the linear model", lo=1)
    chain_from_mixture: bool = opt(False, "chain positions learn only from the long samples of the D(p) stream "
                                   "(about p_cot x steps x batch of them, as in Algorithm 3) instead of a separate "
                                   "stream of chain_steps minibatches of long demonstrations")
    complexity_d: list[int] = opt([], "sample complexity: these d (empty = skip) x complexity_p, the fewest "
                                  "pre-training minibatches (on the complexity_factor grid) after which STaR makes greedy right "
                                  ">= 0.99 of the time; implies chain_from_mixture", lo=2, hi=64, empty_ok=True)
    complexity_p: list[float] = opt([0.1, 0.25], "p_cot values of the sample-complexity measurement", lo=0.0,
                                    lo_open=True, hi=1.0)
    complexity_max_steps: int = opt(2**14, "cap of that search (minibatches); a setting that needs more is "
                                    "reported as '> cap'", lo=2, hi=2**30)
    complexity_factor: float = opt(2.0, "grid of that search: each try multiplies the minibatches by this (2: "
                                   "powers of 2 from 4; 1.41: twice as fine)", lo=1.05, hi=4.0)
    seeds: int = opt(1, "independent runs per setting", lo=1, hi=10_000)
    seed: int = opt(0, "seed of the first run", lo=0, hi=MAX_SEED)

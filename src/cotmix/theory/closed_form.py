"""The paper's predictions in closed form (the paper's §2-3; docs/theory.md), for a length-calibrated model
trained on D(p) with p = p_cot.

A calibrated model emits y_1 = x_1 with probability (1+p)/2 (long demonstrations always
start with x_1, short ones with a coin flip); given y_1 = x_1 it continues with probability
2p/(1+p), otherwise it stops. Greedy decoding therefore continues iff 2p/(1+p) > 1/2,
i.e. p > 1/3. STaR with the chain reward keeps long samples (rate p) and correct short ones
(rate (1-p)/2), so the next round's long fraction is 2p/(1+p).
"""

from __future__ import annotations

import math

GREEDY_THRESHOLD = 1 / 3


def calibration(p: float) -> dict:
    """Probabilities of a model calibrated on D(p)."""
    return {
        "long_correct": p,
        "short_correct": (1 - p) / 2,
        "short_wrong": (1 - p) / 2,
        "sampled_accuracy": (1 + p) / 2,
        "first_token_is_x1": (1 + p) / 2,
        "continue_given_x1": 2 * p / (1 + p),
        "stop_given_x1": (1 - p) / (1 + p),
    }


def greedy_accuracy(p: float) -> float:
    """1 above the threshold (greedy writes the whole chain), 1/2 below (greedy stops after x_1)."""
    if math.isclose(p, GREEDY_THRESHOLD):
        return float("nan")  # a tie: depends on how argmax breaks it
    return 1.0 if p > GREEDY_THRESHOLD else 0.5


def greedy_length(p: float, d: int) -> int:
    return d + 1 if p > GREEDY_THRESHOLD else 2


def star_step(p: float) -> float:
    """Long fraction after one STaR round with the chain reward: p -> 2p / (1 + p)."""
    return 2 * p / (1 + p)


def star_closed_form(p0: float, n: int) -> float:
    """p_n = 2^n p_0 / (2^n p_0 + 1 - p_0), the solution of the recursion."""
    return 2**n * p0 / (2**n * p0 + 1 - p0)


def star_rounds_to_generalise(p0: float) -> int:
    """First round n with p_n > 1/3, after which greedy accuracy is 1:
    2^n p0 / (2^n p0 + 1 - p0) > 1/3  <=>  2^n > (1 - p0) / (2 p0)  (0.25 -> 1, 0.1 -> 3, 0.01 -> 6)."""
    if p0 <= 0:
        return math.inf
    n = 0
    while star_closed_form(p0, n) <= GREEDY_THRESHOLD:
        n += 1
    return n


def expected_advantage(p: float) -> dict:
    """Expected REINFORCE advantage with a mean baseline (reward = final answer correct), for the
    calibrated model: mean reward is (1+p)/2; a long sample is always right, a short one half the time."""
    mean_reward = (1 + p) / 2
    return {"long": 1 - mean_reward, "short": 0.5 - mean_reward, "mean_reward": mean_reward}


# --- answers over more than two symbols (the digit-sum task: 10) --------------------------------

def greedy_threshold(symbols: int) -> float:
    """The p_cot above which greedy decoding of a calibrated model writes the chain, when the short
    answer is one of `symbols` equally likely values the model cannot compute (parity: 2 -> 1/3).

    The first response token is x_1 in every long demonstration and in the 1/symbols of short ones
    whose answer happens to be x_1, so greedy writes x_1, and then continues with probability
    p / (p + (1 - p) / symbols): above 1/2 exactly when p > 1 / (symbols + 1)."""
    return 1 / (symbols + 1)


def long_digit_threshold(short_on_long: float, short_best_other: float) -> float:
    """The p_cot above which greedy decoding of a calibrated model writes the long answer's digit where
    long and short answers first differ in value (multiplication: the second digit, P_0's against the
    product's). There the long digit gets p + (1 - p) q(L) and any other digit d gets (1 - p) q(d),
    where q is the model's distribution over the short answer's digit: greedy stays long when
    p > (m - q(L)) / (1 + m - q(L)), m = max over d != L of q(d).

    A short digit the model cannot compute (q uniform over ten): 0, any p_cot > 0 goes long. A short
    digit it has learnt (q(c) = 1 for the right c != L): 1/2, a two-way contest as in parity."""
    gap = max(0.0, short_best_other - short_on_long)
    return gap / (1 + gap)


def continue_given_first(p: float, symbols: int) -> float:
    """P(continue | the first token is x_1) of a calibrated model: p / (p + (1 - p) / symbols)."""
    return p / (p + (1 - p) / symbols)

"""Predict before RL: from a starting model's measured calibration, what NTP alone and RL will do.

    prediction = predict(cfg, start)   # start: the validation metrics of the model RL starts from

Every input is a measurement on the validation inputs (the RL preflight reads the same block), and
every rule is the theory's (docs/theory.md, "Predicting RL"), with one number fitted (the step scale):
- NTP alone, trained on: a calibrated model's greedy decoding takes the long path only when p_cot
  is above the task's greedy threshold (1/3 for parity, 1/(B + 1) for a B-valued answer); there its
  accuracy is the chain's, below it the short answer's (chance).
- RL generalises when it has correct long answers to amplify: the chain learnt (exact >= 0.99), at
  least one long answer expected over the whole budget, and a reward that pays a long correct
  answer more than a short one on average. Each "no" or "uncertain" names the condition it fails;
  a chain measured on too few validation prompts to tell 0.99 from 0.95 makes it "uncertain".
- STaR: the long share of the kept samples follows p' = p c / (p c + (1 - p) s) (c: the chain's exact
  accuracy, s: the short answers' accuracy; c = 1, s = 1/2 is Theorem 2's 2p/(1+p)); greedy goes long
  in the first round where p passes the threshold, and is right there if the chain is.
- GRPO-like algorithms: the share of groups whose rewards are all equal, which give no gradient,
  and the steps to greedy >= 0.99: the long answers' log-odds z rise at a rate proportional to the
  long fraction itself, dz/dt = sigmoid(z) / k (the gradient that raises them comes from the long
  samples; AdamW moves the weights about lr per step whatever the advantages' scale), from the
  measured p to twice the threshold's odds (parity: p = 1/2):
      t = k [(z1 - z0) + exp(-z0) - exp(-z1)]   at lr x inner_steps = REFERENCE_UPDATE, scaled by 1/update.
  k = STEP_SCALE is the one fitted number, fitted on STEP_FIT_SWEEPS only
  (cotmix.experiments.replay.fit_step_scale) and tested on the rest. A budget under the predicted
  steps says "uncertain", under half of them "no".
"""

from __future__ import annotations

import math

from cotmix.config import Config
from cotmix.eval.evaluate import CHAIN_LEARNT, GREEDY_LEARNT
from cotmix.registry import TASKS

MAX_ROUNDS = 100  # past this the STaR recursion is said not to get there
# A learnt chain whose 95% interval still reaches below this was measured on too few validation
# prompts (all right on 64 reads [0.943, 1]) to tell a chain RL can take to 0.99 from one that fails
# 1 in 20; added 2026-12-04 after study-resource-gap-small-d, judged on the sweeps published later.
CHAIN_RESOLVED = 0.95
# k of the step model (module docstring), at lr x inner_steps = REFERENCE_UPDATE (GRPO's defaults):
# the median over the generalising runs of STEP_FIT_SWEEPS, fitted 2026-12-03 before any run of
# study-predictor had been read (tests/test_predict.py refits it from the committed runs).
STEP_FIT_SWEEPS = ("fig-headline", "fig-temperature", "fig-headline-paper", "study-resource-gap")
STEP_SCALE = 3.50
REFERENCE_UPDATE = 2e-4


def predict(cfg: Config, start: dict) -> dict:
    """The prediction block written to summary.json (see the module docstring)."""
    p = cfg.posttrain
    long_fraction = start.get("long_fraction") or 0.0
    chain = start.get("chain_exact_accuracy")
    short = start.get("short_accuracy")
    task = TASKS.resolve(cfg.task.name, quiet=True)
    symbols = getattr(task, "answer_symbols", None)
    threshold = task.greedy_threshold() if task is not None else None
    out = {"measured_on": "validation", "long_fraction": long_fraction, "chain_exact_accuracy": chain,
           "short_accuracy": short, "greedy_threshold": threshold, "ntp_alone": _ntp_alone(cfg, chain, threshold, symbols)}
    if p.algorithm == "star":
        out["star"] = star_rounds(long_fraction, chain, short, threshold)
        out["steps"] = out["star"]["round_greedy_right"]
    else:
        out["zero_std_share"] = zero_std_share(long_fraction, chain, short, p.group_size)
        out["steps"] = pg_steps(long_fraction, threshold, p.lr * p.inner_steps)
    chain_low = (start.get("chain_exact_accuracy_ci95") or [chain])[0]
    out["generalises"], out["reason"] = _generalises(cfg, long_fraction, chain, chain_low, short, out.get("star"),
                                                     out["steps"])
    return out


def pg_steps(long_fraction: float, threshold, update: float) -> float | None:
    """Policy-gradient steps until greedy >= 0.99 (module docstring), at lr x inner steps `update`;
    0 when already there, None without a threshold or a long answer."""
    time = step_time(long_fraction, threshold)
    if time is None:
        return None
    return time * STEP_SCALE * REFERENCE_UPDATE / update


def step_time(long_fraction: float, threshold) -> float | None:
    """(z1 - z0) + exp(-z0) - exp(-z1): the step model's time at k = 1 from log-odds z0 of the long
    fraction to z1, twice the threshold's odds; None if p is 0 or 1 or there is no threshold."""
    if threshold is None or not 0 < long_fraction < 1:
        return None
    z0, z1 = math.log(long_fraction / (1 - long_fraction)), math.log(2 * threshold / (1 - threshold))
    return max(0.0, (z1 - z0) + math.exp(-z0) - math.exp(-z1))


def _ntp_alone(cfg: Config, chain, threshold, symbols) -> dict:
    if threshold is None or chain is None:
        return {"greedy": "unknown", "reason": "the task declares no one-token answer (answer_symbols), so no "
                                               "calibrated threshold"}
    if cfg.task.p_cot > threshold:
        return {"greedy": "long", "greedy_accuracy": chain,
                "reason": f"p_cot {cfg.task.p_cot} > the greedy threshold {threshold:.3f}: greedy writes the chain"}
    return {"greedy": "short", "greedy_accuracy": 1 / symbols,
            "reason": f"p_cot {cfg.task.p_cot} <= the greedy threshold {threshold:.3f}: greedy answers short, at chance"}


def _generalises(cfg: Config, long_fraction: float, chain, chain_low, short, star: dict | None,
                 steps: float | None) -> tuple[str, str]:
    p = cfg.posttrain
    if p.steps == 0:
        return "no", "no RL steps"
    if chain is None or chain < CHAIN_LEARNT:
        return "no", (f"the chain is not learnt (exact {chain if chain is None else round(chain, 3)} < {CHAIN_LEARNT}): "
                      "RL can only amplify long answers as they are")
    expected = long_fraction * p.prompts_per_step * p.group_size * p.steps
    if expected < 1:
        return "no", f"about {expected:.2f} long answers expected over the whole RL budget: nothing to amplify"
    pays_long = chain * 1.0  # a long answer is right when its chain is
    pays_short = (short or 0.0) + (1 - (short or 0.0)) * p.false_positive
    if pays_long <= pays_short:
        return "no", f"the reward pays short answers {pays_short:.2f} on average, long ones {pays_long:.2f}"
    if star is not None:  # the recursion says how many rounds it takes; the budget may be fewer
        needed = star["round_greedy_right"]
        if needed is not None and needed > p.steps:
            return "no", f"STaR's recursion needs {needed} rounds to pass the greedy threshold; the budget is {p.steps}"
    if p.algorithm == "star" and p.reward == "e2e" and p.temperature > 1.0:
        return "uncertain", (f"STaR with the end-to-end reward at temperature {p.temperature}: hot long samples carry "
                             "chain errors that the measured (T = 1) chain accuracy does not show")
    if expected < p.steps:
        return "uncertain", f"under one long answer per step ({expected / p.steps:.2f}): RL may run out of steps"
    if star is None and steps is not None and steps > p.steps:
        verdict = "no" if steps > 2 * p.steps else "uncertain"
        return verdict, f"about {steps:.0f} steps needed from long fraction {long_fraction:.3f}; the budget is {p.steps}"
    if chain_low is not None and chain_low < CHAIN_RESOLVED:
        return "uncertain", (f"chain exact {chain:.3f} but its 95% interval reaches {chain_low:.3f}: too few "
                             f"validation prompts to tell a learnt chain from one that fails 1 in 20")
    return "yes", (f"the chain is learnt (exact {chain:.3f}), {expected / p.steps:.1f} long answers per step, and the "
                   f"reward pays long answers {pays_long:.2f} against {pays_short:.2f} for short ones")


def star_rounds(long_fraction: float, chain, short, threshold) -> dict:
    """Rounds of the corrected STaR recursion: where the long share first passes the greedy
    threshold, and whether greedy is then right (the chain learnt)."""
    c, s = chain or 0.0, 0.5 if short is None else short
    p, rounds, shares = long_fraction, None, [long_fraction]
    for n in range(1, MAX_ROUNDS + 1):
        kept = p * c + (1 - p) * s
        p = p * c / kept if kept > 0 else 0.0
        shares.append(p)
        if threshold is not None and p > threshold:
            rounds = n
            break
    right = rounds is not None and c >= GREEDY_LEARNT
    return {"round_past_threshold": rounds, "round_greedy_right": rounds if right else None,
            "long_share_by_round": [round(x, 4) for x in shares]}


def zero_std_share(long_fraction: float, chain, short, group_size: int) -> float:
    """P(a group of `group_size` samples all get the same 0/1 reward), the answers independent."""
    right = long_fraction * (chain or 0.0) + (1 - long_fraction) * (short or 0.0)
    return right**group_size + (1 - right) ** group_size


def prediction_line(prediction: dict) -> str:
    """One line for the terminal."""
    return f"prediction: RL generalises: {prediction['generalises']} ({prediction['reason']})"

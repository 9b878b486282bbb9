"""The theory: features by hand, closed forms against brute-force enumeration, Algorithm 3
against a plain scalar loop, and calibration of the linear model on a tiny config."""

import itertools
import json
import math

import pytest
import torch

from cotmix.theory import closed_form as cf
from cotmix.theory.linear_model import (
    LinearARModel,
    chain_features,
    evaluate_linear,
    prefix_parities,
    random_inputs,
    stop_features,
)
from cotmix.theory.train import AveragedSGD, pretrain_linear, star_round


def all_inputs(d):
    return torch.tensor(list(itertools.product([-1.0, 1.0], repeat=d)))


# --- features ------------------------------------------------------------------------------

def test_features_by_hand():
    x = torch.tensor([1.0, -1.0, 1.0])
    y = torch.tensor([1.0, -1.0, -1.0])  # the chain of x
    phi = chain_features(x, y)  # rows l = 2, 3
    assert phi[0].tolist() == [1, -1, 1, 1, 0, 1, -1, 1]  # [x, y1, pad, y1*x]
    assert phi[1].tolist() == [1, -1, 1, 1, -1, -1, 1, -1]  # [x, y1, y2, y2*x]
    assert stop_features(x, torch.tensor(1.0)).tolist() == [1, -1, 1, 1, 1, -1, 1, 1]


def test_each_chain_step_is_linear_in_its_features():
    d = 5
    x = all_inputs(d)
    y = prefix_parities(x)
    phi = chain_features(x, y)  # (32, d-1, 3d-1)
    for l in range(2, d + 1):
        w = torch.zeros(3 * d - 1)
        w[(d + d - 1) + (l - 1)] = 1.0  # the feature y_{l-1} * x_l
        assert torch.equal(phi[:, l - 2] @ w, y[:, l - 1])


def test_parity_is_uncorrelated_with_every_feature_of_position_1():
    """The best linear predictor of the parity from x alone is zero: E[parity * x_i] = 0."""
    x = all_inputs(6)
    assert torch.equal((x * x.prod(1, keepdim=True)).sum(0), torch.zeros(6))


def test_fast_logits_equal_the_feature_definition():
    g = torch.Generator().manual_seed(0)
    d = 6
    model = LinearARModel(torch.randn(2, d, generator=g), torch.randn(2, 2 * d + 2, generator=g),
                          torch.randn(2, d - 1, 3 * d - 1, generator=g))
    x, y = random_inputs(2, 7, d, g), random_inputs(2, 7, d, g)
    assert torch.allclose(model.stop_logit(x, y[..., 0]),
                          torch.einsum("rnf,rf->rn", stop_features(x, y[..., 0]), model.stop), atol=1e-5)
    phi = chain_features(x, y)
    for l in range(2, d + 1):
        assert torch.allclose(model.chain_logit(x, y, l),
                              torch.einsum("rnf,rf->rn", phi[:, :, l - 2], model.chain[:, l - 2]), atol=1e-5)


# --- closed forms against enumeration --------------------------------------------------------

def enumerate_demonstrations(d, p):
    """Every (probability, x, response) of D(p); response = tuple of ±1 tokens (short: one token)."""
    for bits in itertools.product([-1, 1], repeat=d):
        chain = [math.prod(bits[: i + 1]) for i in range(d)]
        yield p / 2**d, bits, tuple(chain)
        yield (1 - p) / 2**d, bits, (chain[-1],)


@pytest.mark.parametrize("p", [0.05, 0.25, 0.5, 0.8])
def test_calibration_probabilities_by_enumeration(p):
    d = 4
    demos = list(enumerate_demonstrations(d, p))
    first_is_x1 = sum(w for w, x, r in demos if r[0] == x[0])
    stop_and_x1 = sum(w for w, x, r in demos if r[0] == x[0] and len(r) == 1)
    predicted = cf.calibration(p)
    assert first_is_x1 == pytest.approx(predicted["first_token_is_x1"])
    assert stop_and_x1 / first_is_x1 == pytest.approx(predicted["stop_given_x1"])
    # The NTP-optimal model cannot see the parity, so it predicts y1 and stop from (x1, y1) alone.
    # Sampling from it: long-correct, short-correct and short-wrong rates.
    long_correct = first_is_x1 * (1 - stop_and_x1 / first_is_x1)
    short_correct = short_wrong = 0.0
    for bits in itertools.product([-1, 1], repeat=d):
        parity = math.prod(bits)
        for y1, prob_y1 in ((bits[0], first_is_x1), (-bits[0], 1 - first_is_x1)):
            stop = stop_and_x1 / first_is_x1 if y1 == bits[0] else 1.0
            weight = prob_y1 * stop / 2**d
            short_correct += weight * (y1 == parity)
            short_wrong += weight * (y1 != parity)
    assert long_correct == pytest.approx(predicted["long_correct"])
    assert short_correct == pytest.approx(predicted["short_correct"])
    assert short_wrong == pytest.approx(predicted["short_wrong"])


@pytest.mark.parametrize("p", [0.1, 0.3, 0.32, 0.34, 0.36, 0.6])
def test_greedy_threshold_is_one_third_by_enumerating_the_ntp_optimum(p):
    """Fit the NTP-optimal model to every demonstration of D(p) (d = 4), decode greedily from it on
    every input, and score the answers: the accuracy is 1 above p = 1/3 and 1/2 below, with the
    long or the 2-token answer to match. Nothing here reads the closed form, which must then agree."""
    d = 4
    first_is_x1, stop_same, _ = ntp_fit(list(enumerate_demonstrations(d, p)))
    assert first_is_x1 > 0.5  # greedy writes y_1 = x_1: the answer of short and long demonstrations alike
    goes_long = (1 - stop_same) > 0.5  # then continues only if continuing is the likelier token
    right = 0
    for bits in itertools.product([-1, 1], repeat=d):
        answer = math.prod(bits) if goes_long else bits[0]  # the chain ends in the parity; short says x_1
        right += answer == math.prod(bits)
    accuracy = right / 2**d
    assert accuracy == (1.0 if p > 1 / 3 else 0.5)
    assert cf.greedy_accuracy(p) == accuracy and cf.greedy_length(p, 20) == (21 if goes_long else 2)


def ntp_fit(population):
    """The NTP-optimal model that cannot compute the parity, fitted to a population of (weight, x,
    response): the chain steps are single XORs it learns exactly; what it cannot see is the answer,
    so its first token and its stop decision depend on (x_1, y_1) alone. Returns
    (P(y_1 = x_1), P(stop | y_1 = x_1), P(stop | y_1 != x_1)), each read off the population."""
    total = sum(w for w, _, _ in population)
    same = [(w, r) for w, x, r in population if r[0] == x[0]]
    other = [(w, r) for w, x, r in population if r[0] != x[0]]
    first_is_x1 = sum(w for w, _ in same) / total
    stop_same = sum(w for w, r in same if len(r) == 1) / max(1e-300, sum(w for w, _ in same))
    stop_other = sum(w for w, r in other if len(r) == 1) / max(1e-300, sum(w for w, _ in other)) if other else 1.0
    return first_is_x1, stop_same, stop_other


def model_samples(d, fit):
    """Every (probability, x, response) the fitted model generates: y_1, then stop or the chain."""
    first_is_x1, stop_same, stop_other = fit
    for bits in itertools.product([-1, 1], repeat=d):
        chain = tuple(math.prod(bits[: i + 1]) for i in range(d))
        w = 1 / 2**d
        yield w * first_is_x1 * (1 - stop_same), bits, chain
        yield w * first_is_x1 * stop_same, bits, (bits[0],)
        yield w * (1 - first_is_x1) * (1 - stop_other), bits, (-bits[0],) + chain[1:]
        yield w * (1 - first_is_x1) * stop_other, bits, (-bits[0],)


def chain_reward(x, response):
    chain = tuple(math.prod(x[: i + 1]) for i in range(len(x)))
    return float(response == chain or response == (chain[-1],))


@pytest.mark.parametrize("p", [0.01, 0.1, 0.25, 0.6])
def test_star_recursion_by_enumerating_the_kept_samples(p):
    """Three STaR rounds, each enumerated: fit the model to the population, list every response
    it samples, keep those the chain reward accepts, refit. The long share of what is kept follows
    p -> 2p/(1+p) round after round (the closed form is not used to build any of it)."""
    d = 4
    population = list(enumerate_demonstrations(d, p))
    expected = p
    for _ in range(3):
        samples = list(model_samples(d, ntp_fit(population)))
        kept = [(w, x, r) for w, x, r in samples if chain_reward(x, r) == 1.0]
        long_share = sum(w for w, _, r in kept if len(r) == d) / sum(w for w, _, _ in kept)
        expected = cf.star_step(expected)
        assert long_share == pytest.approx(expected)
        population = kept


def test_expected_advantages_by_enumeration():
    """Enumerate the calibrated model's samples, score each with the end-to-end reward, subtract the
    mean reward: the expected advantage of long and of short samples matches the closed form."""
    d = 4
    for p in (0.1, 0.3, 0.5):
        samples = list(model_samples(d, ntp_fit(list(enumerate_demonstrations(d, p)))))
        reward = [(w, r, float(r[-1] == math.prod(x))) for w, x, r in samples]
        mean = sum(w * q for w, _, q in reward)
        long_w = sum(w for w, r, _ in reward if len(r) == d)
        short_w = sum(w for w, r, _ in reward if len(r) == 1)
        adv_long = sum(w * (q - mean) for w, r, q in reward if len(r) == d) / long_w
        adv_short = sum(w * (q - mean) for w, r, q in reward if len(r) == 1) / short_w
        predicted = cf.expected_advantage(p)
        assert mean == pytest.approx(predicted["mean_reward"])
        assert adv_long == pytest.approx(predicted["long"]) and adv_short == pytest.approx(predicted["short"])
        assert long_w == pytest.approx(p)  # and the sampled long share is calibrated


def test_star_closed_form_solves_the_recursion():
    for p0 in (0.01, 0.1, 0.25):
        p = p0
        for n in range(1, 8):
            p = cf.star_step(p)
            assert cf.star_closed_form(p0, n) == pytest.approx(p)
    assert [cf.star_rounds_to_generalise(p0) for p0 in (0.25, 0.1, 0.01)] == [1, 3, 6]


# --- Algorithm 3 -----------------------------------------------------------------------------

def test_vectorised_sgd_equals_the_scalar_algorithm():
    """B = 1: w <- w - (1/(lam t)) (lam w + grad), output the average of the iterates."""
    g = torch.Generator().manual_seed(1)
    lam, steps, features = 0.1, 30, 4
    phi = torch.randn(2, steps, features, generator=g)
    labels = torch.where(torch.rand(2, steps, generator=g) < 0.5, 1.0, -1.0)
    valid = torch.rand(2, steps, generator=g) < 0.8
    sgd = AveragedSGD(2, 1, features, lam)
    for t in range(steps):
        sgd.step(phi[:, t : t + 1, None], labels[:, t : t + 1, None], valid[:, t : t + 1])
    for run in range(2):
        w, iterates = [0.0] * features, []
        for t in range(steps):
            if not valid[run, t]:
                continue
            k = len(iterates) + 1
            margin = labels[run, t].item() * sum(a * b for a, b in zip(phi[run, t].tolist(), w))
            dloss = -labels[run, t].item() / (1 + math.exp(margin))
            w = [wi - (1 / (lam * k)) * (lam * wi + dloss * f) for wi, f in zip(w, phi[run, t].tolist())]
            iterates.append(w)
        average = [sum(col) / len(iterates) for col in zip(*iterates)]
        assert sgd.average[run, 0].tolist() == pytest.approx(average, rel=1e-4, abs=1e-5)


@pytest.fixture(scope="module")
def tiny_linear():
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.15, 0.45])
    model = pretrain_linear(p, 8, lam=1e-3, lam_chain=1e-5, steps=10_000, chain_steps=300, batch=128, generator=g)
    return p, model, g


def test_linear_model_is_calibrated_and_greedy_follows_the_threshold(tiny_linear):
    """long_fraction is an exact expectation over 8192 inputs (error: training only, 0.02 allowed);
    accuracies are binomial means over n = 8192 samples, 4 standard errors plus 0.01 model slack."""
    p, model, g = tiny_linear
    n = 8192
    m = evaluate_linear(model, n, g)
    for i, q in enumerate(p.tolist()):
        assert abs(m["long_fraction"][i].item() - q) < 0.02
        assert abs(m["sampled_accuracy"][i].item() - (1 + q) / 2) < 4 * math.sqrt(0.25 / n) + 0.01
    assert abs(m["greedy_accuracy"][0].item() - 0.5) < 4 * math.sqrt(0.25 / n)  # p = 0.15 < 1/3
    assert m["greedy_accuracy"][1].item() > 0.98  # p = 0.45 > 1/3


def test_one_star_round_keeps_long_samples_at_2p_over_1_plus_p(tiny_linear):
    p, model, g = tiny_linear
    before = evaluate_linear(model, 8192, g)["long_fraction"]
    new_model, stats = star_round(model, 600_000, 1e-3, 1e-5, 32, "chain", 300, g)
    predicted = 2 * before / (1 + before)
    assert torch.allclose(stats["kept_long_fraction"], predicted, atol=0.03)
    after = evaluate_linear(new_model, 8192, g)["long_fraction"]
    assert torch.allclose(after, predicted, atol=0.04)


def test_chain_step_without_features_equals_the_feature_definition():
    """Fit.step_chain avoids materialising phi_l; it must take exactly the step phi_l defines."""
    from cotmix.theory.train import Fit

    g = torch.Generator().manual_seed(3)
    d, runs, batch = 6, 2, 9
    fast, slow = Fit.new(runs, d, 1e-3, 1e-2), Fit.new(runs, d, 1e-3, 1e-2)
    for _ in range(4):
        x, y = random_inputs(runs, batch, d, g), random_inputs(runs, batch, d, g)
        valid = torch.rand(runs, batch, generator=g) < 0.7
        fast.step_chain(x, y, valid)
        slow.chain.step(chain_features(x, y), y[..., 1:], valid)
    assert torch.allclose(fast.chain.w, slow.chain.w, atol=1e-4, rtol=1e-5)
    assert torch.allclose(fast.chain.average, slow.chain.average, atol=1e-4, rtol=1e-5)


def test_chain_positions_can_learn_from_the_mixtures_long_samples_only():
    """chain_from_mixture: the chain positions take a step only on minibatches with a long sample, so
    their step count is about steps x (1 - (1 - p)^batch), not the separate stream's chain_steps."""
    from cotmix.theory.linear_model import prefix_parities
    from cotmix.theory.train import Fit, mixture_batch

    g = torch.Generator().manual_seed(0)
    fit = Fit.new(1, 6, 0.01, 0.01)
    p, steps, batch = torch.tensor([0.1]), 400, 4
    for _ in range(steps):
        x, y1, is_long = mixture_batch(p, batch, 6, g)
        fit.step_chain(x, prefix_parities(x), is_long)
    expected = steps * (1 - 0.9**batch)  # 137.6; binomial sd ~ 9.5
    assert abs(float(fit.chain.t[0]) - expected) <= 4 * math.sqrt(steps * 0.344 * 0.656)


def test_sample_complexity_finds_the_smallest_budget_and_recovers_the_growth(monkeypatch):
    """With an oracle in place of training (STaR generalises exactly from 4 d^2 minibatches on), the
    search returns the smallest power of 2 at or above that budget, censors a d whose budget passes
    the cap, and the fit of log samples on log d recovers the exponent 2."""
    from cotmix.theory import experiments
    from cotmix.theory.config import TheoryConfig

    asked = []

    def oracle(cfg, d, p0, steps, gen):
        asked.append((d, steps))
        return steps >= 4 * d * d

    monkeypatch.setattr(experiments, "generalises_after_star", oracle)
    cfg = TheoryConfig(complexity_d=[2, 4, 8, 16, 40], complexity_p=[0.25], complexity_max_steps=4096, batch=8)
    result = experiments.sample_complexity(cfg, torch.Generator(), progress=lambda _: None)
    steps = {r["d"]: r["steps"] for r in result["rows"]}
    assert steps == {2: 16, 4: 64, 8: 256, 16: 1024, 40: None}  # 40: 4 * 1600 = 6400 > 4096, censored
    assert all(r["samples"] == (r["steps"] and r["steps"] * 8) for r in result["rows"])
    assert [s for d, s in asked if d == 4] == [4, 8, 16, 32, 64]  # doubling from 4, stopping at the first success
    assert result["growth"]["0.25"] == pytest.approx(2.0)


@pytest.mark.slow
def test_sample_complexity_of_the_linear_model_is_found_or_censored(tmp_path):
    """The real search, small: at d = 3 and 5 STaR after Algorithm 3 generalises within the cap, and
    twice the budget found is enough when checked again; with a cap of 2 minibatches nothing is found
    and nothing is made up."""
    from cotmix.theory.config import TheoryConfig
    from cotmix.theory.experiments import generalises_after_star, run_theory

    cfg = TheoryConfig(d=4, calibration_grid=[0.5], threshold_grid=[0.5], star_rounds=0, steps=20, chain_steps=20,
                       eval_samples=1024, batch=64, lam=0.01, lam_chain=0.01, seeds=2, complexity_d=[3, 5],
                       complexity_p=[0.5], complexity_max_steps=2048)
    rows = run_theory(cfg, tmp_path, progress=lambda _: None)["complexity"]["rows"]
    assert all(r["steps"] for r in rows) and (tmp_path / "complexity.png").is_file()
    gen = torch.Generator().manual_seed(7)
    assert all(generalises_after_star(cfg, r["d"], 0.5, 2 * r["steps"], gen) for r in rows)
    cfg.complexity_max_steps = 2  # too few for anything: censored, never a made-up number
    capped = run_theory(cfg, tmp_path / "capped", progress=lambda _: None)["complexity"]
    assert [r["samples"] for r in capped["rows"]] == [None, None] and capped["growth"] == {"0.5": None}


@pytest.mark.parametrize("form, better", [("power", "power"), ("exponential", "exponential")])
def test_the_complexity_fits_tell_a_power_of_d_from_an_exponential(monkeypatch, form, better):
    """An oracle whose budget grows as 8 d^1.5, or as 2^(d / 2), on a grid finer than a factor 2:
    the fit of the right form wins, and its slope is the true one up to the grid's rounding (each
    budget found is at most 10% above the true one)."""
    from cotmix.theory import experiments
    from cotmix.theory.config import TheoryConfig

    need = (lambda d: 8 * d**1.5) if form == "power" else (lambda d: 2 ** (d / 2))
    monkeypatch.setattr(experiments, "generalises_after_star", lambda cfg, d, p0, steps, gen: steps >= need(d))
    cfg = TheoryConfig(complexity_d=[4, 6, 8, 12, 16, 20, 24], complexity_p=[0.1], complexity_max_steps=2**20,
                       complexity_factor=1.1, batch=1)
    fit = experiments.sample_complexity(cfg, torch.Generator(), progress=lambda _: None)["fits"]["0.1"]
    assert fit["better"] == better
    truth, chosen = (1.5, fit["power"]) if form == "power" else (math.log(2) / 2, fit["exponential"])
    assert chosen["slope"] == pytest.approx(truth, rel=0.05) and chosen["ci95"][1] - chosen["ci95"][0] < 0.2


@pytest.mark.parametrize("symbols", [2, 3, 10])
def test_the_greedy_threshold_over_many_symbols_by_enumerating_the_ntp_optimum(symbols):
    """Sum mod `symbols` of d = 3 inputs, every demonstration of D(p) enumerated: the NTP-optimal
    model's probability of continuing after y_1 = x_1 is read off the population, and greedy continues
    exactly above p = 1/(symbols + 1) (parity's 1/3 when symbols = 2)."""
    d = 3
    for p in (0.5 / (symbols + 1), 0.9 / (symbols + 1), 1.1 / (symbols + 1), 2 / (symbols + 1)):
        weight_first_is_x1_long = weight_first_is_x1_short = 0.0
        for xs in itertools.product(range(symbols), repeat=d):
            w = 1 / symbols**d
            answer = sum(xs) % symbols
            weight_first_is_x1_long += w * p  # a long demonstration starts with s_1 = x_1
            weight_first_is_x1_short += w * (1 - p) * (answer == xs[0])  # a short one only by chance
        continues = weight_first_is_x1_long / (weight_first_is_x1_long + weight_first_is_x1_short)
        assert continues == pytest.approx(cf.continue_given_first(p, symbols))
        assert (continues > 0.5) == (p > cf.greedy_threshold(symbols))
    assert cf.greedy_threshold(2) == cf.GREEDY_THRESHOLD


@pytest.mark.slow
def test_theory_says_when_the_linear_model_did_not_converge(tmp_path, capsys):
    """Too few steps leave the long fraction far from p_cot: the run says so (a warning line and
    theory.json's warnings) instead of printing a table that reads as a failed theorem. With
    enough steps it says nothing."""
    from cotmix.cli import main

    flags = ["theory", "--d", "6", "--calibration-grid", "0.25", "--threshold-grid", "0.25", "--star-rounds", "0",
             "--eval-samples", "4096", "--batch", "128", "--chain-steps", "300", "--seeds", "1", "--no-progress"]
    assert main(flags + ["--out", str(tmp_path / "short"), "--steps", "1", "--lam", "1"]) == 0
    warned = json.loads((tmp_path / "short" / "theory.json").read_text())["warnings"]
    assert len(warned) == 1 and "did not converge" in warned[0] and "raise --steps" in capsys.readouterr().err
    assert main(flags + ["--out", str(tmp_path / "long"), "--steps", "10000", "--lam", "1e-3"]) == 0
    assert json.loads((tmp_path / "long" / "theory.json").read_text())["warnings"] == []
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize("q", [[0.1] * 10, [0.0, 1.0] + [0.0] * 8, [0.05, 0.5, 0.2] + [0.25 / 7] * 7])
def test_the_long_digit_threshold_by_enumerating_the_calibrated_mixture(q):
    """The calibrated next-digit distribution is p on the long digit (index 0 here) plus (1 - p) q over
    the short answer's digit; greedy's argmax is the long digit exactly above the closed form."""
    from cotmix.theory.closed_form import long_digit_threshold

    threshold = long_digit_threshold(q[0], max(q[1:]))
    for p in [i / 1000 for i in range(1, 1000)]:
        mass = [p * (d == 0) + (1 - p) * q[d] for d in range(10)]
        goes_long = mass[0] > max(mass[1:])
        assert goes_long == (p > threshold) or abs(p - threshold) < 1e-9, (p, threshold)
    assert threshold == {0.1: 0.0, 0.0: 0.5}.get(q[0], threshold)

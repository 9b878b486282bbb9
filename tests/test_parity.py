"""The parity task: exact layouts, rewards, the classifier, and the p_cot mixture."""

import math

import torch

from cotmix.tasks import LONG, MALFORMED, SHORT, ParityTask
from cotmix.tasks.parity import EOS, PAD, SEP, chain_positions


def t(*tokens):
    return torch.tensor([tokens])


def test_long_and_short_layouts_match_the_docstring_example():
    task = ParityTask(d=4, p_cot=0.5)
    gen = torch.Generator().manual_seed(0)
    batch = task.sample(400, gen)
    for prompt, response, is_long in zip(batch.prompts, batch.responses, batch.is_long):
        bits = prompt[:4]
        assert prompt[4] == SEP
        prefix = bits.cumsum(0) % 2
        if is_long:
            assert response.tolist() == prefix.tolist() + [EOS]
        else:
            assert response.tolist() == [int(prefix[-1]), EOS, PAD, PAD, PAD]
    prompt, response = t(1, 0, 1, 1, SEP)[0], t(1, 1, 0, 1, EOS)[0]
    assert task.decode(prompt, response) == ("1011=", "1101<eos>")


def test_leap_chain_keeps_every_kth_prefix_and_ends_with_the_parity():
    assert chain_positions(5, 2) == [1, 3, 4]
    assert chain_positions(6, 2) == [1, 3, 5]
    assert chain_positions(6, 1) == [0, 1, 2, 3, 4, 5]
    task = ParityTask(d=5, p_cot=1.0, leap=2)
    batch = task.sample(50, torch.Generator().manual_seed(1))
    prefix = batch.prompts[:, :5].cumsum(1) % 2
    assert torch.equal(batch.responses[:, :3], prefix[:, [1, 3, 4]])
    assert (batch.responses[:, 3] == EOS).all()


def test_rewards_and_classifier_on_hand_made_responses():
    task = ParityTask(d=4, p_cot=0.5)
    prompt = t(1, 0, 1, 1, SEP)  # prefix parities 1 1 0 1, parity 1
    cases = {  # response: (kind, e2e, chain)
        (1, 1, 0, 1, EOS): (LONG, True, True),
        (1, 0, 0, 1, EOS): (LONG, True, False),  # wrong step, right final answer
        (1, 1, 0, 0, EOS): (LONG, False, False),
        (1, EOS, PAD, PAD, PAD): (SHORT, True, True),
        (0, EOS, PAD, PAD, PAD): (SHORT, False, False),
        (1, 0, EOS, PAD, PAD): (MALFORMED, False, False),  # wrong length, last token before EOS is 0
        (1, 1, EOS, PAD, PAD): (MALFORMED, True, False),  # e2e only looks at the final answer
        (1, 1, 0, 1, 1): (MALFORMED, False, False),  # no EOS
        (EOS, PAD, PAD, PAD, PAD): (MALFORMED, False, False),  # empty answer
        (SEP, EOS, PAD, PAD, PAD): (MALFORMED, False, False),
    }
    for response, (kind, e2e, chain) in cases.items():
        r = t(*response)
        assert int(task.classify(prompt, r)) == kind, response
        assert bool(task.answer_correct(prompt, r)) == e2e, response
        assert float(task.reward(prompt, r, "e2e")) == float(e2e)
        assert float(task.reward(prompt, r, "chain")) == float(chain), response


def test_narrow_responses_are_judged_too():
    task = ParityTask(d=4, p_cot=0.5)
    prompt = t(1, 0, 1, 1, SEP)
    assert int(task.classify(prompt, t(1, EOS))) == SHORT
    assert bool(task.chain_correct(prompt, t(1, EOS)))


def test_fraction_of_long_demonstrations_is_binomial_around_p_cot():
    n, p = 20000, 0.2
    batch = ParityTask(d=8, p_cot=p).sample(n, torch.Generator().manual_seed(3))
    tolerance = 4 * math.sqrt(p * (1 - p) / n)  # 4 standard errors of a binomial mean
    assert abs(batch.is_long.float().mean().item() - p) < tolerance
    bits_mean = batch.prompts[:, :8].float().mean().item()
    assert abs(bits_mean - 0.5) < 4 * math.sqrt(0.25 / (n * 8))


def test_same_seed_same_data_and_fresh_data_each_call():
    task = ParityTask(d=8, p_cot=0.3)
    a = task.sample(64, torch.Generator().manual_seed(5))
    b = task.sample(64, torch.Generator().manual_seed(5))
    assert torch.equal(a.sequences(), b.sequences())
    gen = torch.Generator().manual_seed(5)
    first, second = task.sample(64, gen), task.sample(64, gen)
    assert not torch.equal(first.prompts, second.prompts)


def test_chain_token_mask_covers_chain_steps_of_long_rows_only():
    task = ParityTask(d=4, p_cot=0.5)
    batch = task.sample(32, torch.Generator().manual_seed(0))
    mask = task.chain_token_mask(batch)
    assert not mask[~batch.is_long].any()
    assert mask[batch.is_long][:, 1:4].all() and not mask[batch.is_long][:, [0, 4]].any()


def test_noisy_chains_have_one_wrong_step_then_correct_xors():
    n, d, q = 20000, 8, 0.3
    task = ParityTask(d=d, p_cot=0.5, chain_noise=q)
    batch = task.sample(n, torch.Generator().manual_seed(4))
    bits = batch.prompts[:, :d]
    chain = batch.responses[:, :d]
    # Each step's XOR: c_i = c_{i-1} XOR x_i holds at every step but one in a noisy chain.
    previous = torch.cat([torch.zeros(n, 1, dtype=torch.long), chain[:, :-1]], dim=1)
    wrong_steps = ((previous ^ bits) != chain).sum(dim=1)
    long, short = batch.is_long, ~batch.is_long
    assert set(wrong_steps[long].tolist()) <= {0, 1}
    noisy = long & (wrong_steps == 1)
    assert not task.answer_correct(batch.prompts[noisy], batch.responses[noisy]).any()
    assert task.answer_correct(batch.prompts[short], batch.responses[short]).all()
    share = noisy.sum().item() / long.sum().item()
    assert abs(share - q) < 4 * math.sqrt(q * (1 - q) / long.sum().item())  # binomial, 4 standard errors
    clean = ParityTask(d=d, p_cot=0.5).sample(64, torch.Generator().manual_seed(4))
    again = ParityTask(d=d, p_cot=0.5, chain_noise=0.0).sample(64, torch.Generator().manual_seed(4))
    assert torch.equal(clean.sequences(), again.sequences())  # noise 0 keeps the random stream

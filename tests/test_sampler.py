"""The sampler (nanochat's list): cache = recompute, greedy deterministic, seeds reproduce,
max tokens respected, samples in a group differ, log-probs are the policy's."""

import math

import pytest
import torch
import torch.nn.functional as F

from cotmix.config import ModelConfig
from cotmix.model.sampler import generate
from cotmix.model.transformer import Transformer

EOS, PAD = 3, 4


@pytest.fixture(params=["gpt2", "llama"])
def model(request):
    torch.manual_seed(1)
    m = Transformer(ModelConfig(flavour=request.param, n_layer=2, d_model=32, n_head=4), 5, 32)
    with torch.no_grad():  # make EOS rare-ish so that rows run for a while
        m.lm_head.weight[EOS] *= 0.1
    return m


def prompts(n=6, length=7, seed=0):
    return torch.randint(0, 2, (n, length), generator=torch.Generator().manual_seed(seed))


def run(model, p, **kw):
    kw.setdefault("max_new_tokens", 12)
    return generate(model, p, eos_id=EOS, pad_id=PAD, **kw)


def test_greedy_is_deterministic(model):
    a, b = run(model, prompts(), temperature=0), run(model, prompts(), temperature=0)
    assert torch.equal(a.tokens, b.tokens)


def test_seed_reproduces_and_other_seed_differs(model):
    def sample(seed):
        return run(model, prompts(), group_size=4, temperature=1.0, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(sample(7).tokens, sample(7).tokens)
    assert not torch.equal(sample(7).tokens, sample(8).tokens)


def test_samples_in_a_group_differ(model):
    out = run(model, prompts(2), group_size=8, temperature=1.0, generator=torch.Generator().manual_seed(0))
    for group in out.tokens.view(2, 8, -1):
        assert len({tuple(row.tolist()) for row in group}) > 1


@pytest.mark.parametrize("limit", [1, 3, 12])
def test_max_new_tokens_is_respected(model, limit):
    out = run(model, prompts(), temperature=1.0, max_new_tokens=limit, generator=torch.Generator().manual_seed(0))
    assert out.tokens.shape == (6, limit)
    assert (out.lengths <= limit).all()


def test_rows_stop_at_eos_and_are_padded(model):
    out = run(model, prompts(16), group_size=4, temperature=1.5, generator=torch.Generator().manual_seed(2))
    for row, mask in zip(out.tokens, out.mask):
        length = int(mask.sum())
        assert mask[:length].all() and not mask[length:].any()
        assert (row[length:] == PAD).all()
        assert EOS not in row[: length - 1].tolist()


def test_logprobs_equal_recomputed_policy_logprobs(model):
    p = prompts()
    out = run(model, p, group_size=3, temperature=0.7, generator=torch.Generator().manual_seed(4))
    rows = p.repeat_interleave(3, dim=0)
    with torch.no_grad():
        logits = model(torch.cat([rows, out.tokens], 1)[:, :-1])[:, p.shape[1] - 1 :] / 0.7
    recomputed = F.log_softmax(logits, -1).gather(2, out.tokens[..., None]).squeeze(-1)
    assert torch.allclose(recomputed[out.mask], out.logprobs[out.mask], atol=1e-5)
    assert (out.logprobs[~out.mask] == 0).all()


def test_group_rows_share_the_prompt_prefill(model):
    p = prompts(3)
    grouped = run(model, p, group_size=4, temperature=0)
    single = run(model, p, temperature=0)
    assert torch.equal(grouped.tokens[::4], single.tokens)


def test_top_k_one_is_greedy(model):
    p = prompts()
    a = run(model, p, temperature=1.0, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.tokens, run(model, p, temperature=0).tokens)


def test_sampled_first_tokens_follow_the_softmax():
    """Frequencies of the first sampled token match softmax(logits / T) within 4 binomial errors."""
    torch.manual_seed(3)
    m = Transformer(ModelConfig(n_layer=1, d_model=16, n_head=2), 5, 16)
    p = prompts(1)
    n, temperature = 20000, 0.8
    out = run(m, p, group_size=n, temperature=temperature, max_new_tokens=1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        probs = F.softmax(m(p)[0, -1] / temperature, -1)
    counts = torch.bincount(out.tokens[:, 0], minlength=5).float() / n
    for q, f in zip(probs.tolist(), counts.tolist()):
        assert abs(f - q) < 4 * math.sqrt(q * (1 - q) / n) + 1e-9


def test_dropping_finished_rows_changes_no_greedy_token():
    """Greedy decoding with a cache, finished rows leaving the batch, equals decoding each
    prompt alone by recomputing the whole sequence every step."""
    torch.manual_seed(0)
    m = Transformer(ModelConfig(n_layer=2, d_model=32, n_head=4), 5, 32)
    with torch.no_grad():  # EOS likely enough that rows finish at many different steps
        m.lm_head.weight[EOS] += 0.6 * m.lm_head.weight[0]
    p = prompts(40, seed=5)
    out = run(m, p, temperature=0, max_new_tokens=16)
    lengths = out.lengths
    # over a quarter of the rows finish while others go on: those leave the batch mid-decode
    assert (lengths < lengths.max()).float().mean() >= 0.25
    for prompt, tokens, length in zip(p, out.tokens, lengths.tolist()):
        seq = prompt[None]
        with torch.no_grad():
            for _ in range(length):
                seq = torch.cat([seq, m(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
        assert torch.equal(seq[0, p.shape[1]:], tokens[:length])

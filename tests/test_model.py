"""The transformer: both flavours are causal, and the KV cache reproduces a full forward pass."""

import pytest
import torch

from cotmix.config import ModelConfig
from cotmix.model.sampler import KVCache
from cotmix.model.transformer import Transformer


@pytest.fixture(params=["gpt2", "llama"])
def model(request):
    torch.manual_seed(0)
    return Transformer(ModelConfig(flavour=request.param, n_layer=2, d_model=32, n_head=4), vocab_size=5,
                       max_seq_len=24).eval()


def test_logits_shape(model):
    idx = torch.randint(0, 5, (3, 10))
    assert model(idx).shape == (3, 10, 5)


def test_future_tokens_do_not_change_past_logits(model):
    idx = torch.randint(0, 5, (2, 12))
    changed = idx.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 5
    with torch.no_grad():
        assert torch.allclose(model(idx)[:, :8], model(changed)[:, :8], atol=1e-6)
        assert not torch.allclose(model(idx)[:, 8:], model(changed)[:, 8:], atol=1e-3)


def test_cached_logits_equal_full_recompute(model):
    idx = torch.randint(0, 5, (4, 20))
    with torch.no_grad():
        full = model(idx)
        cache = KVCache.for_model(model, batch=4, max_len=20)
        pieces = [model(idx[:, :11], kv_cache=cache)]  # prefill
        pieces += [model(idx[:, t : t + 1], kv_cache=cache) for t in range(11, 17)]  # one token at a time
        pieces.append(model(idx[:, 17:], kv_cache=cache))  # several tokens after a prefix (masked path)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


def test_last_only_prefill_gives_the_last_logits_and_fills_the_cache(model):
    idx = torch.randint(0, 5, (4, 12))
    with torch.no_grad():
        full = model(idx)
        cache = KVCache.for_model(model, batch=4, max_len=12)
        last = model(idx[:, :11], kv_cache=cache, last_only=True)
        assert last.shape == (4, 1, 5)
        assert torch.allclose(last[:, 0], full[:, 10], atol=1e-5)
        # the cache holds every prompt position: the next token decodes as in a full pass
        assert torch.allclose(model(idx[:, 11:], kv_cache=cache)[:, 0], full[:, 11], atol=1e-5)


def test_training_attention_equals_the_forward_only_path(model):
    """Forward-only prefills on the CPU use plain matmul attention, training uses SDPA."""
    idx = torch.randint(0, 5, (3, 15))
    with torch.no_grad():
        inference = model(idx)
    assert torch.allclose(model(idx), inference, atol=1e-5)


def test_too_long_sequence_is_refused(model):
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 25, dtype=torch.long))


def test_flavours_differ_in_their_parts():
    gpt2 = Transformer(ModelConfig(flavour="gpt2", d_model=32, n_head=4), 5, 16)
    llama = Transformer(ModelConfig(flavour="llama", d_model=32, n_head=4), 5, 16)
    assert gpt2.pos_embed is not None and llama.pos_embed is None
    assert isinstance(gpt2.blocks[0].norm1, torch.nn.LayerNorm)
    x = torch.randn(3, 32) + 5.0  # far from zero mean: LayerNorm would centre it, RMSNorm only rescales
    y = llama.blocks[0].norm1(x)
    assert torch.allclose(y.pow(2).mean(-1), torch.ones(3), atol=1e-3) and (y.mean(-1) > 0.5).all()
    assert llama.blocks[0].mlp.gated and not gpt2.blocks[0].mlp.gated


def test_length_buckets_cover_every_row_once_and_stay_few():
    from cotmix.model.buckets import length_buckets

    two = torch.tensor([23, 42, 23, 23, 42])
    groups = length_buckets(two)
    assert sorted(len(g) for g in groups) == [2, 3]
    assert all(len(two[g].unique()) == 1 for g in groups)  # one length per group
    many = torch.randint(1, 50, (101,), generator=torch.Generator().manual_seed(0))
    groups = length_buckets(many, max_buckets=4)
    assert len(groups) == 4
    assert sorted(torch.cat(groups).tolist()) == list(range(101))
    assert all(many[a].max() <= many[b].min() for a, b in zip(groups, groups[1:]))  # sorted by length

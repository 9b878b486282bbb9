"""Batched generation with a KV cache, kept apart from the model.

Each prompt is prefilled once; its cache is then copied to the `group_size` samples of
its group, which decode together one token per step. A row stops at its EOS (later
positions hold PAD and are masked out), and finished rows are dropped from the batch as
they accumulate; decoding ends when every row has stopped or `max_new_tokens` is reached.
The result carries what RL needs: the response tokens, a mask of the real response tokens
(EOS included) and their log-probabilities under the sampling policy
softmax(logits / temperature) (temperature 0 = greedy; its log-probs are those of the
untempered logits).

    gen = generate(model, prompts, group_size=8, max_new_tokens=21, temperature=1.0,
                   eos_id=task.eos_id, pad_id=task.pad_id, generator=g)
    gen.tokens      # (prompts * 8, 21), rows of one prompt are adjacent
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


class KVCache:
    """Preallocated keys/values for every layer: (batch, heads, max_len, head_dim) each."""

    def __init__(self, n_layer: int, batch: int, n_head: int, max_len: int, head_dim: int,
                 dtype=torch.float32, device="cpu"):
        shape = (n_layer, batch, n_head, max_len, head_dim)
        self.keys = torch.empty(shape, dtype=dtype, device=device)
        self.values = torch.empty(shape, dtype=dtype, device=device)
        self.pos = 0  # tokens cached so far

    @classmethod
    def for_model(cls, model, batch: int, max_len: int, dtype=torch.float32, device="cpu") -> "KVCache":
        cfg = model.cfg
        return cls(cfg.n_layer, batch, cfg.n_head, max_len, cfg.d_model // cfg.n_head, dtype, device)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Write the new (batch, heads, seq, head_dim) keys/values after the cached ones and
        return views of everything cached for this layer."""
        end = self.pos + k.shape[2]
        self.keys[layer, :, :, self.pos : end] = k
        self.values[layer, :, :, self.pos : end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    def advance(self, n: int) -> None:
        """Called by the model once all layers have written the n new positions."""
        self.pos += n

    def repeat_interleave(self, repeats: int) -> "KVCache":
        """A cache for batch * repeats rows: row i of this cache becomes rows i*repeats..(i+1)*repeats-1."""
        out = KVCache.__new__(KVCache)
        out.keys = self.keys.repeat_interleave(repeats, dim=1)
        out.values = self.values.repeat_interleave(repeats, dim=1)
        out.pos = self.pos
        return out

    def select_rows(self, rows: torch.Tensor) -> "KVCache":
        """A cache holding only `rows` (an index or bool mask over the batch), in that order."""
        out = KVCache.__new__(KVCache)
        out.keys, out.values, out.pos = self.keys[:, rows], self.values[:, rows], self.pos
        return out


@dataclass
class Generation:
    """tokens:   (rows, max_new_tokens) long, PAD after EOS
    mask:     (rows, max_new_tokens) bool, True on generated tokens up to and including EOS
    logprobs: (rows, max_new_tokens) float, log-prob of each token under the sampling policy (0 where masked)
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    logprobs: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)


def next_token(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None):
    """logits (rows, vocab) -> (token (rows,), log-prob (rows,)) under the sampling policy."""
    if temperature == 0:
        logp = F.log_softmax(logits.float(), dim=-1)
        token = logits.argmax(dim=-1)
        return token, logp.gather(1, token[:, None]).squeeze(1)
    scaled = logits.float() / temperature
    if top_k and top_k < scaled.shape[-1]:
        kth = scaled.topk(top_k, dim=-1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    logp = F.log_softmax(scaled, dim=-1)
    # Drawn where the generator lives (cotmix's are all on the CPU), so that a seed gives the same
    # tokens on any device. On a GPU this copies (rows, vocab) probabilities per step; decoding
    # syncs every step anyway to see which rows are done.
    where = generator.device if generator is not None else logp.device
    token = torch.multinomial(logp.exp().to(where), 1, generator=generator).squeeze(1).to(logp.device)
    return token, logp.gather(1, token[:, None]).squeeze(1)


@torch.no_grad()
def generate(model, prompts: torch.Tensor, *, max_new_tokens: int, eos_id: int, pad_id: int,
             group_size: int = 1, temperature: float = 1.0, top_k: int = 0,
             generator: torch.Generator | None = None) -> Generation:
    """Sample group_size responses for each of the (batch, prompt_len) prompts."""
    was_training = model.training
    model.eval()
    batch, prompt_len = prompts.shape
    rows = batch * group_size
    device = prompts.device
    dtype = getattr(model, "autocast_dtype", None) or next(model.parameters()).dtype
    cache = KVCache.for_model(model, batch, prompt_len + max_new_tokens, dtype, device)
    logits = model(prompts, kv_cache=cache, last_only=True)[:, -1]  # (batch, vocab): prefill once per prompt
    if group_size > 1:
        cache = cache.repeat_interleave(group_size)
        logits = logits.repeat_interleave(group_size, dim=0)

    tokens = torch.full((rows, max_new_tokens), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((rows, max_new_tokens), dtype=torch.bool, device=device)
    logprobs = torch.zeros((rows, max_new_tokens), device=device)
    alive = torch.ones(rows, dtype=torch.bool, device=device)
    active = torch.arange(rows, device=device)  # rows still fed to the model: the alive ones and a few finished
    for t in range(max_new_tokens):
        token, logp = next_token(logits, temperature, top_k, generator)  # one per active row
        live = alive[active]
        tokens[active, t] = torch.where(live, token, pad_id)
        mask[active, t] = live
        logprobs[active, t] = torch.where(live, logp, 0.0)
        alive[active] = live & (token != eos_id)
        if not alive.any() or t == max_new_tokens - 1:
            break
        # Finished rows leave the batch (and the cache) once they are a quarter of it: after a
        # parity model's 2-token short answers, three quarters of the decoding work is gone.
        # Until then they are fed PAD, and their tokens are masked out above.
        still = alive[active]
        if 4 * int(still.sum()) < 3 * len(active):
            active, cache = active[still], cache.select_rows(still)
        logits = model(tokens[active, t : t + 1], kv_cache=cache)[:, -1]
    model.train(was_training)
    return Generation(tokens, mask, logprobs)

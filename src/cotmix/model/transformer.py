"""A small decoder-only transformer in two flavours, trained from scratch.

- `gpt2`:  learned absolute positions, LayerNorm, GELU MLP, biases.
- `llama`: rotary positions (RoPE), RMSNorm, SwiGLU MLP, no biases.

`forward(idx)` returns logits `(batch, seq, vocab)`. During generation the sampler passes
a KV cache (see `cotmix.model.sampler.KVCache`): the model writes each layer's keys and values
into it and attends over everything cached so far. The loss lives with the trainers,
because which positions carry loss is the task's business.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F

from cotmix.config import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rotary_tables(head_dim: int, max_len: int, base: float = 10000.0):
    """cos and sin tables, each (max_len, head_dim / 2)."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(max_len).float(), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    """Rotate pairs (first half, second half) of x: (batch, heads, seq, head_dim) by per-position angles."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def plain_attention(q, k, v, allowed=None):
    """softmax(q k^T / sqrt(head_dim)) v over (batch, heads, seq, head_dim); `allowed`
    (queries, keys) bool masks out the False pairs."""
    scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_idx: int, bias: bool, rotary: bool):
        super().__init__()
        self.n_head, self.head_dim, self.layer_idx, self.rotary = cfg.n_head, cfg.d_model // cfg.n_head, layer_idx, rotary
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=bias)

    def forward(self, x, rope, kv_cache=None, last_only=False):
        """x (batch, seq, width) -> (batch, seq, width); with last_only, (batch, 1, width): the
        output of the last position only (every position's keys and values still reach the cache)."""
        batch, seq, width = x.shape
        q, k, v = self.qkv(x).view(batch, seq, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        start = 0 if kv_cache is None else kv_cache.pos
        if self.rotary:
            cos, sin = rope[0][start : start + seq], rope[1][start : start + seq]
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if kv_cache is not None:
            k, v = kv_cache.update(self.layer_idx, k, v)  # now (batch, heads, start + seq, head_dim)
        if last_only:
            q, seq = q[:, :, -1:], 1
        if seq == 1:
            # One query attends to every key before it: no mask. Plain matmuls beat CPU SDPA's
            # flash kernel here by ~2.4x (measured at 1024 rows, 4 heads of 16, 42 keys).
            out = plain_attention(q, k, v)
        elif start == 0 and q.device.type == "cpu" and not torch.is_grad_enabled():
            # A prefill (forward only): plain matmuls with a causal mask are ~2.5x faster than CPU
            # SDPA at 1024 rows x 21 positions. With a backward pass SDPA is the faster one.
            out = plain_attention(q, k, v, torch.ones(seq, seq, dtype=torch.bool, device=q.device).tril())
        elif start == 0:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            keys, queries = torch.arange(k.shape[2], device=q.device), torch.arange(seq, device=q.device)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=keys[None, :] <= start + queries[:, None])
        return self.proj(out.transpose(1, 2).reshape(batch, seq, width))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig, gated: bool, bias: bool):
        super().__init__()
        hidden = int(cfg.mlp_ratio * cfg.d_model)
        self.gated = gated
        self.up = nn.Linear(cfg.d_model, (2 if gated else 1) * hidden, bias=bias)
        self.down = nn.Linear(hidden, cfg.d_model, bias=bias)

    def forward(self, x):
        h = self.up(x)
        if self.gated:  # SwiGLU: silu(gate) * value
            gate, value = h.chunk(2, dim=-1)
            return self.down(F.silu(gate) * value)
        return self.down(F.gelu(h))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_idx: int):
        super().__init__()
        llama = cfg.flavour == "llama"
        norm = (lambda: RMSNorm(cfg.d_model)) if llama else (lambda: nn.LayerNorm(cfg.d_model))
        self.norm1, self.norm2 = norm(), norm()
        self.attn = Attention(cfg, layer_idx, bias=not llama, rotary=llama)
        self.mlp = MLP(cfg, gated=llama, bias=not llama)

    def forward(self, x, rope, kv_cache=None, last_only=False):
        attn = self.attn(self.norm1(x), rope, kv_cache, last_only)
        x = (x[:, -1:] if last_only else x) + attn
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    # Set by cotmix.model.device.place: bf16 runs every forward pass under autocast (weights, optimizer
    # state and the returned logits stay fp32). None = plain fp32.
    autocast_dtype: torch.dtype | None = None

    def __init__(self, cfg: ModelConfig, vocab_size: int, max_seq_len: int):
        super().__init__()
        self.cfg, self.vocab_size, self.max_seq_len = cfg, vocab_size, max_seq_len
        llama = cfg.flavour == "llama"
        self.embed = nn.Embedding(vocab_size, cfg.d_model)
        self.pos_embed = None if llama else nn.Embedding(max_seq_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.norm_f = RMSNorm(cfg.d_model) if llama else nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, vocab_size, bias=False)
        if llama:
            cos, sin = rotary_tables(cfg.d_model // cfg.n_head, max_seq_len)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections that write into the residual stream keeps
        # its variance independent of depth.
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, kv_cache=None, last_only: bool = False) -> torch.Tensor:
        """idx: (batch, seq) token ids -> logits (batch, seq, vocab). With a cache, idx holds
        only the new tokens, placed after the kv_cache.pos tokens already cached.

        last_only -> logits (batch, 1, vocab) of the last position, as a prefill needs. The last
        block then runs attention and MLP for that position alone: the other positions' outputs
        there feed nothing (the cache takes their keys and values before). For a 2-layer model
        that skips about a third of the prefill's matmul FLOPs."""
        start = 0 if kv_cache is None else kv_cache.pos
        seq = idx.shape[1]
        if start + seq > self.max_seq_len:
            raise ValueError(f"sequence of {start + seq} tokens exceeds the model's max_seq_len={self.max_seq_len}")
        bf16 = self.autocast_dtype is not None
        with torch.autocast(idx.device.type, dtype=self.autocast_dtype) if bf16 else nullcontext():
            x = self.embed(idx)
            rope = None
            if self.pos_embed is not None:
                x = x + self.pos_embed(torch.arange(start, start + seq, device=idx.device))
            else:
                rope = (self.rope_cos, self.rope_sin)
            for i, block in enumerate(self.blocks):
                x = block(x, rope, kv_cache, last_only and i == len(self.blocks) - 1)
            if kv_cache is not None:
                kv_cache.advance(seq)
            logits = self.lm_head(self.norm_f(x))
        return logits.float()  # losses and log-probs in fp32 whatever the matmuls ran in

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(cfg: ModelConfig, task) -> Transformer:
    """A model sized for the task: room for the prompt and the longest response allowed."""
    return Transformer(cfg, task.vocab_size, task.prompt_len + task.max_response_len)

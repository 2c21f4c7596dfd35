"""Semantic module of MingTok-Audio: acoustic latent -> unified embedding (the LLM's audio input).

latent [B, T, latent_dim] -> decoder.fc1 -> exact GELU -> decoder.fc2 -> Whisper-style pre-LayerNorm
blocks (causal self-attention with torchtune-style interleaved-pair RoPE, 4x GELU MLP) -> ln_post
-> [B, T, n_state]. Checkpoint prefix ``audio.decoder.``; this module claims only ``fc1``, ``fc2``
and ``semantic_model.*`` (``fc3`` feeds a training-only path and stays unclaimed).

Everything is causal, so it can run incrementally: pass a :class:`SemanticCache` and each call
appends its frames, with positions continuing from the cache length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ming_edit.errors import CheckpointError
from ming_edit.model.config import MingConfig

ROPE_BASE = 10000.0


class SemanticCache:
    """Keys/values of every block for the frames seen so far ([B, heads, frames, head_dim] each).

    Each layer's keys/values live in a buffer with doubling capacity, so a generated patch is
    written in place instead of copying the whole history (torch.cat) at every step.
    """

    def __init__(self) -> None:
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        self._lengths: list[int] = []

    @property
    def length(self) -> int:
        """Number of frames already in the cache (= position of the next frame)."""
        return self._lengths[0] if self._lengths else 0

    def append(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add this chunk's key/value for ``layer``; returns views of the full key/value sequences."""
        if layer == len(self._keys):
            self._keys.append(key.new_empty(key.shape[:2] + (0,) + key.shape[3:]))
            self._values.append(value.new_empty(value.shape[:2] + (0,) + value.shape[3:]))
            self._lengths.append(0)
        start = self._lengths[layer]
        end = start + key.shape[2]
        if self._keys[layer].shape[2] < end:
            capacity = max(end, 2 * self._keys[layer].shape[2], 64)
            self._keys[layer] = _grown(self._keys[layer], start, capacity)
            self._values[layer] = _grown(self._values[layer], start, capacity)
        self._keys[layer][:, :, start:end] = key
        self._values[layer][:, :, start:end] = value
        self._lengths[layer] = end
        return self._keys[layer][:, :, :end], self._values[layer][:, :, :end]

    def clone(self) -> "SemanticCache":
        """An independent copy (the buffers are written in place, so they are copied)."""
        copy = SemanticCache()
        copy._keys = [k[:, :, :n].clone() for k, n in zip(self._keys, self._lengths)]
        copy._values = [v[:, :, :n].clone() for v, n in zip(self._values, self._lengths)]
        copy._lengths = list(self._lengths)
        return copy


def _grown(buffer: torch.Tensor, used: int, capacity: int) -> torch.Tensor:
    """A buffer of ``capacity`` frames holding the first ``used`` frames of ``buffer``."""
    grown = buffer.new_empty(buffer.shape[:2] + (capacity,) + buffer.shape[3:])
    grown[:, :, :used] = buffer[:, :, :used]
    return grown


def interleaved_rope(x: torch.Tensor, start: int) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) of [B, T, heads, head_dim] by (start + t) * base^(-2i/head_dim).

    Matches torchtune's RotaryPositionalEmbeddings: angles and rotation in float32, result cast back.
    """
    head_dim = x.shape[-1]
    exponents = torch.arange(0, head_dim, 2, device=x.device)[: head_dim // 2].float() / head_dim
    theta = 1.0 / (ROPE_BASE ** exponents)
    positions = torch.arange(start, start + x.shape[1], device=x.device, dtype=torch.float32)
    angles = positions[:, None] * theta[None, :]  # [T, head_dim/2]
    cos = torch.cos(angles)[None, :, None, :]
    sin = torch.sin(angles)[None, :, None, :]
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1)
    return rotated.flatten(3).type_as(x)


def layer_norm_f32(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm computed in float32 (as upstream), result in the input dtype."""
    weight = None if norm.weight is None else norm.weight.float()
    bias = None if norm.bias is None else norm.bias.float()
    return F.layer_norm(x.float(), norm.normalized_shape, weight, bias, norm.eps).type(x.dtype)


class SelfAttention(nn.Module):
    """Causal multi-head attention; query/value/out have a bias, key has none."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        if n_state % n_head:
            raise CheckpointError(f"semantic module: n_state {n_state} is not divisible by n_head {n_head}")
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: torch.Tensor, layer: int, start: int, cache: SemanticCache | None) -> torch.Tensor:
        batch, frames, _ = x.shape
        split = (batch, frames, self.n_head, -1)
        q = interleaved_rope(self.query(x).view(split), start).transpose(1, 2)
        k = interleaved_rope(self.key(x).view(split), start).transpose(1, 2)
        v = self.value(x).view(split).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        out = F.scaled_dot_product_attention(q, k, v, **causal_mask_args(frames, k.shape[2], x.device))
        return self.out(out.transpose(1, 2).reshape(batch, frames, -1))


def causal_mask_args(q_len: int, k_len: int, device: torch.device) -> dict:
    """SDPA arguments for a causal mask aligned to the bottom-right (query i sits at k_len - q_len + i)."""
    if q_len == k_len:
        return {"is_causal": True}
    if q_len == 1:
        return {}
    offset = k_len - q_len
    rows = torch.arange(q_len, device=device)[:, None] + offset
    return {"attn_mask": torch.arange(k_len, device=device)[None, :] <= rows}


class ResidualBlock(nn.Module):
    """Pre-LN Whisper block. Keys: attn.*, attn_ln.*, mlp.0.*, mlp.2.*, mlp_ln.*."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = SelfAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: torch.Tensor, layer: int, start: int, cache: SemanticCache | None) -> torch.Tensor:
        x = x + self.attn(layer_norm_f32(self.attn_ln, x), layer, start, cache)
        return x + self.mlp(layer_norm_f32(self.mlp_ln, x))


class WhisperStyleEncoder(nn.Module):
    """The ``semantic_model`` stack: blocks + ln_post."""

    def __init__(self, n_state: int, n_head: int, n_layer: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([ResidualBlock(n_state, n_head) for _ in range(n_layer)])
        self.ln_post = nn.LayerNorm(n_state)

    def forward(self, x: torch.Tensor, cache: SemanticCache | None) -> torch.Tensor:
        start = cache.length if cache is not None else 0
        for layer, block in enumerate(self.blocks):
            x = block(x, layer, start, cache)
        return layer_norm_f32(self.ln_post, x)


class SemanticModule(nn.Module):
    """latent [B, T, latent_dim] -> unified embedding [B, T, n_state]; prefix ``audio.decoder.``."""

    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        audio = config.audio
        dims = (audio.semantic_n_state, audio.semantic_n_head, audio.semantic_n_layer)
        if any(d is None for d in dims):
            raise CheckpointError("this audio tokenizer checkpoint has no semantic module (semantic_module_kwargs)")
        hidden = int(audio.dec_backbone["hidden_size"])
        self.fc1 = nn.Linear(audio.latent_dim, hidden)
        self.fc2 = nn.Linear(hidden, audio.semantic_n_state)
        self.semantic_model = WhisperStyleEncoder(*dims)

    @property
    def n_state(self) -> int:
        return self.fc2.out_features

    def new_cache(self) -> SemanticCache:
        return SemanticCache()

    def forward(self, latent: torch.Tensor, cache: SemanticCache | None = None) -> torch.Tensor:
        """Embed ``latent`` [B, T, latent_dim] (any float dtype; cast to the module's).

        Without a cache the frames are positions 0..T-1. With a cache the chunk is appended to it
        (the cache is updated in place) and positions continue from ``cache.length``; feeding a
        sequence in chunks through one cache gives the same result as one call on the whole.
        Returns [B, T, n_state] in the module dtype.
        """
        x = latent.to(self.fc1.weight.dtype)
        if x.shape[1] == 0:  # nothing to embed; the cache is left as it is
            return x.new_zeros((x.shape[0], 0, self.n_state))
        x = self.fc2(F.gelu(self.fc1(x)))
        return self.semantic_model(x, cache)

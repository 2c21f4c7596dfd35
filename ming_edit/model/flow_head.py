"""Per-token flow-matching head: the DiT velocity model of Ming-UniAudio (``flowloss.cfm.model.*``).

One call sees the token sequence [t_embed(t) + c_embed(c) (1 token), x_embed(latent_history) (P'),
x_embed(x) (P)] with bidirectional attention and returns the velocity of the last P tokens.

Everything that does not depend on (x, t) - the condition and history embeddings and the rotary
tables - is computed once per patch in ``DiT.prepare``; the sampler then calls ``DiT.velocity``
once per solver step. ``forward`` / ``forward_with_cfg`` keep upstream's one-shot call shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ming_edit.errors import CheckpointError
from ming_edit.model.config import FlowHeadConfig, MingConfig

TIME_FREQ_DIM = 256  # upstream TimestepEmbedder default: 128 sin + 128 cos features
ROPE_BASE = 10000.0
NORM_EPS = 1e-6


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * w, statistics in float32 (upstream's manual branch, which
    is what it runs on every torch whose version string starts "2.1", e.g. 2.11)."""

    def __init__(self, dim: int, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return x * self.weight


def timestep_sinusoid(t: torch.Tensor, dim: int = TIME_FREQ_DIM, scale: float = 1000.0) -> torch.Tensor:
    """[B] -> [B, dim]: [sin, cos] of scale*t times exp(-ln(10000) * i / (dim/2 - 1)), in float32.
    The expression order matches upstream so the features are bit-identical."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, device=t.device).float() * -step)
    angles = scale * t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.time_mlp = nn.Sequential(
            nn.Linear(TIME_FREQ_DIM, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size)
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        features = timestep_sinusoid(t).to(self.time_mlp[0].weight.dtype)
        return self.time_mlp(features)


class CondEmbedder(nn.Module):
    """LLM hidden state -> DiT width (upstream's training-time condition dropout is not needed)."""

    def __init__(self, llm_cond_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.cond_embedder = nn.Linear(llm_cond_dim, hidden_size)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.cond_embedder(c)


class InterleavedRotary(nn.Module):
    """x_transformers-style rotary embedding: frequency i rotates the pair (x[2i], x[2i+1]).

    ``inv_freq`` is a persistent buffer (it is stored in the checkpoint, and the loaded values are
    used). No xpos scaling and no interpolation: upstream builds RotaryEmbedding(head_dim) with
    the defaults, so angle = position * inv_freq exactly.
    """

    def __init__(self, dim: int, base: float = ROPE_BASE) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)))

    def tables(self, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each [seq_len, 2 * len(inv_freq)] with every frequency repeated twice.
        Always float32 (a half-precision model still gets exact angles)."""
        inv_freq = self.inv_freq.float()
        positions = torch.arange(seq_len, device=inv_freq.device).float()
        angles = positions[:, None] * inv_freq[None, :]
        angles = torch.stack((angles, angles), dim=-1).flatten(-2)
        return angles.cos(), angles.sin()


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first cos.shape[-1] channels of x [..., L, head_dim]; the rest pass through."""
    rot_dim = cos.shape[-1]
    if rot_dim == x.shape[-1]:
        return (x * cos + rotate_pairs(x) * sin).to(x.dtype)
    rotated, passthrough = x[..., :rot_dim], x[..., rot_dim:]
    rotated = rotated * cos + rotate_pairs(rotated) * sin
    return torch.cat((rotated, passthrough), dim=-1).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, qk_norm: str | None, rope_heads: int | None) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        inner = self.head_dim * heads
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        if qk_norm is None:
            self.q_norm = self.k_norm = None
        elif qk_norm == "rms_norm":
            self.q_norm = RMSNorm(self.head_dim)
            self.k_norm = RMSNorm(self.head_dim)
        else:
            raise CheckpointError(f"flow head: unsupported qk_norm {qk_norm!r} (expected null or 'rms_norm')")
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])  # upstream index 1 is a Dropout
        self.rope_heads = rope_heads  # upstream pe_attn_head: rotate only the first n heads

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        batch = x.shape[0]
        q, k, v = self._split(self.to_q(x)), self._split(self.to_k(x)), self._split(self.to_v(x))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = rope
        if self.rope_heads is None:
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        else:
            n = self.rope_heads
            q = torch.cat((apply_rotary(q[:, :n], cos, sin), q[:, n:]), dim=1)
            k = torch.cat((apply_rotary(k[:, :n], cos, sin), k[:, n:]), dim=1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch, -1, self.heads * self.head_dim).to(q.dtype)
        return self.to_out[0](out)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: float) -> None:
        super().__init__()
        inner = int(dim * mult)
        # Keys ff.0.0 / ff.2 as upstream (ff.1 is a Dropout there).
        self.ff = nn.Sequential(
            nn.Sequential(nn.Linear(dim, inner), nn.GELU(approximate="tanh")),
            nn.Identity(),
            nn.Linear(inner, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff(x)


class DiTBlock(nn.Module):
    def __init__(self, cfg: FlowHeadConfig, rope_heads: int | None) -> None:
        super().__init__()
        self.norm1 = RMSNorm(cfg.hidden_size)
        self.attn = Attention(cfg.hidden_size, cfg.num_heads, cfg.qk_norm, rope_heads)
        self.norm2 = RMSNorm(cfg.hidden_size)
        self.mlp = FeedForward(cfg.hidden_size, cfg.mlp_ratio)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class FinalLayer(nn.Module):
    def __init__(self, hidden_size: int, out_channels: int) -> None:
        super().__init__()
        self.norm_final = RMSNorm(hidden_size)
        self.linear = nn.Linear(hidden_size, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm_final(x))


@dataclass(frozen=True)
class FlowCondition:
    """Per-patch constants of the DiT input, built once by ``DiT.prepare``.

    With ``guided`` the model batch is [conditional; unconditional (c = 0)], i.e. 2 * batch rows.
    """

    cond_embed: torch.Tensor  # [rows, 1, H]
    history_embed: torch.Tensor  # [rows, P', H]
    rope: tuple[torch.Tensor, torch.Tensor]  # cos, sin: [1 + P' + P, rotary dim]
    patch_len: int  # P, the number of tokens being denoised
    batch: int  # B, caller's batch
    guided: bool

    @property
    def rows(self) -> int:
        return self.cond_embed.shape[0]


class DiT(nn.Module):
    """DiT velocity model; state_dict keys == checkpoint keys minus ``flowloss.cfm.model.``."""

    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        cfg = config.flow_head
        if cfg is None:
            raise CheckpointError("this checkpoint has no flow head (ditar_config)")
        self.config = cfg
        self.in_channels = cfg.in_channels
        rope_heads = cfg.extra.get("pe_attn_head")
        self.t_embedder = TimestepEmbedder(cfg.hidden_size)
        self.x_embedder = nn.Linear(cfg.in_channels, cfg.hidden_size)
        self.c_embedder = CondEmbedder(cfg.llm_cond_dim, cfg.hidden_size)
        self.rotary_embed = InterleavedRotary(cfg.hidden_size // cfg.num_heads)
        self.blocks = nn.ModuleList(DiTBlock(cfg, rope_heads) for _ in range(cfg.depth))
        self.final_layer = FinalLayer(cfg.hidden_size, cfg.in_channels)

    @property
    def dtype(self) -> torch.dtype:
        return self.x_embedder.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.x_embedder.weight.device

    def prepare(
        self, c: torch.Tensor, latent_history: torch.Tensor, *, guided: bool, patch_len: int | None = None
    ) -> FlowCondition:
        """Embed the condition c [B, 1, H_llm] and latent_history [B, P', D] once per patch.

        guided: build the [cond; uncond] batch of classifier-free guidance (c = 0 for uncond).
        patch_len: tokens of x that ``velocity`` will get (default P').
        """
        if c.dim() == 2:
            c = c.unsqueeze(1)
        if c.dim() != 3 or latent_history.dim() != 3 or c.shape[0] != latent_history.shape[0]:
            raise ValueError(
                f"flow head: expected c [B, 1, H] and latent_history [B, P, D], got "
                f"{tuple(c.shape)} and {tuple(latent_history.shape)}"
            )
        batch = c.shape[0]
        c = c.to(device=self.device, dtype=self.dtype)
        history = latent_history.to(device=self.device, dtype=self.dtype)
        if guided:
            history = torch.cat([history, history], dim=0)
            c = torch.cat([c, torch.zeros_like(c)], dim=0)
        patch_len = history.shape[1] if patch_len is None else patch_len
        return FlowCondition(
            cond_embed=self.c_embedder(c),
            history_embed=self.x_embedder(history),
            rope=self.rotary_embed.tables(1 + history.shape[1] + patch_len),
            patch_len=patch_len,
            batch=batch,
            guided=guided,
        )

    def time_embedding(self, t: torch.Tensor | float, cond: FlowCondition) -> torch.Tensor:
        """[cond.rows, 1, H] embedding of time t (0-d, or [B] / [rows]); depends on t only, so a
        sampler may compute it once per grid point and pass it to ``velocity``."""
        t = torch.as_tensor(t, device=self.device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.repeat(cond.rows)
        elif t.shape[0] != cond.rows:
            t = torch.cat([t, t], dim=0)
        return self.t_embedder(t).unsqueeze(1)

    def velocity(
        self, x: torch.Tensor, t: torch.Tensor | float, cond: FlowCondition, time_embed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Raw model velocity for x [B, P, D] at time t (0-d, or [B] / [rows]).

        ``time_embed``: ``time_embedding(t, cond)`` when the caller already has it.
        Returns [cond.rows, P, D]: with guidance the conditional rows come first, then the
        unconditional ones (the caller combines them).
        """
        if x.shape[1] != cond.patch_len or x.shape[0] not in (cond.batch, cond.rows):
            raise ValueError(f"flow head: x has shape {tuple(x.shape)}, condition was prepared for "
                             f"batch {cond.batch} x {cond.patch_len} tokens")
        x = x.to(device=self.device, dtype=self.dtype)
        if x.shape[0] != cond.rows:
            x = torch.cat([x, x], dim=0)
        if time_embed is None:
            time_embed = self.time_embedding(t, cond)
        tokens = torch.cat([time_embed + cond.cond_embed, cond.history_embed, self.x_embedder(x)], dim=1)
        for block in self.blocks:
            tokens = block(tokens, cond.rope)
        # Upstream applies the final layer to the whole sequence; slicing first would be cheaper
        # but changes the GEMM shape (and the last bits), and this layer is a negligible cost.
        return self.final_layer(tokens)[:, -cond.patch_len:]

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | float, c: torch.Tensor, latent_history: torch.Tensor
    ) -> torch.Tensor:
        """Conditional velocity [B, P, D] of x [B, P, D] (no guidance)."""
        return self.velocity(x, t, self.prepare(c, latent_history, guided=False, patch_len=x.shape[1]))

    def forward_with_cfg(
        self,
        x: torch.Tensor,
        t: torch.Tensor | float,
        c: torch.Tensor,
        cfg_scale: float,
        latent_history: torch.Tensor,
        patch_size: int | None = None,
    ) -> torch.Tensor:
        """Upstream's call: [2B, patch, D] ([cond; uncond]) if cfg_scale != 1, else [B, patch, D]."""
        cond = self.prepare(c, latent_history, guided=cfg_scale != 1, patch_len=x.shape[1])
        out = self.velocity(x, t, cond)
        return out if patch_size is None else out[:, -patch_size:]

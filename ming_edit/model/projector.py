"""LinearPooling: a patch of semantic-module frames -> one LLM input embedding.

Checkpoint prefix ``linear_proj_audio.``: ``final_layer.norm_final.weight`` (RMSNorm, eps 1e-6)
and ``final_layer.linear.{weight,bias}`` (semantic n_state -> LLM hidden). The frames of a
patch are normalised and projected one by one, then averaged.
"""

from __future__ import annotations

import torch
from torch import nn

from ming_edit.errors import CheckpointError
from ming_edit.model.config import MingConfig


class PatchNorm(nn.Module):
    """RMSNorm as in upstream's fm.modules (eps 1e-6): statistics in float32; the normalised
    value is cast to a half-precision weight's dtype before scaling."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return x * self.weight


class _FinalLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm_final = PatchNorm(in_dim)
        self.linear = nn.Linear(in_dim, out_dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm_final(x))


class LinearPooling(nn.Module):
    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        if config.llm is None or config.audio.semantic_n_state is None:
            raise CheckpointError("the projector needs both an LLM and a semantic module in the checkpoint")
        self.in_dim = int(config.audio.semantic_n_state)
        self.out_dim = int(config.llm.hidden_size)
        self.final_layer = _FinalLayer(self.in_dim, self.out_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames [N, P, D] (N patches of P frames) -> [N, 1, H]."""
        return self.final_layer(frames).mean(1)[:, None]

    def pool(self, unified_emb: torch.Tensor, patch_size: int) -> torch.Tensor:
        """unified_emb [B, T, D] -> [B, T // patch_size, H]; trailing frames that do not fill a
        patch are dropped."""
        if patch_size < 1:
            raise ValueError(f"patch_size must be positive, got {patch_size}")
        batch, frames, dim = unified_emb.shape
        n_patches = frames // patch_size
        if n_patches == 0:
            return unified_emb.new_zeros(batch, 0, self.out_dim)
        patches = unified_emb[:, : n_patches * patch_size].reshape(batch * n_patches, patch_size, dim)
        return self.forward(patches).reshape(batch, n_patches, self.out_dim)

"""Feed-forward blocks of the Bailing MoE LLM: SwiGLU MLPs, routers and the sparse MoE layer.

Checkpoint layout (under ``model.layers.N.mlp.``): ``gate``, optional ``audio_gate`` /
``image_gate`` (multi_gate), ``experts.E.{gate,up,down}_proj``, ``shared_experts.*``
(one SwiGLU of width moe_intermediate_size * num_shared_experts; zero width when 0), or a
dense ``{gate,up,down}_proj`` for layers below first_k_dense_replace.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ming_edit.errors import CheckpointError
from ming_edit.model.config import LLMConfig

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "silu": F.silu,
    "swish": F.silu,
    "gelu": F.gelu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise CheckpointError(f"llm_config.hidden_act: unsupported activation {name!r}")
    return ACTIVATIONS[name]


class SwiGLU(nn.Module):
    """down(act(gate(x)) * up(x)), no biases."""

    def __init__(self, hidden: int, intermediate: int, act: str) -> None:
        super().__init__()
        with warnings.catch_warnings():  # zero width (no shared experts) makes init warn
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
            self.up_proj = nn.Linear(hidden, intermediate, bias=False)
            self.down_proj = nn.Linear(intermediate, hidden, bias=False)
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    """Softmax (float32) over expert logits, top-k, optional renormalisation."""

    def __init__(self, cfg: LLMConfig) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cfg.num_experts, cfg.hidden_size))
        self.top_k = cfg.num_experts_per_tok
        self.renormalise = bool(cfg.norm_topk_prob) and self.top_k > 1
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, H] -> (expert ids [N, k] int64, weights [N, k] float32)."""
        scores = F.linear(x, self.weight).softmax(dim=-1, dtype=torch.float32)
        weights, ids = torch.topk(scores, k=self.top_k, dim=-1)
        if self.renormalise:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return ids, weights


def dispatch_experts(
    x: torch.Tensor, ids: torch.Tensor, weights: torch.Tensor, experts: nn.ModuleList,
    run: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Weighted sum of each token's top-k expert outputs, running every expert once on the
    tokens routed to it (token slots sorted by expert id). ``run(expert_id, rows)`` replaces
    ``experts[expert_id](rows)`` (expert offload: model/offload.py).

    x [N, H]; ids [N, k]; weights [N, k] float32 -> [N, H] in x's dtype.
    """
    run = run or (lambda expert_id, rows: experts[expert_id](rows))
    n_tokens, k = ids.shape
    if n_tokens == 1:  # a decode step: run the token's experts directly (same per-expert GEMMs)
        slot_outputs = torch.cat([run(e, x) for e in ids[0].tolist()], dim=0)
        mixed = (slot_outputs.view(1, k, -1).float() * weights.unsqueeze(-1)).sum(dim=1)
        return mixed.to(x.dtype)
    flat_ids = ids.reshape(-1)
    order = torch.argsort(flat_ids, stable=True)
    counts = torch.bincount(flat_ids, minlength=len(experts)).tolist()  # one host sync
    sorted_inputs = x[order // k]
    sorted_outputs = torch.empty_like(sorted_inputs)
    start = 0
    for expert_id, count in enumerate(counts):
        if count:
            end = start + count
            sorted_outputs[start:end] = run(expert_id, sorted_inputs[start:end])
            start = end
    slot_outputs = torch.empty_like(sorted_outputs)
    slot_outputs[order] = sorted_outputs
    # Upstream mixes in the router's float32 and casts back afterwards.
    mixed = (slot_outputs.view(n_tokens, k, -1).float() * weights.unsqueeze(-1)).sum(dim=1)
    return mixed.to(x.dtype)


class SparseMoE(nn.Module):
    """Routed SwiGLU experts (+ shared experts); multi_gate routes audio tokens by audio_gate."""

    def __init__(self, cfg: LLMConfig) -> None:
        super().__init__()
        if not cfg.moe_intermediate_size:
            raise CheckpointError("llm_config: num_experts is set but moe_intermediate_size is missing")
        if not 1 <= cfg.num_experts_per_tok <= cfg.num_experts:
            raise CheckpointError(
                f"llm_config: num_experts_per_tok {cfg.num_experts_per_tok} not in 1..num_experts ({cfg.num_experts})"
            )
        self.multi_gate = bool(cfg.multi_gate)
        self.gate = Router(cfg)
        if self.multi_gate:
            self.image_gate = Router(cfg)  # in the checkpoint; only images (absent here) use it
            self.audio_gate = Router(cfg)
        self.experts = nn.ModuleList(
            SwiGLU(cfg.hidden_size, cfg.moe_intermediate_size, cfg.hidden_act) for _ in range(cfg.num_experts)
        )
        self.shared_experts: SwiGLU | None = None
        if cfg.num_shared_experts is not None:
            width = cfg.moe_intermediate_size * cfg.num_shared_experts
            self.shared_experts = SwiGLU(cfg.hidden_size, width, cfg.hidden_act)
        self.placement = None  # an offload.ExpertPlacement when the routed experts live in host memory

    def route(self, x: torch.Tensor, audio_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, H], audio_mask [N] bool or None -> (ids [N, k], weights [N, k])."""
        ids, weights = self.gate(x)
        if self.multi_gate and audio_mask is not None and bool(audio_mask.any()):
            audio_ids, audio_weights = self.audio_gate(x)
            take = audio_mask.reshape(-1, 1)
            ids = torch.where(take, audio_ids, ids)
            weights = torch.where(take, audio_weights, weights)
        return ids, weights

    def forward(self, x: torch.Tensor, audio_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, length, hidden = x.shape
        flat = x.reshape(-1, hidden)
        flat_audio = audio_mask.reshape(-1).bool() if audio_mask is not None else None
        ids, weights = self.route(flat, flat_audio)
        run = self.placement.run if self.placement is not None else None
        out = dispatch_experts(flat, ids, weights, self.experts, run).view(batch, length, hidden)
        if self.shared_experts is not None and self.shared_experts.gate_proj.out_features > 0:
            out = out + self.shared_experts(x)
        return out


def build_mlp(cfg: LLMConfig, layer_idx: int) -> nn.Module:
    """Dense SwiGLU below first_k_dense_replace (or without experts), sparse MoE otherwise."""
    if cfg.num_experts is not None and layer_idx >= cfg.first_k_dense_replace:
        return SparseMoE(cfg)
    if not cfg.intermediate_size:
        raise CheckpointError(f"llm_config: layer {layer_idx} is dense but intermediate_size is missing")
    return SwiGLU(cfg.hidden_size, cfg.intermediate_size, cfg.hidden_act)

"""Bailing MoE decoder LLM (the Ming-UniAudio language model), inference only.

``BailingMoeLM`` <-> checkpoint prefix ``model.``: its own keys are ``model.word_embeddings``,
``model.layers.N.{attention.query_key_value, attention.dense, input_layernorm,
post_attention_layernorm, mlp.*}``, ``model.norm`` and ``lm_head`` (absent when
tie_word_embeddings: then it shares the embedding table). Math follows upstream's BailingMoeForCausalLM with flash-attention
semantics (padded query rows give zero attention output; causal masks bottom-right aligned).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ming_edit.errors import CheckpointError
from ming_edit.model.config import LLMConfig, MingConfig
from ming_edit.model.moe import SparseMoE, build_mlp
from ming_edit.model.rope import RotaryTables, apply_rotary


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) computed in float32, times weight, back to x's dtype."""

    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight * xf).to(x.dtype)


class KVCache:
    """Per-layer rotated keys / values [B, kv_heads, S, head_dim], grown in place with
    doubling capacity so decoding does not copy the whole history every step."""

    def __init__(self, num_layers: int) -> None:
        self._keys: list[torch.Tensor | None] = [None] * num_layers
        self._values: list[torch.Tensor | None] = [None] * num_layers
        self._lengths = [0] * num_layers

    @property
    def length(self) -> int:
        """Number of cached positions (= position of the next token)."""
        return self._lengths[0]

    def get_seq_length(self) -> int:
        return self.length

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append key/value [B, kv_heads, L, D] to ``layer``; return views of everything cached."""
        start = self._lengths[layer]
        end = start + key.shape[2]
        buf_k, buf_v = self._keys[layer], self._values[layer]
        if buf_k is not None and buf_k.shape[0] != key.shape[0]:
            raise ValueError(f"KV cache holds batch {buf_k.shape[0]}, got {key.shape[0]}")
        if buf_k is None or buf_k.shape[2] < end:
            capacity = max(end, 2 * (buf_k.shape[2] if buf_k is not None else 0), 16)
            shape = (key.shape[0], key.shape[1], capacity, key.shape[3])
            new_k = key.new_empty(shape)
            new_v = value.new_empty(shape)
            if buf_k is not None and start:
                new_k[:, :, :start] = buf_k[:, :, :start]
                new_v[:, :, :start] = buf_v[:, :, :start]
            self._keys[layer], self._values[layer] = buf_k, buf_v = new_k, new_v
        buf_k[:, :, start:end] = key
        buf_v[:, :, start:end] = value
        self._lengths[layer] = end
        return buf_k[:, :, :end], buf_v[:, :, :end]

    def crop(self, length: int) -> None:
        """Forget every position from ``length`` on (e.g. to re-run a step)."""
        self._lengths = [min(n, length) for n in self._lengths]


@dataclass
class LLMOutput:
    logits: torch.Tensor | None  # float32 [B, L, vocab] ([B, 1, vocab] with logits_last_only)
    last_hidden: torch.Tensor  # final-norm output [B, L, H]
    hidden_states: tuple[torch.Tensor, ...] | None  # (embeddings, after layers 1..n-1, final-norm output)
    cache: KVCache | None


@dataclass
class _AttentionPlan:
    """Mask decisions shared by every layer of one forward call."""

    mask: torch.Tensor | None  # bool [B or 1, 1, L, S], True = attend
    is_causal: bool
    query_valid: torch.Tensor | None  # bool [B, L]; False rows get zero output (flash-attn unpad)


class BailingAttention(nn.Module):
    def __init__(self, cfg: LLMConfig, layer_idx: int) -> None:
        super().__init__()
        if cfg.num_attention_heads % cfg.num_key_value_heads:
            raise CheckpointError(
                f"llm_config: num_attention_heads {cfg.num_attention_heads} is not a multiple of "
                f"num_key_value_heads {cfg.num_key_value_heads}"
            )
        self.layer_idx = layer_idx
        self.heads, self.kv_heads, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        qkv_out = (self.heads + 2 * self.kv_heads) * self.head_dim
        self.query_key_value = nn.Linear(cfg.hidden_size, qkv_out, bias=cfg.use_qkv_bias)
        self.dense = nn.Linear(self.heads * self.head_dim, cfg.hidden_size, bias=cfg.use_bias)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        plan: _AttentionPlan,
        cache: KVCache | None,
    ) -> torch.Tensor:
        batch, length, _ = x.shape
        qkv = self.query_key_value(x).view(batch, length, self.heads + 2 * self.kv_heads, self.head_dim)
        q, k, v = qkv.split([self.heads, self.kv_heads, self.kv_heads], dim=2)
        q = apply_rotary(q.transpose(1, 2), cos, sin)
        k = apply_rotary(k.transpose(1, 2), cos, sin)
        v = v.transpose(1, 2)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=plan.mask, is_causal=plan.is_causal,
            scale=self.head_dim**-0.5, enable_gqa=self.kv_heads != self.heads,
        )
        out = out.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
        if plan.query_valid is not None:
            out = out * plan.query_valid[..., None].to(out.dtype)
        return self.dense(out)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LLMConfig, layer_idx: int) -> None:
        super().__init__()
        self.attention = BailingAttention(cfg, layer_idx)
        self.mlp = build_mlp(cfg, layer_idx)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, plan: _AttentionPlan, cache: KVCache | None, audio_mask) -> torch.Tensor:
        x = x + self.attention(self.input_layernorm(x), cos, sin, plan, cache)
        h = self.post_attention_layernorm(x)
        # Dense layers take no routing mask (upstream crashes here; we do not).
        h = self.mlp(h, audio_mask) if isinstance(self.mlp, SparseMoE) else self.mlp(h)
        return x + h


class _Backbone(nn.Module):
    """Holds the ``model.*`` sub-keys: embeddings, decoder layers, final norm."""

    def __init__(self, cfg: LLMConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


def _attention_plan(
    attention_mask: torch.Tensor | None, batch: int, length: int, past: int, device: torch.device
) -> _AttentionPlan:
    total = past + length
    key_valid = None
    if attention_mask is not None:
        mask = attention_mask.to(device=device).bool()
        if mask.shape[-1] == length and past:  # mask for the new tokens only: the past is valid
            mask = torch.cat([mask.new_ones(mask.shape[0], past), mask], dim=-1)
        if mask.shape != (batch, total):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}, expected {(batch, total)}")
        if not bool(mask.all()):
            key_valid = mask
    if key_valid is None:
        if length == 1:
            return _AttentionPlan(None, False, None)
        if past == 0:
            return _AttentionPlan(None, True, None)
    # Bottom-right aligned causal mask: query i sits at absolute position past + i.
    rows = torch.arange(length, device=device)[:, None] + past
    causal = torch.arange(total, device=device)[None, :] <= rows
    if key_valid is None:
        return _AttentionPlan(causal[None, None], False, None)
    allowed = causal[None] & key_valid[:, None, :]
    query_valid = key_valid[:, past:]
    empty_rows = ~allowed.any(-1, keepdim=True)  # padded queries: avoid NaN, zeroed afterwards
    allowed = allowed | empty_rows
    return _AttentionPlan(allowed[:, None], False, query_valid)


class BailingMoeLM(nn.Module):
    """Embeddings -> decoder layers -> final RMSNorm -> lm_head (optionally column-normalised)."""

    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        if config.llm is None:
            raise CheckpointError("this checkpoint has no LLM (llm_config missing)")
        cfg = config.llm
        if cfg.num_hidden_layers < 1 or cfg.vocab_size < 1:
            raise CheckpointError("llm_config: num_hidden_layers and vocab_size must be positive")
        self.config = config
        self.cfg = cfg
        self.rope = RotaryTables(cfg)
        self.model = _Backbone(cfg)
        # With tie_word_embeddings the head *is* the embedding table (HF ties the parameters);
        # lm_head.weight stays a state-dict key so checkpoints with or without it both load.
        self.tied = bool(cfg.tie_word_embeddings)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self._tie_head()
        self._head_cache: tuple[tuple, torch.Tensor] | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: module._clear_head_cache())

    # ---- loader contract -------------------------------------------------------------------
    def materialize_buffers(self, device: torch.device | str) -> None:
        """No persistent tables: rotary frequencies are rebuilt lazily per device. Re-ties the
        head after an assign-load (which gives the two keys separate tensors)."""
        self.rope.reset()
        self._tie_head()
        self._clear_head_cache()

    def _tie_head(self) -> None:
        if self.tied:
            self.lm_head.weight = self.model.word_embeddings.weight

    def _clear_head_cache(self) -> None:
        self._head_cache = None

    # ---- pieces ----------------------------------------------------------------------------
    def new_cache(self) -> KVCache:
        return KVCache(self.cfg.num_hidden_layers)

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings; ids are clipped to [0, vocab - 1] first, as upstream does."""
        table = self.model.word_embeddings.weight
        return F.embedding(input_ids.clamp(0, table.shape[0] - 1).to(table.device), table)

    def head_weight(self) -> torch.Tensor:
        """lm_head weight, column-normalised when norm_head (computed once, weight untouched)."""
        weight = self.model.word_embeddings.weight if self.tied else self.lm_head.weight
        if not self.cfg.norm_head:
            return weight
        key = (weight.data_ptr(), weight.device, weight.dtype, tuple(weight.shape))
        if self._head_cache is None or self._head_cache[0] != key:
            with torch.no_grad():
                wf = weight.detach().float()
                normed = (wf / (torch.linalg.vector_norm(wf, ord=2, dim=0, keepdim=True) + 1e-7)).to(weight.dtype)
            self._head_cache = (key, normed)
        return self._head_cache[1]

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final-norm hidden states [..., H] -> float32 logits [..., vocab]."""
        return F.linear(hidden, self.head_weight()).float()

    def _position_ids(self, position_ids: torch.Tensor | None, batch: int, length: int, past: int, device) -> torch.Tensor:
        if position_ids is None:
            position_ids = (torch.arange(length, device=device) + past).expand(batch, length)
        position_ids = position_ids.to(device)
        if self.rope.is_3d and position_ids.dim() == 2:
            position_ids = position_ids.unsqueeze(0).expand(3, -1, -1)
        elif not self.rope.is_3d and position_ids.dim() == 3:
            position_ids = position_ids[0]  # t row; text/audio rows are identical
        if position_ids.shape[-2:] != (batch, length) and position_ids.shape[-2:] != (1, length):
            raise ValueError(f"position_ids has shape {tuple(position_ids.shape)} for input {(batch, length)}")
        return position_ids.expand(*position_ids.shape[:-2], batch, length)

    # ---- forward ---------------------------------------------------------------------------
    def forward(
        self,
        inputs_embeds: torch.Tensor,
        *,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        output_hidden_states: bool = False,
        logits_last_only: bool = False,
        compute_logits: bool = True,
    ) -> LLMOutput:
        """One pass over ``inputs_embeds`` [B, L, H].

        position_ids: [3, B, L] (3D RoPE) or [B, L]; None -> cache length + arange(L).
        attention_mask: [B, past + L] (or [B, L], past assumed valid), 1 = real token; None = all real.
        audio_mask: [B, L] bool, tokens routed by ``audio_gate`` when multi_gate (ignored otherwise).
        cache: appended to in place and returned in the output.
        """
        batch, length, _ = inputs_embeds.shape
        device = inputs_embeds.device
        past = cache.length if cache is not None else 0
        pos = self._position_ids(position_ids, batch, length, past, device)
        cos, sin = self.rope.cos_sin(pos, past + length)
        plan = _attention_plan(attention_mask, batch, length, past, device)
        if audio_mask is not None:
            audio_mask = audio_mask.to(device).bool()

        hidden = inputs_embeds
        collected: list[torch.Tensor] = []
        for layer in self.model.layers:
            if output_hidden_states:
                collected.append(hidden)
            hidden = layer(hidden, cos, sin, plan, cache, audio_mask)
        hidden = self.model.norm(hidden)
        if output_hidden_states:
            collected.append(hidden)

        logits = None
        if compute_logits:
            logits = self.compute_logits(hidden[:, -1:] if logits_last_only else hidden)
        return LLMOutput(
            logits=logits,
            last_hidden=hidden,
            hidden_states=tuple(collected) if output_hidden_states else None,
            cache=cache,
        )

"""Rotary position tables for the Bailing MoE LLM (rotate-half style).

Upstream builds one rotary module per attention layer and caches cos/sin tables; here the
tables are computed per forward call from the position ids (cheap: one outer product) and
shared by all layers. Every variant upstream's BailingMoeAttention accepts is covered:

* ``None``     plain RoPE with ``rope_theta``
* ``linear``   positions divided by ``factor``
* ``dynamic``  NTK: the base grows once the key length exceeds ``max_position_embeddings``
* ``yarn``     YaRN frequency blend + mscale on cos/sin
* ``3D``       multimodal RoPE: the half head dim is split [16, 24, 24] between the
               t / h / w position rows (head_dim must be 128)

All tables are float32 (upstream disables autocast for them).
"""

from __future__ import annotations

import math

import torch

from ming_edit.errors import CheckpointError
from ming_edit.model.config import LLMConfig

MROPE_SECTION = (16, 24, 24)
ROPE_KINDS = ("default", "linear", "dynamic", "yarn", "3D")


def _inverse_frequencies(dim: int, base: float, device: torch.device | None) -> torch.Tensor:
    # Same op order as upstream: arange(0, dim, 2).float() / dim, then 1 / base ** that.
    exponent = torch.arange(0, dim, 2, device=device).float() / dim
    return 1.0 / (base**exponent)


def _yarn_correction_dim(rotations: float, dim: int, base: float, max_pos: int) -> float:
    return (dim * math.log(max_pos / (rotations * 2 * math.pi))) / (2 * math.log(base))


def _yarn_mscale(scale: float, mscale: float) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, heads, L, D]; cos/sin: [B, L, D] float32. Rotation in float32, result in x's dtype."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    xf = x.float()
    return (xf * cos + rotate_half(xf) * sin).to(x.dtype)


class RotaryTables:
    """Computes (cos, sin) [B, L, head_dim] for given position ids; stateless apart from a
    small cache of inverse frequencies per device."""

    def __init__(self, cfg: LLMConfig) -> None:
        self.dim = cfg.head_dim
        self.base = float(cfg.rope_theta)
        self.max_positions = int(cfg.max_position_embeddings)
        scaling = dict(cfg.rope_scaling or {})
        kind = cfg.rope_type or "default"
        if kind not in ROPE_KINDS:
            raise CheckpointError(f"llm_config.rope_scaling: unknown RoPE type {kind!r} (known: {', '.join(ROPE_KINDS)})")
        if kind == "3D" and self.dim != 2 * sum(MROPE_SECTION):
            raise CheckpointError(
                f"llm_config: 3D RoPE needs head_dim {2 * sum(MROPE_SECTION)} (sections {list(MROPE_SECTION)}), got {self.dim}"
            )
        self.kind = kind
        self.factor = float(scaling.get("factor", 1.0))
        self.yarn = {
            "original_max_position_embeddings": int(scaling.get("original_max_position_embeddings", 4096)),
            "beta_fast": float(scaling.get("beta_fast", 32)),
            "beta_slow": float(scaling.get("beta_slow", 1)),
            "mscale": float(scaling.get("mscale", 1)),
            "mscale_all_dim": float(scaling.get("mscale_all_dim", 0)),
        }
        self._inv_freq: dict[object, torch.Tensor] = {}  # per device: frequencies, 3D row index

    @property
    def is_3d(self) -> bool:
        return self.kind == "3D"

    def reset(self) -> None:
        self._inv_freq.clear()

    def _section_rows(self, device: torch.device) -> torch.Tensor:
        """[D/2] index of the position row (t, h, w) each 3D-RoPE frequency reads; built once."""
        key = ("rows", device)
        if key not in self._inv_freq:
            counts = torch.tensor(MROPE_SECTION, device=device)
            self._inv_freq[key] = torch.repeat_interleave(torch.arange(3, device=device), counts)
        return self._inv_freq[key]

    def _base_inv_freq(self, device: torch.device) -> torch.Tensor:
        if device not in self._inv_freq:
            if self.kind == "yarn":
                self._inv_freq[device] = self._yarn_inv_freq(device)
            else:
                self._inv_freq[device] = _inverse_frequencies(self.dim, self.base, device)
        return self._inv_freq[device]

    def _yarn_inv_freq(self, device: torch.device) -> torch.Tensor:
        y, dim = self.yarn, self.dim
        exponent = torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim
        freq_extra = 1.0 / (self.base**exponent)
        freq_inter = 1.0 / (self.factor * self.base**exponent)
        low = math.floor(_yarn_correction_dim(y["beta_fast"], dim, self.base, y["original_max_position_embeddings"]))
        high = math.ceil(_yarn_correction_dim(y["beta_slow"], dim, self.base, y["original_max_position_embeddings"]))
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001  # upstream's guard against a zero-width ramp
        ramp = ((torch.arange(dim // 2, dtype=torch.float32, device=device) - low) / (high - low)).clamp(0, 1)
        extra_weight = 1.0 - ramp
        return freq_inter * (1 - extra_weight) + freq_extra * extra_weight

    def cos_sin(self, position_ids: torch.Tensor, kv_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """position_ids: [3, B, L] for 3D RoPE, else [B, L]; kv_length = cached + new tokens
        (only the dynamic-NTK variant depends on it)."""
        device = position_ids.device
        inv_freq = self._base_inv_freq(device)
        if self.kind == "3D":
            # Each half-dim frequency reads its position from the t, h or w row.
            pos = position_ids.float()[self._section_rows(device)]  # [D/2, B, L]
            freqs = pos.permute(1, 2, 0) * inv_freq
        else:
            pos = position_ids.float()
            if self.kind == "linear":
                pos = pos / self.factor
            elif self.kind == "dynamic" and kv_length > self.max_positions:
                base = self.base * (
                    (self.factor * kv_length / self.max_positions) - (self.factor - 1)
                ) ** (self.dim / (self.dim - 2))
                inv_freq = _inverse_frequencies(self.dim, base, device)
            freqs = pos[..., None] * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        if self.kind == "yarn":
            y = self.yarn
            scale = _yarn_mscale(self.factor, y["mscale"]) / _yarn_mscale(self.factor, y["mscale_all_dim"])
            cos, sin = cos * scale, sin * scale
        return cos, sin


def positions_from_attention_mask(attention_mask: torch.Tensor, three_d: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Upstream get_rope_index for text/audio prompts: cumsum(mask) - 1 (padding gets 1),
    repeated over the t/h/w rows when ``three_d``. Returns (position_ids, rope_deltas [B, 1])."""
    mask = attention_mask.long()
    pos = mask.cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, 1)
    deltas = pos.max(-1, keepdim=True).values + 1 - mask.shape[-1]
    if three_d:
        pos = pos.unsqueeze(0).expand(3, -1, -1)
    return pos, deltas

"""Typed views of a checkpoint's config.json (BailingMMConfig or a standalone AudioVAEconfig).

Every field keeps upstream's name and default so a reader can compare against the released
configs; the raw dicts are kept for the Qwen2 backbones, which transformers builds for us.
Every field that sizes an allocation is type- and range-checked first (model/config_schema.py: positive
integers, finite numbers, objects where objects belong); JSON files are read with a size
(64 MB) and nesting (32 levels) limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ming_edit.errors import CheckpointError
from ming_edit.model.config_schema import MAX_JSON_BYTES, check_config, check_json_depth

# The released MingTok-Audio works on 16 kHz mono in 320-sample (20 ms) frames.
MODEL_SAMPLE_RATE = 16000
HOP_SAMPLES = 320


@dataclass(frozen=True)
class LLMConfig:
    """BailingMoeConfig fields that change the math."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int | None = None
    use_qkv_bias: bool = False
    use_bias: bool = True
    rms_norm_eps: float = 1e-5
    norm_head: bool = False
    tie_word_embeddings: bool = False
    rope_theta: float = 10000.0
    rope_scaling: dict[str, Any] | None = None
    max_position_embeddings: int = 16384
    num_experts: int = 16
    num_shared_experts: int = 0
    num_experts_per_tok: int = 2
    norm_topk_prob: bool = True
    moe_intermediate_size: int | None = None
    first_k_dense_replace: int = 0
    multi_gate: bool = False
    hidden_act: str = "silu"
    pad_token_id: int | None = None
    eos_token_id: int | None = None
    bos_token_id: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LLMConfig":
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        if kw.get("head_dim") is None:
            kw["head_dim"] = d["hidden_size"] // d["num_attention_heads"]
        if not kw.get("num_key_value_heads"):
            kw["num_key_value_heads"] = d["num_attention_heads"]
        return cls(**kw)

    @property
    def rope_type(self) -> str | None:
        if not self.rope_scaling:
            return None
        return self.rope_scaling.get("type") or self.rope_scaling.get("rope_type")


@dataclass(frozen=True)
class AudioTokenizerConfig:
    """AudioVAEconfig: encoder / semantic module / decoder of MingTok-Audio."""

    enc_backbone: dict[str, Any]  # Qwen2Config kwargs
    enc_input_dim: int  # samples per frame fed to the encoder (320)
    hop_size: int  # samples between frames (320)
    latent_dim: int
    dec_backbone: dict[str, Any]  # Qwen2Config kwargs
    dec_output_dim: int  # ISTFT hop length (320); n_fft = 4 * hop
    semantic_n_state: int | None  # None: no semantic module in this checkpoint
    semantic_n_head: int | None
    semantic_n_layer: int | None
    patch_size: int = -1
    sample_rate: int = MODEL_SAMPLE_RATE

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AudioTokenizerConfig":
        enc, dec = d["enc_kwargs"], d["dec_kwargs"]
        sem = (d.get("semantic_module_kwargs") or {}).get("whisper_encoder")
        return cls(
            enc_backbone=dict(enc["backbone"]),
            enc_input_dim=int(enc.get("input_dim", 320)),
            hop_size=int(enc.get("hop_size", HOP_SAMPLES)),
            latent_dim=int(enc["latent_dim"]),
            dec_backbone=dict(dec["backbone"]),
            dec_output_dim=int(dec.get("output_dim", 320)),
            semantic_n_state=int(sem["n_state"]) if sem else None,
            semantic_n_head=int(sem["n_head"]) if sem else None,
            semantic_n_layer=int(sem["n_layer"]) if sem else None,
            patch_size=int(d.get("patch_size", -1)),
        )


@dataclass(frozen=True)
class FlowHeadConfig:
    """ditar_config: DiT velocity model kwargs (in_channels = latent_dim, llm_cond_dim = LLM hidden)."""

    in_channels: int
    llm_cond_dim: int
    hidden_size: int = 1024
    depth: int = 28
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qk_norm: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], in_channels: int, llm_cond_dim: int) -> "FlowHeadConfig":
        known = {"hidden_size", "depth", "num_heads", "mlp_ratio", "qk_norm"}
        return cls(
            in_channels=in_channels,
            llm_cond_dim=llm_cond_dim,
            extra={k: v for k, v in d.items() if k not in known},
            **{k: v for k, v in d.items() if k in known},
        )


@dataclass(frozen=True)
class MingConfig:
    """A checkpoint's configuration. ``llm``/``flow_head`` are None for a tokenizer-only checkpoint."""

    kind: str  # "bailingmm" (full model) or "audio_vae" (standalone MingTok-Audio)
    audio: AudioTokenizerConfig
    llm: LLMConfig | None = None
    flow_head: FlowHeadConfig | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def parse_config(raw: dict[str, Any], source: str = "config.json") -> MingConfig:
    """Turn a parsed config.json into a MingConfig, or raise CheckpointError naming what is wrong."""
    check_config(raw, source)  # types and ranges first: nothing below may meet a list for a size
    try:
        if "llm_config" in raw or raw.get("model_type") == "bailingmm":
            audio = AudioTokenizerConfig.from_dict(raw["audio_tokenizer_config"])
            llm = LLMConfig.from_dict(raw["llm_config"])
            flow = FlowHeadConfig.from_dict(raw.get("ditar_config") or {}, audio.latent_dim, llm.hidden_size)
            return MingConfig(kind="bailingmm", audio=audio, llm=llm, flow_head=flow, raw=raw)
        if "enc_kwargs" in raw and "dec_kwargs" in raw:
            return MingConfig(kind="audio_vae", audio=AudioTokenizerConfig.from_dict(raw), raw=raw)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: malformed configuration ({type(err).__name__}: {err})") from None
    arch = repr(raw.get("architectures") or raw.get("model_type") or "unknown")[:80]
    raise CheckpointError(
        f"{source}: unknown architecture {arch}; expected a Ming-UniAudio (bailingmm) "
        "or MingTok-Audio (AudioVAE) checkpoint"
    )


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A checkpoint's JSON file as a dict; CheckpointError naming the file otherwise."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise CheckpointError(f"{path}: {what} is larger than {MAX_JSON_BYTES >> 20} MB")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # json's C parser recurses once per nesting level
        raise CheckpointError(f"{path}: unreadable {what} (JSON nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:  # ValueError: bad JSON, a 5000-digit int
        raise CheckpointError(f"{path}: unreadable {what} ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    check_json_depth(raw, str(path))
    return raw


def read_config(checkpoint_dir: str | Path, source: str = "") -> MingConfig:
    """The config of a checkpoint folder; ``source`` says where the folder came from (--model ...)."""
    where = f"{source} {checkpoint_dir}".strip()
    folder = Path(checkpoint_dir)
    if not folder.exists():
        raise CheckpointError(f"{where}: checkpoint directory does not exist")
    if not folder.is_dir():
        raise CheckpointError(f"{where}: not a directory (expected a checkpoint folder)")
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{where}: no config.json (not a model checkpoint directory)")
    return parse_config(read_json_object(path, "config"), str(path))

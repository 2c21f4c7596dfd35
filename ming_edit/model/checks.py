"""Checkpoint hardening: what a checkpoint folder may ask of us before anything is allocated.

A checkpoint is untrusted input. Each check below runs before the work it protects and fails with
one CheckpointError line (exit 3) naming the file and the field or tensor:

* config.json and the other JSON files: model/config_schema.py, before the config is parsed.
* Against the weight files (``check_fits_weights``): a size is at most the files' total bytes (a
  dimension of n needs n elements of >= 1 byte), and a repeated block (LLM layer, MoE expert,
  Qwen2 layer, Whisper block, DiT block) times the tensors each one owns is at most the number of
  tensors the headers / index list. So ``num_hidden_layers: 10**9`` is refused at once instead of
  building layers for hours.
* Weight files (``confined_file``): relative paths without ``..`` whose real path stays inside the
  checkpoint folder; for a Hugging Face cache snapshot (``.../snapshots/<rev>/``) that repo's
  ``blobs/`` folder is inside too, since the hub stores every file there behind a symlink.
* Tensors: floating-point data where the model has floating-point weights (from the header, before
  any data is read), and every value finite (``check_finite``, per tensor as it streams).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from ming_edit.errors import CheckpointError
from ming_edit.model.config_schema import show_value

if TYPE_CHECKING:
    import torch

    from ming_edit.model.config import MingConfig

FINITE_CHUNK = 1 << 24  # elements per isfinite() call: bounds the temporary bool tensor (16 MB)

TENSORS_PER_LLM_LAYER = 4  # query_key_value, dense, input_layernorm, post_attention_layernorm
TENSORS_PER_EXPERT = 3  # gate_proj, up_proj, down_proj
TENSORS_PER_QWEN2_LAYER = 9  # q, k, v, o, gate, up, down, two norms
TENSORS_PER_WHISPER_BLOCK = 8  # query, key, value, out, attn_ln, mlp.0, mlp.2, mlp_ln
TENSORS_PER_DIT_BLOCK = 8  # norm1, norm2, to_q, to_k, to_v, to_out.0, ff.0.0, ff.2


def few(items: list[str], n: int = 4) -> str:
    """The first ``n`` items, then how many more (one-line error messages)."""
    shown = ", ".join(items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _sizes(config: "MingConfig") -> dict[str, int | None]:
    """Config values that become a tensor dimension (or a factor of one)."""
    audio = config.audio
    sizes: dict[str, int | None] = {
        "enc_kwargs.input_dim": audio.enc_input_dim, "enc_kwargs.latent_dim": audio.latent_dim,
        "dec_kwargs.output_dim": audio.dec_output_dim, "whisper_encoder.n_state": audio.semantic_n_state,
        "whisper_encoder.n_head": audio.semantic_n_head,
    }
    for part, backbone in (("enc_kwargs", audio.enc_backbone), ("dec_kwargs", audio.dec_backbone)):
        for name in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
                     "head_dim", "vocab_size"):
            sizes[f"{part}.backbone.{name}"] = backbone.get(name)
    if config.llm is not None:
        for name in ("vocab_size", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                     "intermediate_size", "moe_intermediate_size"):
            sizes[f"llm_config.{name}"] = getattr(config.llm, name)
    if config.flow_head is not None:
        sizes["ditar_config.hidden_size"] = config.flow_head.hidden_size
        sizes["ditar_config.num_heads"] = config.flow_head.num_heads
    return sizes


def _repeats(config: "MingConfig") -> list[tuple[str, int, int]]:
    """(what, how many blocks, tensors each) for every repeated block the config asks for."""
    audio, out = config.audio, []
    for part, backbone in (("enc_kwargs", audio.enc_backbone), ("dec_kwargs", audio.dec_backbone)):
        if backbone.get("num_hidden_layers") is not None:
            out.append((f"{part}.backbone.num_hidden_layers", backbone["num_hidden_layers"], TENSORS_PER_QWEN2_LAYER))
    if audio.semantic_n_layer is not None:
        out.append(("whisper_encoder.n_layer", audio.semantic_n_layer, TENSORS_PER_WHISPER_BLOCK))
    llm = config.llm
    if llm is not None:
        out.append(("llm_config.num_hidden_layers", llm.num_hidden_layers, TENSORS_PER_LLM_LAYER))
        if llm.num_experts is not None:
            moe_layers = max(llm.num_hidden_layers - llm.first_k_dense_replace, 0)
            out.append(("llm_config.num_experts x MoE layers", llm.num_experts * moe_layers, TENSORS_PER_EXPERT))
    if config.flow_head is not None:
        out.append(("ditar_config.depth", config.flow_head.depth, TENSORS_PER_DIT_BLOCK))
    return out


def check_fits_weights(config: "MingConfig", n_tensors: int, n_bytes: int, where: str) -> None:
    """Refuse sizes and block counts the weight files cannot hold, before any module is built."""
    for name, size in _sizes(config).items():
        if size is not None and size > n_bytes:
            raise CheckpointError(f"{where}: config.json {name} = {size} is more than the weight files "
                                  f"could hold ({n_bytes} bytes)")
    for name, count, each in _repeats(config):
        if count * each > n_tensors:
            raise CheckpointError(f"{where}: config.json {name} = {count} needs at least {count * each} "
                                  f"tensors; the weight files hold {n_tensors}")


# ---- file paths -------------------------------------------------------------------------------------
def _allowed_roots(root: Path) -> list[Path]:
    real = root.resolve()
    roots = [real]
    if real.parent.name == "snapshots":  # Hugging Face cache: snapshots/<rev>/* -> ../../blobs/<hash>
        roots.append((real.parent.parent / "blobs").resolve())
    return roots


def confined_file(root: Path, name: Any, listed_in: Path) -> Path:
    """``root / name`` for a weight file named by ``listed_in``, refused unless it stays in ``root``."""
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise CheckpointError(f"{listed_in}: {show_value(name)} is not a file name")
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or PureWindowsPath(name).drive or ".." in rel.parts:
        raise CheckpointError(f"{listed_in}: weight file {name!r} is outside the checkpoint folder "
                              "(absolute or '..' paths are refused)")
    path = root / rel
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise CheckpointError(f"{listed_in}: weight file {name!r} is a symlink loop") from None
    if not any(real.is_relative_to(base) for base in _allowed_roots(root)):
        raise CheckpointError(f"{listed_in}: weight file {name!r} links to {real}, outside the checkpoint folder")
    return path


# ---- tensors --------------------------------------------------------------------------------------
def is_float_header(dtype_name: str) -> bool:
    """Whether a safetensors header dtype (F16, BF16, F32, F64, F8_E4M3, ...) is floating point."""
    return dtype_name.startswith(("F", "BF"))


def check_headers(headers: dict[str, tuple[tuple[int, ...], str]], expected: dict[str, "torch.Tensor"],
                  root: Path) -> None:
    """Every key's header (shape, dtype name) against the meta tensor it will fill."""
    bad, not_float = [], []
    for key, (shape, dtype_name) in headers.items():
        if tuple(shape) != tuple(expected[key].shape):
            bad.append(f"{key} {tuple(shape)} (expected {tuple(expected[key].shape)})")
        if expected[key].dtype.is_floating_point and not is_float_header(dtype_name):
            not_float.append(f"{key} ({dtype_name})")
    if bad:
        raise CheckpointError(f"{root}: {len(bad)} keys have the wrong shape: {few(bad)}")
    if not_float:
        raise CheckpointError(f"{root}: {len(not_float)} weights are stored as integers or booleans, "
                              f"not floating point: {few(not_float)}")


def _all_finite(tensor: "torch.Tensor") -> bool:
    import torch

    flat = tensor.reshape(-1)
    return all(bool(torch.isfinite(flat[i : i + FINITE_CHUNK]).all()) for i in range(0, flat.numel(), FINITE_CHUNK))


def check_finite(key: str, loaded: "torch.Tensor", stored: "torch.Tensor", path: Path) -> None:
    """Refuse NaN / Inf in a floating tensor as read (``stored``) or after the dtype cast (``loaded``)."""
    if not loaded.dtype.is_floating_point or _all_finite(loaded):
        return
    if loaded.dtype != stored.dtype and _all_finite(stored):
        raise CheckpointError(f"{path}: {key} has values beyond the range of {str(loaded.dtype).replace('torch.', '')}; "
                              "load it with another --dtype (bf16 or fp32)")
    raise CheckpointError(f"{path}: {key} has NaN or infinite values (a damaged or badly converted checkpoint)")

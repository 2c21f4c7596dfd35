"""Checkpoint directory -> ready component modules (MINIMAL FIRST VERSION; to be hardened).

Contract for every component class registered in COMPONENTS:
  * ``Cls(config: MingConfig)`` builds it; the loader calls this under ``torch.device("meta")``.
  * its ``state_dict()`` keys, prefixed with the registered checkpoint prefix, are checkpoint keys.
  * if it has non-persistent buffers (rope tables...), it defines ``materialize_buffers(device)``
    which the loader calls after the weights are in place.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from ming_edit.errors import CheckpointError
from ming_edit.model.config import MingConfig, read_config

# name -> (import path "module:Class", checkpoint prefix in a full Ming-UniAudio checkpoint)
COMPONENTS: dict[str, tuple[str, str]] = {
    "audio_encoder": ("ming_edit.model.audio_tokenizer:AudioEncoder", "audio.encoder."),
    "semantic": ("ming_edit.model.semantic:SemanticModule", "audio.decoder."),
    "audio_decoder": ("ming_edit.model.audio_tokenizer:WaveformDecoder", "audio.decoder."),
    "projector": ("ming_edit.model.projector:LinearPooling", "linear_proj_audio."),
    "llm": ("ming_edit.model.llm:BailingMoeLM", "model."),
    "flow_head": ("ming_edit.model.flow_head:DiT", "flowloss.cfm.model."),
    "stop_head": ("ming_edit.model.stop_head:StopHead", "stop_head."),
}

# Which components each task needs (transcription needs neither the flow head nor the decoder).
TASK_COMPONENTS: dict[str, tuple[str, ...]] = {
    "asr": ("audio_encoder", "semantic", "projector", "llm"),
    "tts": tuple(COMPONENTS),
    "edit": tuple(COMPONENTS),
    "all": tuple(COMPONENTS),
    "tokenizer": ("audio_encoder", "semantic", "audio_decoder"),
}


def component_class(name: str) -> type[torch.nn.Module]:
    module_name, cls_name = COMPONENTS[name][0].split(":")
    return getattr(importlib.import_module(module_name), cls_name)


@dataclass
class ModelStack:
    """The loaded components of one checkpoint; unloaded ones are None."""

    path: Path
    config: MingConfig
    device: torch.device
    dtype: torch.dtype
    audio_encoder: Any = None
    semantic: Any = None
    audio_decoder: Any = None
    projector: Any = None
    llm: Any = None
    flow_head: Any = None
    stop_head: Any = None
    text_tokenizer: Any = None
    loaded: tuple[str, ...] = field(default_factory=tuple)


def _weight_files(ckpt: Path) -> dict[str, Path]:
    """checkpoint key -> safetensors file holding it."""
    index = ckpt / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {k: ckpt / v for k, v in weight_map.items()}
    single = ckpt / "model.safetensors"
    if not single.is_file():
        raise CheckpointError(f"{ckpt}: no model.safetensors or model.safetensors.index.json")
    with safe_open(str(single), framework="pt") as f:
        return {k: single for k in f.keys()}


def load_stack(
    path: str | Path,
    components: tuple[str, ...] | str = "all",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> ModelStack:
    ckpt = Path(path)
    config = read_config(ckpt)
    names = TASK_COMPONENTS[components] if isinstance(components, str) else tuple(components)
    prefix_base = "" if config.kind == "bailingmm" else "audio."
    key_files = _weight_files(ckpt)
    stack = ModelStack(path=ckpt, config=config, device=torch.device(device), dtype=dtype, loaded=names)
    for name in names:
        cls = component_class(name)
        prefix = COMPONENTS[name][1]
        if prefix_base:  # standalone MingTok-Audio: keys have no "audio." prefix
            prefix = prefix[len(prefix_base):]
        with torch.device("meta"):
            module = cls(config)
        state = {}
        for key, ref in module.state_dict().items():
            full = prefix + key
            if full not in key_files:
                raise CheckpointError(f"{ckpt}: missing key {full}")
            with safe_open(str(key_files[full]), framework="pt") as f:
                t = f.get_tensor(full)
            if tuple(t.shape) != tuple(ref.shape):
                raise CheckpointError(f"{ckpt}: {full} has shape {tuple(t.shape)}, expected {tuple(ref.shape)}")
            state[key] = t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
        module.load_state_dict(state, assign=True)
        if hasattr(module, "materialize_buffers"):
            module.materialize_buffers(torch.device(device))
        module.eval()
        setattr(stack, name, module)
    return stack

"""Checkpoint directory -> ready component modules (meta init, streamed safetensors, per-task subsets).

Contract for every component class registered in COMPONENTS:
  * ``Cls(config: MingConfig)`` builds it; the loader calls this under ``torch.device("meta")``.
  * its ``state_dict()`` keys, prefixed with the registered checkpoint prefix, are checkpoint keys.
  * if it has non-persistent buffers (rope tables...), it defines ``materialize_buffers(device)``
    which the loader calls after the weights are in place.

Loading: config.json -> MingConfig; every component the checkpoint provides is built on the meta
device (no memory, no random init) to learn which keys exist and their shapes; the checkpoint keys
are validated against that (missing / unexpected / mis-shaped, each one CheckpointError line); then
each shard is opened once and only the keys of the requested components are read, straight to the
target device and dtype. Parameters take ``dtype``; persistent buffers (ISTFT window, DiT inv_freq)
keep the dtype the component declares for them. A CPU load without dtype change keeps the tensors
safetensors returns (memory-mapped for large ones: pages come in on first use); a converting load
copies and releases each shard before the next, so host memory peaks at about one shard above the
model (benchmarks/load_checkpoint.py). Never unpickles. Untrusted input: see model/checks.py (each
tensor checked finite as it streams, so a memory-mapped load reads each page once).

``quantize="int8" | "int4"`` (model/quantize.py) quantises each LLM linear weight right after it is
read and cast, inside the same shard-by-shard stream: the float copy of one tensor exists at a time,
so host memory peaks near the quantised model plus one shard (benchmarks/quantize_load.py).
``offload="experts"`` streams the routed experts to host memory instead (model/offload.py).
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch
from safetensors import SafetensorError, safe_open

from ming_edit.errors import CheckpointError
from ming_edit.model.checks import check_finite, check_fits_weights, check_headers, confined_file, few
from ming_edit.model.config import MingConfig, read_config, read_json_object
from ming_edit.model.memory import OFFLOAD_CHOICES, QUANT_MODES, is_routed_expert_key
from ming_edit.model.offload import HOST as OFFLOAD_HOST, offload_experts
from ming_edit.model.quantize import TRIM_EVERY_BYTES, quantized_keys, trim_host_heap

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"

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
    "all": tuple(COMPONENTS),  # every component the checkpoint provides (see resolve_components)
    "tokenizer": ("audio_encoder", "semantic", "audio_decoder"),
}
# Components a task may go without when the checkpoint lacks them (MingTok-Audio without semantic module).
OPTIONAL_FOR_TASK: dict[str, frozenset[str]] = {"tokenizer": frozenset({"semantic"})}
# Components that make a checkpoint "the full model" (absent from MingTok-Audio tokenizer checkpoints).
LLM_SIDE = frozenset({"projector", "llm", "flow_head", "stop_head"})
# Components whose tasks need the text tokenizer.
NEEDS_TEXT_TOKENIZER = frozenset({"llm"})

FULL_MODEL_HINT = (
    "this is a MingTok-Audio tokenizer checkpoint; speak/transcribe/edit need "
    "inclusionAI/Ming-UniAudio-16B-A3B (edit: inclusionAI/Ming-UniAudio-16B-A3B-Edit)"
)

# Keys upstream checkpoints carry but inference never reads; accepted when no component claims them.
# Written relative to the audio prefix ("audio." in a full checkpoint, "" in MingTok-Audio).
UNUSED_AUDIO_KEYS = (
    r"encoder\.norm\.(weight|bias)",  # Encoder.norm (LayerNorm) is defined but never applied
    r"decoder\.fc3\.(weight|bias)",  # semantic -> decoder projection, used only in training
    r"(encoder\.encoder|decoder\.decoder)\.embed_tokens\.weight",  # Qwen2 vocab-1 table, inputs_embeds used
)
UNUSED_LLM_KEYS = (
    r"model\.model\.layers\.\d+\.mlp\.image_gate\.weight",  # image router of multi_gate; no images here
)


class Shard:
    """One open safetensors file; SafetensorError becomes CheckpointError naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle = safe_open(str(path), framework="pt")
        except SafetensorError as err:
            raise CheckpointError(f"{path}: corrupt safetensors file ({err})") from None
        except OSError as err:
            raise CheckpointError(f"{path}: cannot open ({err.strerror or err})") from None

    def keys(self) -> list[str]:
        return list(self._handle.keys())

    def header(self, key: str) -> tuple[tuple[int, ...], str]:
        """(shape, safetensors dtype name) of ``key`` from the header, without reading data."""
        try:
            view = self._handle.get_slice(key)
            return tuple(view.get_shape()), str(view.get_dtype())
        except SafetensorError:
            raise CheckpointError(f"{self.path}: the index lists {key} in this shard, but it is not there") from None

    def read(self, key: str) -> torch.Tensor:
        try:
            return self._handle.get_tensor(key)
        except SafetensorError as err:
            raise CheckpointError(f"{self.path}: cannot read {key} ({err})") from None

    def close(self) -> None:
        self._handle = None  # drops the mmap; tensors already read keep their own mapping


class CheckpointFiles:
    """Where each checkpoint key lives: model.safetensors, or shards named by the index file."""

    def __init__(self, root: Path, key_to_file: dict[str, Path], opened: dict[Path, Shard] | None = None) -> None:
        self.root = root
        self.key_to_file = key_to_file
        self._open = dict(opened or {})

    @property
    def keys(self) -> list[str]:
        return list(self.key_to_file)

    @classmethod
    def discover(cls, root: Path) -> "CheckpointFiles":
        index = root / INDEX_FILE
        if index.is_file():
            weight_map = read_json_object(index, "shard index").get("weight_map")
            if not isinstance(weight_map, dict):
                raise CheckpointError(f"{index}: unreadable shard index (no weight_map object)")
            paths: dict[str, Path] = {}
            for name in weight_map.values():  # refused: non-strings, absolute, '..', links leaving root
                if not isinstance(name, str) or name not in paths:
                    paths[name] = confined_file(root, name, index)
            key_to_file = {str(k): paths[v] for k, v in weight_map.items()}
            missing = sorted({p.name for p in key_to_file.values() if not p.is_file()})
            if missing:
                raise CheckpointError(f"{root}: shard files named by {INDEX_FILE} are missing: {few(missing)}")
            return cls(root, key_to_file)
        single = root / SINGLE_FILE
        if single.is_file():
            confined_file(root, SINGLE_FILE, root)
            shard = Shard(single)
            return cls(root, {k: single for k in shard.keys()}, {single: shard})
        if any(root.glob("*.bin")) or any(root.glob("*.pt")):
            raise CheckpointError(f"{root}: only safetensors weights are supported (found pickle .bin/.pt files)")
        raise CheckpointError(f"{root}: no {SINGLE_FILE} or {INDEX_FILE}")

    def shard(self, path: Path) -> Shard:
        """The open shard at ``path`` (each file is opened at most once)."""
        if path not in self._open:
            self._open[path] = Shard(path)
        return self._open[path]

    def header(self, key: str) -> tuple[tuple[int, ...], str]:
        return self.shard(self.key_to_file[key]).header(key)

    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in set(self.key_to_file.values()))

    def group_by_shard(self, keys: Iterable[str]) -> dict[Path, list[str]]:
        groups: dict[Path, list[str]] = {}
        for key in keys:
            groups.setdefault(self.key_to_file[key], []).append(key)
        return dict(sorted(groups.items()))

    def release(self, path: Path) -> None:
        shard = self._open.pop(path, None)
        if shard is not None:
            shard.close()


def component_class(name: str) -> type[torch.nn.Module]:
    """The class registered for component ``name`` (imported on demand)."""
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
    quantize: str = "none"  # weight-only quantisation of the LLM's linear layers: none, int8, int4
    offload: str = "none"  # "experts": the LLM's routed experts in host memory (model/offload.py)

    def require(self, name: str) -> Any:
        """Component ``name``, or CheckpointError if it was not loaded."""
        module = getattr(self, name, None)
        if module is None:
            raise CheckpointError(f"{self.path}: component {name!r} is not loaded (loaded: {', '.join(self.loaded)})")
        return module


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on accelerators (upstream runs bf16 there), fp32 on CPU."""
    return torch.float32 if device.type == "cpu" else torch.bfloat16


def prefix_for(name: str, config: MingConfig) -> str:
    """Checkpoint prefix of a component; MingTok-Audio checkpoints have no leading "audio."."""
    prefix = COMPONENTS[name][1]
    if config.kind == "audio_vae" and prefix.startswith("audio."):
        return prefix[len("audio."):]
    return prefix


def available_components(config: MingConfig) -> tuple[str, ...]:
    """Components this checkpoint kind provides."""
    if config.kind == "bailingmm":
        return tuple(COMPONENTS)
    names = ["audio_encoder", "audio_decoder"]
    if config.audio.semantic_n_state is not None:
        names.insert(1, "semantic")
    return tuple(n for n in COMPONENTS if n in names)


def resolve_components(config: MingConfig, components: str | Iterable[str], ckpt: Path) -> tuple[str, ...]:
    """Task name or component names -> the components to load, validated against the checkpoint."""
    available = available_components(config)
    if components == "all":
        return available
    if isinstance(components, str):
        if components not in TASK_COMPONENTS:
            raise ValueError(f"unknown task {components!r}; known: {', '.join(TASK_COMPONENTS)}")
        names, optional = TASK_COMPONENTS[components], OPTIONAL_FOR_TASK.get(components, frozenset())
    else:
        names, optional = tuple(components), frozenset()
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown components {unknown}; known: {', '.join(COMPONENTS)}")
    absent = [n for n in names if n not in available and n not in optional]
    if absent:
        if config.kind == "audio_vae" and LLM_SIDE.intersection(absent):
            raise CheckpointError(f"{ckpt}: {FULL_MODEL_HINT}")
        raise CheckpointError(f"{ckpt}: this checkpoint has no {', '.join(absent)} (config.json)")
    return tuple(n for n in names if n in available)


def _unused_patterns(config: MingConfig) -> re.Pattern[str]:
    audio = "" if config.kind == "audio_vae" else "audio\\."
    parts = [audio + p for p in UNUSED_AUDIO_KEYS]
    if config.kind == "bailingmm":
        parts += list(UNUSED_LLM_KEYS)
    return re.compile("|".join(f"(?:{p})" for p in parts))


def _build_on_meta(name: str, config: MingConfig, ckpt: Path) -> torch.nn.Module:
    try:
        with torch.device("meta"):
            return component_class(name)(config)
    except CheckpointError as err:  # the component's own one-line reason; add where it comes from
        raise CheckpointError(f"{ckpt}/config.json: {err}") from None
    except (ValueError, KeyError, TypeError, NotImplementedError, RuntimeError, OverflowError) as err:
        # a configuration our classes cannot express: report it as a checkpoint problem
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        raise CheckpointError(f"{ckpt}/config.json: unsupported {name} configuration ({message})") from None


def _expected_tensors(modules: dict[str, torch.nn.Module], config: MingConfig) -> dict[str, dict[str, torch.Tensor]]:
    """component -> {checkpoint key: meta tensor} (shape, dtype, and whether it is a buffer)."""
    out = {}
    for name, module in modules.items():
        prefix = prefix_for(name, config)
        out[name] = {prefix + k: v for k, v in module.state_dict(keep_vars=True).items()}
    return out


def _tied_aliases(config: MingConfig, present: set[str]) -> dict[str, str]:
    """Keys a checkpoint may omit because they are tied to another key (HF drops tied lm_head)."""
    if config.llm is not None and config.llm.tie_word_embeddings:
        if "model.lm_head.weight" not in present and "model.model.word_embeddings.weight" in present:
            return {"model.lm_head.weight": "model.model.word_embeddings.weight"}
    return {}


def _validate_keys(files: CheckpointFiles, config: MingConfig, expected: dict[str, dict[str, torch.Tensor]],
                   wanted: tuple[str, ...], aliases: dict[str, str], strict: bool) -> None:
    present = set(files.keys)
    claimed = {k for per in expected.values() for k in per}
    unused = _unused_patterns(config)
    unexpected = sorted(k for k in present - claimed if not unused.fullmatch(k))
    if unexpected:
        message = f"{files.root}: {len(unexpected)} unexpected keys no component uses: {few(unexpected)}"
        if strict:
            raise CheckpointError(message)
        warnings.warn(message, stacklevel=3)
    needed = {k for name in wanted for k in expected[name]}
    missing = sorted(k for k in needed if k not in present and aliases.get(k) not in present)
    if missing:
        raise CheckpointError(f"{files.root}: {len(missing)} missing keys: {few(missing)}")


def _target_dtype(meta: torch.Tensor, stored: torch.dtype, dtype: torch.dtype) -> torch.dtype:
    if not stored.is_floating_point:
        return stored
    if isinstance(meta, torch.nn.Parameter):
        return dtype
    return meta.dtype if meta.dtype.is_floating_point else stored


def _stream(files: CheckpointFiles, wanted_keys: dict[str, torch.Tensor], aliases: dict[str, str],
            device: torch.device, dtype: torch.dtype, quantized: set[str] | None = None,
            mode: str = "none", host_keys: set[str] | None = None) -> dict[str, torch.Tensor]:
    """Read every wanted key once, shard by shard, onto ``device`` (keys in ``host_keys``: host
    memory); returns key -> tensor. Keys in ``quantized`` are quantised (``mode``) as soon as they
    are read, before the next key."""
    source_of = {k: aliases.get(k, k) for k in wanted_keys}
    sources = sorted(set(source_of.values()))
    # Shapes and dtypes from the headers first, so a bad tensor fails before any data is read.
    check_headers({k: files.header(source_of[k]) for k in wanted_keys}, wanted_keys, files.root)
    by_source: dict[str, torch.Tensor] = {}
    since_trim = 0  # float bytes quantised since the heap was last trimmed
    first_user = {}
    for key, source in source_of.items():
        first_user.setdefault(source, key)
    for path, keys in files.group_by_shard(sources).items():
        shard = files.shard(path)
        untouched, converted = [], False
        for key in keys:
            stored = shard.read(key)
            target = _target_dtype(wanted_keys[first_user[key]], stored.dtype, dtype)
            # .to() returns the same (mmap-backed) tensor when nothing changes: no copy on CPU fp32.
            on = OFFLOAD_HOST if host_keys and key in host_keys else device
            by_source[key] = stored.to(device=on, dtype=target)
            check_finite(key, by_source[key], stored, path)
            if quantized and key in quantized:
                from ming_edit.model.quantize import quantize_weight

                by_source[key] = quantize_weight(by_source[key], mode)  # the float copy is dropped here
            if by_source[key] is stored:
                untouched.append(key)
            else:
                converted = True
                since_trim += stored.numel() * 4  # casts and quantising leave float32 / int32-sized garbage
            del stored
            if since_trim >= TRIM_EVERY_BYTES:
                trim_host_heap()
                since_trim = 0
        if converted:  # a kept mmap view would pin this whole (now read) shard in memory
            for key in untouched:
                by_source[key] = by_source[key].clone()
        files.release(path)  # free this shard's mapping before reading the next one
        if converted:
            trim_host_heap()  # and the casting / quantising temporaries malloc would keep
            since_trim = 0
    return {k: (by_source[s].clone() if s != k else by_source[s]) for k, s in source_of.items()}


def _finish(module: torch.nn.Module, state: dict[str, torch.Tensor], device: torch.device, name: str) -> None:
    module.load_state_dict(state, strict=True, assign=True)
    if hasattr(module, "materialize_buffers"):
        module.materialize_buffers(device)
    left = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:  # a component bug, not a user error
        raise RuntimeError(f"{name}: tensors still on the meta device after loading: {few(left)}")
    module.requires_grad_(False)
    module.eval()


def load_stack(
    path: str | Path,
    components: str | Iterable[str] = "all",
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    strict: bool = True,
    quantize: str = "none",
    offload: str = "none",
) -> ModelStack:
    """Load a Ming-UniAudio (or MingTok-Audio) checkpoint directory.

    ``components``: "all" (every component the checkpoint has), a task name of TASK_COMPONENTS
    ("asr", "tts", "edit", "tokenizer") or component names. ``dtype`` defaults to bf16 on CUDA and
    fp32 on CPU. ``strict=False`` turns unexpected checkpoint keys into a warning. ``quantize``
    ("none", "int8", "int4"): weight-only quantisation of the LLM's linear layers while loading
    (model/quantize.py; an unsupported device / build raises DeviceError first). ``offload``
    ("none", "experts"): the LLM's routed experts stay in host memory (model/offload.py). Raises
    CheckpointError with one line naming what is wrong and the checkpoint path.
    """
    ckpt = Path(path)
    config = read_config(ckpt)
    names = resolve_components(config, components, ckpt)
    device = torch.device(device)
    dtype = dtype or default_dtype(device)
    if quantize not in QUANT_MODES:
        raise ValueError(f"unknown quantisation {quantize!r}; known: {', '.join(QUANT_MODES)}")
    if "llm" not in names:
        quantize = "none"
    if offload not in OFFLOAD_CHOICES:
        raise ValueError(f"unknown offload {offload!r}; known: {', '.join(OFFLOAD_CHOICES)}")
    if "llm" not in names or config.llm is None or config.llm.num_experts is None:
        offload = "none"  # nothing to offload
    if quantize != "none":
        from ming_edit.model.quantize import check_supported

        check_supported(quantize, device, dtype)
        if offload != "none":  # the offloaded experts are quantised in the host's layout
            check_supported(quantize, OFFLOAD_HOST, dtype)
    files = CheckpointFiles.discover(ckpt)
    check_fits_weights(config, len(files.key_to_file), files.total_bytes(), str(ckpt))
    modules = {n: _build_on_meta(n, config, ckpt) for n in available_components(config)}
    expected = _expected_tensors(modules, config)
    aliases = _tied_aliases(config, set(files.keys))
    _validate_keys(files, config, expected, names, aliases, strict)
    text_tokenizer = None
    if NEEDS_TEXT_TOKENIZER.intersection(names):  # before the weights: fail fast without reading GBs
        from ming_edit.model.text_tokenizer import TextTokenizer

        text_tokenizer = TextTokenizer.from_dir(ckpt)

    wanted = {k: t for n in names for k, t in expected[n].items()}
    llm_prefix = prefix_for("llm", config)
    host_keys = {k for k in wanted if offload != "none" and k.startswith(llm_prefix) and is_routed_expert_key(k)}
    quantized = quantized_keys(wanted, llm_prefix, quantize, device, host_keys) if "llm" in names else set()
    tensors = _stream(files, wanted, aliases, device, dtype, quantized, quantize, host_keys)
    stack = ModelStack(path=ckpt, config=config, device=device, dtype=dtype, loaded=names,
                       text_tokenizer=text_tokenizer, quantize=quantize, offload=offload)
    for name in names:
        prefix = prefix_for(name, config)
        state = {k[len(prefix):]: tensors[k] for k in expected[name]}
        _finish(modules[name], state, device, name)
        setattr(stack, name, modules[name])
    if offload == "experts":
        offload_experts(stack.llm, device)
    return stack

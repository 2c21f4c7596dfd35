"""Memory you can know before loading: weight bytes per precision from the safetensors headers,
a KV-cache + activation estimate for an input length, the device's free memory, and the
``--quantize auto`` choice. No torch at import time (``ming-edit models list`` stays light).

Weights: each shard's header is read (8-byte little-endian length + JSON: dtype, shape, offsets;
no tensor data), and every tensor the loader would load for a task is counted at the bytes it will
take: float tensors at the compute dtype (bf16 2 bytes, fp32 4), integer tensors and the two
persistent float32 buffers (ISTFT window, DiT inv_freq) as stored, and the LLM's quantisable linear
weights (``is_quantizable_key``) in the torchao layout of the mode:

* int8 (Int8Tensor, per-row): out x in int8 + out float32 scales + out int8 zero points.
* int4 on CPU (Int4OpaqueTensor): out x in / 2 bytes + (in / group) x out x 2 scales-and-zeros in the
  compute dtype; on CUDA (tinygemm tile layout) the same with in padded to a multiple of 1024 and
  out to a multiple of 8. A weight whose shape does not suit int4 stays float.

Runtime (``runtime_bytes``): for ``seconds`` of audio at 50 frames/s and 5 frames per LLM patch,
the LLM sees P = 2 x patches + 256 positions (the input audio, as much generated audio, prompt and
text); KV cache = layers x 2 x kv_heads x head_dim x P x act bytes; activations = the largest
prefill working set: P x (8 x hidden + qkv width + 3 x top_k x moe width) x act bytes + heads x P^2 x
4 (attention scores, float32) + the audio tokenizer's frames x 16 x width x 4 + 16 waveform copies
at 16 kHz in float32. It is an estimate (batch 1), documented with its margin in ``fits``.

Expert offload (``offload="experts"``, model/offload.py): the LLM's routed experts
(``is_routed_expert_key``) live in host memory, in the host's (CPU) layout - ``offloaded_bytes``;
everything else stays on the device, which also needs one routed expert (the largest: gate + up +
down) in its own layout as the transient copy a long prefill moves over - ``weight_bytes(...,
offload="experts")``. That copy is conservative for int4: CPU-packed int4 experts never move.
Runtime is unchanged (activations and KV cache stay on the device); ``Estimate.total`` is still what
the device needs and ``Estimate.offloaded`` what the host must hold besides.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ming_edit.errors import CheckpointError

QUANT_MODES = ("none", "int8", "int4")  # "auto" resolves to one of these
QUANTIZE_CHOICES = (*QUANT_MODES, "auto")
QUANTIZE_ENV = "MING_EDIT_QUANTIZE"
INT4_GROUPS = (128, 64, 32)  # the largest that divides in_features is used
INT4_OUT_MULTIPLE = 16  # aten._weight_int4pack_mm_for_cpu packs 16 output rows at a time
MAX_HEADER_BYTES = 100 * 2**20  # a safetensors header larger than this is refused (hostile file)

# `auto` and the pre-load check: needed x MARGIN + HEADROOM must not exceed the free memory.
MARGIN = 1.10
HEADROOM_BYTES = {"cpu": 1 * 2**30, "cuda": 1 * 2**30, "mps": 1 * 2**30}  # runtime, CUDA context, allocator
SKIP_CHECK_ENV = "MING_EDIT_SKIP_MEMORY_CHECK"  # "1": load even when the estimate says it will not fit
OFFLOAD_CHOICES = ("none", "experts")  # --offload: "experts" keeps the LLM's routed experts in host memory
OFFLOAD_ENV = "MING_EDIT_OFFLOAD"

# The LLM's linear weights that --quantize int8 / int4 quantise (under the checkpoint prefix "model.").
_QUANTIZABLE = re.compile(
    r"model\.model\.layers\.\d+\.(?:attention\.(?:query_key_value|dense)"
    r"|mlp\.(?:experts\.\d+\.|shared_experts\.)?(?:gate_proj|up_proj|down_proj))\.weight"
)
# The LLM's routed experts (shared experts excluded): what --offload experts keeps in host memory.
_ROUTED_EXPERT = re.compile(
    r"model\.model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(?:gate_proj|up_proj|down_proj)\.weight"
)
_KEEP_STORED = ("istft.window", "rotary_embed.inv_freq")  # persistent buffers: dtype as declared (float32)
_FLOAT = ("F64", "F32", "F16", "BF16")

# checkpoint keys each component loads (full Ming-UniAudio layout; MingTok-Audio has no "audio." prefix;
# tests/test_quantize.py checks these against the loader's own key sets)
_COMPONENT_KEYS: dict[str, str] = {
    "audio_encoder": r"audio\.encoder\..*",
    "semantic": r"audio\.decoder\.(?:fc1|fc2|semantic_model)\..*",
    "audio_decoder": r"audio\.decoder\.(?:fc1|head|decoder)\..*",
    "projector": r"linear_proj_audio\..*",
    "llm": r"model\..*",
    "flow_head": r"flowloss\.cfm\.model\..*",
    "stop_head": r"stop_head\..*",
}
TASKS: dict[str, tuple[str, ...]] = {  # as loader.TASK_COMPONENTS
    "asr": ("audio_encoder", "semantic", "projector", "llm"),
    "tts": tuple(_COMPONENT_KEYS),
    "edit": tuple(_COMPONENT_KEYS),
    "all": tuple(_COMPONENT_KEYS),
    "tokenizer": ("audio_encoder", "semantic", "audio_decoder"),
}
GB = 1e9


def is_quantizable_key(key: str) -> bool:
    """Whether checkpoint key ``key`` is an LLM linear weight that quantisation applies to."""
    return _QUANTIZABLE.fullmatch(key) is not None


def is_routed_expert_key(key: str) -> bool:
    """Whether checkpoint key ``key`` is a routed expert's weight (``--offload experts`` moves it to the host)."""
    return _ROUTED_EXPERT.fullmatch(key) is not None


def int4_group(in_features: int) -> int:
    """The int4 group size for a weight with ``in_features`` inputs (0: none fits)."""
    return next((g for g in INT4_GROUPS if in_features % g == 0), 0)


def is_quantizable_shape(shape: tuple[int, ...], mode: str, device: str = "cpu") -> bool:
    """Whether a [out, in] weight is quantised under ``mode`` (others stay float)."""
    if mode == "none" or len(shape) != 2 or 0 in shape:
        return False
    if mode == "int4" and device != "cuda":  # CUDA's tinygemm layout pads any shape
        return shape[0] % INT4_OUT_MULTIPLE == 0 and int4_group(shape[1]) > 0
    return True


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def quantized_bytes(shape: tuple[int, ...], mode: str, act_bytes: int, device: str = "cpu") -> int:
    """Bytes of one [out, in] weight quantised under ``mode`` (its float size when it stays float)."""
    n_out, n_in = shape
    if not is_quantizable_shape(shape, mode, device):
        return n_out * n_in * act_bytes
    if mode == "int8":
        return n_out * n_in + n_out * 4 + n_out  # int8 values, float32 scales, int8 zero points
    if device == "cuda":  # tinygemm pads in_features to 1024 and out_features to 8
        n_out, n_in = _round_up(n_out, 8), _round_up(n_in, 1024)
    group = int4_group(n_in)
    return n_out * n_in // 2 + (n_in // group) * n_out * 2 * act_bytes


# ---- safetensors headers -------------------------------------------------------------------------
def read_header(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """{key: (shape, dtype name)} from one safetensors file's header (no tensor data is read)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise CheckpointError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or n > size - 8:
                raise CheckpointError(f"{path}: corrupt safetensors header (length {n} for a {size}-byte file)")
            raw = json.loads(f.read(n))
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read ({err.strerror or err})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: corrupt safetensors header (not JSON)") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header (not a JSON object)")
    out = {}
    for key, info in raw.items():
        if key == "__metadata__":
            continue
        shape, dtype = (info or {}).get("shape"), (info or {}).get("dtype")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape) \
                or not isinstance(dtype, str):
            raise CheckpointError(f"{path}: corrupt safetensors header entry for {key!r}")
        out[key] = (tuple(shape), dtype)
    return out


def weight_files(root: Path) -> list[Path]:
    """The checkpoint's safetensors files (index-named shards, or model.safetensors)."""
    from ming_edit.model.checks import confined_file
    from ming_edit.model.config import read_json_object

    index = root / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json_object(index, "shard index").get("weight_map")
        if not isinstance(weight_map, dict):
            raise CheckpointError(f"{index}: unreadable shard index (no weight_map object)")
        return sorted({confined_file(root, name, index) for name in weight_map.values()})
    single = root / "model.safetensors"
    if single.is_file():
        return [single]
    raise CheckpointError(f"{root}: no model.safetensors or model.safetensors.index.json")


def read_headers(root: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every tensor of a checkpoint directory: {key: (shape, dtype name)}."""
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for path in weight_files(Path(root)):
        out.update(read_header(path))
    return out


# ---- estimates -----------------------------------------------------------------------------------
def _stored_bytes(dtype: str) -> int:
    digits = re.sub(r"\D", "", dtype.split("_")[0])
    return max(int(digits) // 8, 1) if digits else 1


def component_keys(headers: dict[str, Any], component: str, kind: str = "bailingmm") -> list[str]:
    """The header keys the loader reads for ``component``."""
    pattern = _COMPONENT_KEYS[component]
    if kind == "audio_vae":
        pattern = pattern.replace(r"audio\.", "", 1)
    rx = re.compile(pattern)
    return [k for k in headers if rx.fullmatch(k)]


def task_keys(headers: dict[str, Any], task: str, kind: str = "bailingmm") -> list[str]:
    names = [n for n in TASKS[task] if kind == "bailingmm" or n in TASKS["tokenizer"]]
    keys: dict[str, None] = {}
    for name in names:
        keys.update(dict.fromkeys(component_keys(headers, name, kind)))
    return list(keys)


def _tensor_bytes(key: str, shape: tuple[int, ...], dtype: str, mode: str, act_bytes: int, device: str) -> int:
    """Bytes one checkpoint tensor takes once loaded (see the module note)."""
    numel = 1
    for d in shape:
        numel *= d
    if dtype not in _FLOAT or key.endswith(_KEEP_STORED):
        return numel * _stored_bytes(dtype)
    if is_quantizable_key(key) and len(shape) == 2:
        return quantized_bytes(shape, mode, act_bytes, device)
    return numel * act_bytes


def _check_offload(offload: str) -> None:
    if offload not in OFFLOAD_CHOICES:
        raise ValueError(f"unknown offload {offload!r}; known: {', '.join(OFFLOAD_CHOICES)}")


def weight_bytes(headers: dict[str, tuple[tuple[int, ...], str]], mode: str, act_bytes: int = 2,
                 task: str = "all", kind: str = "bailingmm", device: str = "cpu", offload: str = "none") -> int:
    """Bytes the loaded weights of ``task`` take on ``device`` under ``mode`` with float tensors in
    ``act_bytes``. ``offload="experts"``: the routed experts are left out, except the largest single
    expert (its gate + up + down in the device's layout: the transient working copy)."""
    _check_offload(offload)
    total = 0
    experts: dict[tuple[str, str], int] = {}  # (layer, expert) -> device bytes
    for key in task_keys(headers, task, kind):
        shape, dtype = headers[key]
        size = _tensor_bytes(key, shape, dtype, mode, act_bytes, device)
        routed = _ROUTED_EXPERT.fullmatch(key) if offload == "experts" else None
        if routed:
            experts[routed.groups()] = experts.get(routed.groups(), 0) + size
        else:
            total += size
    return total + max(experts.values(), default=0)


def offloaded_bytes(headers: dict[str, tuple[tuple[int, ...], str]], mode: str, act_bytes: int = 2,
                    task: str = "all", kind: str = "bailingmm") -> int:
    """Host bytes of the routed experts of ``task`` under ``--offload experts`` (the host's layout:
    int4 packed for the CPU kernel); 0 when the checkpoint (or the task) has none."""
    return sum(_tensor_bytes(key, *headers[key], mode, act_bytes, "cpu")
               for key in task_keys(headers, task, kind) if is_routed_expert_key(key))


def runtime_bytes(config: Any, seconds: float = 30.0, act_bytes: int = 2) -> int:
    """KV cache + activation estimate for ``seconds`` of audio (see the module note), batch 1."""
    frames = int(seconds * 50)
    patches = frames // 5
    positions = 2 * patches + 256
    total = 0
    llm = getattr(config, "llm", None)
    if llm is not None:
        kv = llm.num_hidden_layers * 2 * llm.num_key_value_heads * llm.head_dim * positions * act_bytes
        qkv = (llm.num_attention_heads + 2 * llm.num_key_value_heads) * llm.head_dim
        moe = (llm.moe_intermediate_size or 0) * llm.num_experts_per_tok + (llm.intermediate_size or 0)
        act = positions * (8 * llm.hidden_size + qkv + 3 * moe) * act_bytes
        act += llm.num_attention_heads * positions * positions * 4 + 64 * llm.vocab_size * 4
        total += kv + act
    audio = config.audio
    widths = [int(audio.enc_backbone.get("hidden_size", 0) or 0), int(audio.dec_backbone.get("hidden_size", 0) or 0),
              int(audio.semantic_n_state or 0)]
    heads = max(int(audio.enc_backbone.get("num_attention_heads", 1) or 1), int(audio.semantic_n_head or 1))
    total += frames * 16 * max(widths) * 4 + heads * frames * frames * 4
    total += 16 * int(seconds * 16000) * 4
    return total


@dataclass(frozen=True)
class Estimate:
    mode: str
    weights: int  # on the device (under offload: all but the routed experts, plus one of them)
    runtime: int
    offloaded: int = 0  # host bytes of the routed experts under --offload experts

    @property
    def total(self) -> int:
        """What the device needs: weights + runtime (the offloaded experts are the host's)."""
        return self.weights + self.runtime


def estimate(root: str | Path, mode: str, act_bytes: int = 2, task: str = "all", device: str = "cpu",
             seconds: float = 30.0, headers: dict | None = None, offload: str = "none") -> Estimate:
    """Weights (from the headers) + runtime estimate of checkpoint ``root`` for ``task``."""
    from ming_edit.model.config import read_config

    config = read_config(Path(root))
    headers = read_headers(root) if headers is None else headers
    weights = weight_bytes(headers, mode, act_bytes, task, config.kind, device, offload)
    offloaded = offloaded_bytes(headers, mode, act_bytes, task, config.kind) if offload == "experts" else 0
    return Estimate(mode, weights, runtime_bytes(config, seconds, act_bytes), offloaded)


# ---- free memory and the choice --------------------------------------------------------------------
def host_available_bytes(meminfo: str = "/proc/meminfo", cgroup: str = "/sys/fs/cgroup") -> int | None:
    """MemAvailable from /proc/meminfo (Linux), lowered to what a cgroup v2 memory limit still
    allows (memory.max - memory.current) inside a container; None when unknown (nothing refused)."""
    available = None
    try:
        with open(meminfo, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        available = None
    try:
        limit = Path(cgroup, "memory.max").read_text(encoding="ascii").strip()
        if limit != "max":
            left = int(limit) - int(Path(cgroup, "memory.current").read_text(encoding="ascii").strip())
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    return available


def device_free_bytes(device: Any) -> int | None:
    """Free memory of a torch device: CUDA from torch.cuda.mem_get_info, CPU (and MPS, which shares
    host memory) from /proc/meminfo; None when unknown."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return host_available_bytes()


def needed_with_margin(est: Estimate, device_type: str) -> int:
    return int(est.total * MARGIN) + HEADROOM_BYTES.get(device_type, HEADROOM_BYTES["cpu"])


def gb(n: int | None) -> str:
    return "?" if n is None else f"{n / GB:.1f} GB"


@dataclass(frozen=True)
class Choice:
    mode: str  # the concrete mode: none, int8 or int4
    estimate: Estimate | None  # None when the memory check was skipped
    free: int | None
    note: str | None = None  # what `auto` chose and why (for the CLI to show)


def choose(requested: str, device_type: str, free: int | None, estimates: Callable[[str], Estimate],
           supported: Callable[[str], bool], alternatives: Callable[[], str] = lambda: "") -> Choice:
    """Resolve ``requested`` (none, int8, int4 or auto) against the free memory.

    auto: the least quantisation (none, then int8, then int4) that ``supported`` allows and whose
    estimate x MARGIN + HEADROOM fits ``free`` (unknown free memory: none). An explicit mode that
    does not fit raises DeviceError naming needed vs free and what would fit (``alternatives``),
    unless MING_EDIT_SKIP_MEMORY_CHECK=1.
    """
    from ming_edit.errors import DeviceError

    skip = os.environ.get(SKIP_CHECK_ENV, "").strip() not in ("", "0")
    if requested != "auto":
        if skip or free is None:
            return Choice(requested, None, free)
        est = estimates(requested)
        if est.total > free:
            hint = alternatives()
            host = f"; + {gb(est.offloaded)} of experts in host memory" if est.offloaded else ""
            raise DeviceError(f"the model needs ~{gb(est.total)} on {device_type} with --quantize {requested} "
                              f"(weights {gb(est.weights)} + KV/activations for 30 s {gb(est.runtime)}{host}) but "
                              f"{gb(free)} is free; {hint or 'no --quantize or device here fits'} "
                              f"(or set {SKIP_CHECK_ENV}=1 to try anyway)")
        return Choice(requested, est, free)
    if free is None:
        return Choice("none", None, free, f"--quantize auto: chose none (free memory on {device_type} unknown)")
    tried = []
    for mode in QUANT_MODES:
        if not supported(mode):
            continue
        est = estimates(mode)
        tried.append(est)
        if needed_with_margin(est, device_type) <= free:
            return Choice(mode, est, free, f"--quantize auto: chose {mode} (~{gb(est.total)} needed, "
                                           f"{gb(free)} free on {device_type})")
    if skip:
        return Choice(tried[-1].mode if tried else "none", tried[-1] if tried else None, free,
                      f"--quantize auto: nothing fits {gb(free)} free on {device_type}; trying "
                      f"{tried[-1].mode if tried else 'none'} ({SKIP_CHECK_ENV}=1)")
    smallest = min(tried, key=lambda e: e.total) if tried else None
    hint = alternatives()
    raise DeviceError(f"--quantize auto: nothing fits {gb(free)} free on {device_type} (smallest: "
                      f"{smallest.mode if smallest else '-'} needs ~{gb(smallest.total if smallest else None)} "
                      f"with a {int((MARGIN - 1) * 100)}% + {gb(HEADROOM_BYTES.get(device_type, 0))} margin)"
                      + (f"; {hint}" if hint else ""))

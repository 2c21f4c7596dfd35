"""Running the model stack for a command: device and dtype, one cached load per process, audio to
and from the model's 16 kHz mono, and out-of-memory errors as one clear line.

torch is imported inside the functions: importing this module stays cheap and torch-free.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ming_edit.errors import DeviceError
from ming_edit.model.config import MODEL_SAMPLE_RATE
from ming_edit.options import ModelOptions

if TYPE_CHECKING:
    import torch

    from ming_edit.model.loader import ModelStack


# ----- device / dtype -----

def select_device(name: str = "auto") -> "torch.device":
    """The torch device for a validated ModelOptions.device name; asking for an absent one is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name} was requested but no CUDA device is available; use --device cpu")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    if name == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("--device mps was requested but Apple's Metal backend is not available; use --device cpu")
    return torch.device(name)


def select_dtype(options: ModelOptions, device: "torch.device") -> "torch.dtype":
    import torch

    from ming_edit.model.loader import default_dtype

    name = options.dtype_name
    return default_dtype(device) if name == "auto" else getattr(torch, name)


def make_noise(seed: int | None) -> Any:
    """The NoiseSource a command uses (tests replace this to replay a recorded stream)."""
    from ming_edit.model.noise import TorchNoise

    return TorchNoise(seed)


# ----- one model load per process -----

_STACKS: dict[tuple[str, str, str, str, str], "ModelStack"] = {}


def get_stack(model_dir: Path, task: str, device: "torch.device", dtype: "torch.dtype",
              quantize: str = "none", offload: str = "none") -> "ModelStack":
    """The loaded stack for ``task``; a stack already holding every needed component is reused."""
    from ming_edit.model import loader

    key = (str(Path(model_dir).resolve()), str(device), str(dtype), quantize, offload)
    cached = _STACKS.get(key)
    if cached is not None and set(loader.TASK_COMPONENTS[task]) <= set(cached.loaded):
        return cached
    with oom_guard():
        stack = loader.load_stack(model_dir, task, device=device, dtype=dtype, quantize=quantize, offload=offload)
    _STACKS[key] = stack
    return stack


def open_stack(options: ModelOptions, role: str) -> "ModelStack":
    """Find the checkpoint for ``role`` (hub rules; a missing model is said first), pick device,
    dtype, expert offload and quantisation (``--quantize auto`` and the will-it-fit check:
    plan_quantize), load (or reuse) it."""
    from ming_edit.model.hub import resolve_model_dir

    model_dir = resolve_model_dir(options.model, role)
    device = select_device(options.device)
    dtype = select_dtype(options, device)
    offload = options.resolved_offload()
    quantize = plan_quantize(options, model_dir, role, device, dtype, offload)
    return get_stack(model_dir, role, device, dtype, quantize, offload)


def _supported(mode: str, device: "torch.device", dtype: "torch.dtype") -> bool:
    from ming_edit.model.quantize import check_supported

    try:
        check_supported(mode, device, dtype)
    except DeviceError:
        return False
    return True


def plan_quantize(options: ModelOptions, model_dir: Path, task: str, device: "torch.device",
                  dtype: "torch.dtype", offload: str = "none") -> str:
    """The concrete quantisation (none, int8, int4) for this load, decided before any weight is read.

    An explicit mode the device / build cannot run -> DeviceError (model/quantize.check_supported).
    Then the memory estimate (model/memory.py: weights from the safetensors headers + KV cache and
    activations for 30 s) is compared with the device's free memory: ``auto`` takes the least
    quantisation that fits with memory.MARGIN and HEADROOM_BYTES and reports its choice through
    ``options.on_notice``; an explicit mode whose estimate exceeds the free memory -> one DeviceError
    line with needed vs free and the --quantize / --offload / --device that would fit. Under
    ``offload="experts"`` the device holds all but the routed experts, and the host must hold them.
    """
    import torch

    from ming_edit.model import memory
    from ming_edit.model.loader import TASK_COMPONENTS

    requested = options.resolved_quantize()
    root = str(Path(model_dir).resolve())
    for (path, dev, dt, mode, off), stack in _STACKS.items():  # already loaded in this process: reused as is
        if (path, dev, dt, off) == (root, str(device), str(dtype), offload) and requested in ("auto", mode) and \
                set(TASK_COMPONENTS[task]) <= set(stack.loaded):
            return mode
    if requested not in ("auto", "none"):
        from ming_edit.model.quantize import check_supported

        check_supported(requested, device, dtype)
    headers = memory.read_headers(model_dir)
    act_bytes = torch.empty((), dtype=dtype).element_size()
    host_free = memory.host_available_bytes() if device.type != "cpu" else None

    def estimates(mode: str) -> "memory.Estimate":
        off = offload if device.type != "cpu" else "none"  # on CPU the host is the device: count it all
        est = memory.estimate(model_dir, mode, act_bytes, task, device.type, headers=headers, offload=off)
        if est.offloaded and host_free is not None and est.offloaded > host_free:  # the host side does not fit
            raise DeviceError(f"--offload experts keeps ~{memory.gb(est.offloaded)} of experts in host memory "
                              f"(--quantize {mode}) but {memory.gb(host_free)} is free; try --quantize int8 or int4")
        return est

    def alternatives() -> str:
        fits = []
        for mode in memory.QUANT_MODES:
            if mode != requested and _supported(mode, device, dtype):
                est = estimates(mode)
                if memory.needed_with_margin(est, device.type) <= (free or 0):
                    fits.append(f"--quantize {mode} (~{memory.gb(est.total)}) would fit")
                    break
        if device.type != "cpu" and offload == "none" and host_free is not None:
            for mode in memory.QUANT_MODES:
                est = memory.estimate(model_dir, mode, act_bytes, task, device.type, headers=headers,
                                      offload="experts")
                if est.offloaded and memory.needed_with_margin(est, device.type) <= (free or 0) and \
                        est.offloaded <= host_free and _supported(mode, device, dtype):
                    flag = "" if mode == "none" else f" --quantize {mode}"
                    fits.append(f"--offload experts{flag} (~{memory.gb(est.total)} on the GPU) would fit")
                    break
        if device.type != "cpu":
            host = memory.host_available_bytes()
            cpu_bytes = torch.empty((), dtype=torch.float32).element_size()
            for mode in memory.QUANT_MODES:
                est = memory.estimate(model_dir, mode, cpu_bytes, task, "cpu", headers=headers)
                if host is not None and memory.needed_with_margin(est, "cpu") <= host and \
                        _supported(mode, torch.device("cpu"), torch.float32):
                    flag = "" if mode == "none" else f" --quantize {mode}"
                    fits.append(f"--device cpu{flag} (~{memory.gb(est.total)}, {memory.gb(host)} free) would fit")
                    break
        return "; ".join(fits)

    free = memory.device_free_bytes(device)
    choice = memory.choose(requested, device.type, free, estimates,
                           lambda mode: _supported(mode, device, dtype), alternatives)
    if choice.note and options.on_notice is not None:
        options.on_notice(choice.note)
    return choice.mode


def clear_cache() -> None:
    _STACKS.clear()


def patch_size(model_dir: Path) -> int:
    """Frames per generated patch: the processor's audio_tokenizer_args.patch_size (what the demo
    passes to generate_tts / generate_edit), else the tokenizer config's, else 5."""
    from ming_edit.errors import CheckpointError
    from ming_edit.model.config import read_json_object

    try:
        pre = read_json_object(Path(model_dir) / "preprocessor_config.json", "processor config")
        value = int((pre.get("audio_tokenizer_args") or {}).get("patch_size", -1))
    except (CheckpointError, ValueError, TypeError, AttributeError):  # absent or odd: the tokenizer's own
        value = -1
    if value < 1:
        from ming_edit.model.config import read_config

        value = read_config(model_dir).audio.patch_size
    return value if value >= 1 else 5


@contextlib.contextmanager
def oom_guard() -> Iterator[None]:
    """GPU out-of-memory -> one line with what to try instead."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError:
        _release_gpu_memory()
        raise DeviceError("out of GPU memory; try --quantize int8 (or int4), --dtype bf16, --device cpu, "
                          "or a shorter input") from None
    except RuntimeError as err:
        if "out of memory" not in str(err).lower():
            raise
        _release_gpu_memory()
        raise DeviceError("out of memory; try --quantize int8 (or int4), --dtype bf16, --device cpu, "
                          "or a shorter input") from None


def _release_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ----- audio in / out -----

def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[frames, channels] at any rate -> mono float32 at 16 kHz (channel mean, then resample).

    Upstream keeps only channel 0 and never checks the rate; we downmix and resample explicitly.
    """
    from ming_edit.dsp.convert import resample

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    return np.asarray(resample(mono.astype(np.float64), sample_rate, MODEL_SAMPLE_RATE), dtype=np.float32)


def from_model_rate(mono16k: np.ndarray, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Model output (16 kHz mono) -> float64 [frames, channels] at ``sample_rate``. Not clipped: the
    writer scales peaks beyond full scale down with a note (io.formats.protect_from_clipping)."""
    from ming_edit.dsp.convert import resample

    wave = resample(np.asarray(mono16k, dtype=np.float64), MODEL_SAMPLE_RATE, sample_rate)
    return np.repeat(wave[:, None], channels, axis=1)


def load_for_model(path: Path) -> tuple[np.ndarray, int, int, float]:
    """Read a file for the model (the same checks as the DSP path): (16 kHz mono float32,
    original rate, channels, duration seconds)."""
    from ming_edit.io.audio import read_audio

    audio, info = read_audio(Path(path))
    return to_model_rate(audio, info.sample_rate), info.sample_rate, info.channels, info.duration


def waveform_tensor(mono16k: np.ndarray, device: "torch.device") -> "torch.Tensor":
    """[1, samples] float32 tensor; the model stack casts to its own dtype where it needs to."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(mono16k, dtype=np.float32)).unsqueeze(0).to(device)

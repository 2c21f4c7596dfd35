"""Running the model stack for a command: device/dtype choice, one cached load per process,
audio in/out conversion to the model's 16 kHz mono, and GPU memory errors as one clear line.

torch is imported inside the functions: importing this module stays cheap and torch-free.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ming_edit.errors import MingEditError, UsageError

if TYPE_CHECKING:
    import torch

    from ming_edit.model.loader import ModelStack

MODEL_SAMPLE_RATE = 16000
DTYPE_NAMES = {
    "fp32": "float32", "float32": "float32", "f32": "float32",
    "bf16": "bfloat16", "bfloat16": "bfloat16",
    "fp16": "float16", "float16": "float16", "half": "float16",
}


class DeviceError(MingEditError):
    """A device that was asked for but is not there, or ran out of memory."""


# ----- device / dtype -----

def select_device(name: str = "auto") -> "torch.device":
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name} was requested but no CUDA device is available; use --device cpu")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("--device mps was requested but Apple's Metal backend is not available; use --device cpu")
        return torch.device("mps")
    raise UsageError(f"unknown --device {name!r}; use auto, cuda, cuda:N, mps or cpu")


def select_dtype(name: str | None, device: "torch.device") -> "torch.dtype":
    """bf16 on a GPU, fp32 on the CPU unless the user says otherwise."""
    import torch

    if not name or name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    canonical = DTYPE_NAMES.get(name.strip().lower())
    if canonical is None:
        raise UsageError(f"unknown --dtype {name!r}; use auto, fp32, bf16 or fp16")
    return getattr(torch, canonical)


def make_noise(seed: int | None) -> Any:
    """The NoiseSource a command uses (tests replace this to replay a recorded stream)."""
    from ming_edit.model.noise import TorchNoise

    return TorchNoise(seed)


# ----- one model load per process -----

_STACKS: dict[tuple[str, str, str], "ModelStack"] = {}


def _needed_components(task: str) -> tuple[str, ...]:
    from ming_edit.model.loader import TASK_COMPONENTS

    return tuple(TASK_COMPONENTS[task])


def get_stack(model_dir: Path, task: str, device: "torch.device", dtype: "torch.dtype") -> "ModelStack":
    """The loaded stack for ``task``; a stack already holding every needed component is reused."""
    from ming_edit.model import loader

    key = (str(Path(model_dir).resolve()), str(device), str(dtype))
    cached = _STACKS.get(key)
    if cached is not None and set(_needed_components(task)) <= set(cached.loaded):
        return cached
    with oom_guard():
        stack = loader.load_stack(model_dir, task, device=device, dtype=dtype)
    if getattr(stack, "text_tokenizer", None) is None:
        stack.text_tokenizer = load_text_tokenizer(Path(model_dir))
    _STACKS[key] = stack
    return stack


def load_text_tokenizer(model_dir: Path) -> Any:
    from ming_edit.model.text_tokenizer import TextTokenizer

    return TextTokenizer.from_dir(model_dir)


def patch_size(model_dir: Path) -> int:
    """Frames per generated patch: the processor's audio_tokenizer_args.patch_size (what the demo
    passes to generate_tts / generate_edit), else the tokenizer config's, else 5."""
    import json

    try:
        pre = json.loads((Path(model_dir) / "preprocessor_config.json").read_text(encoding="utf-8"))
        value = int((pre.get("audio_tokenizer_args") or {}).get("patch_size", -1))
    except (OSError, ValueError, TypeError, AttributeError):
        value = -1
    if value < 1:
        from ming_edit.model.config import read_config

        value = read_config(model_dir).audio.patch_size
    return value if value >= 1 else 5


def clear_cache() -> None:
    _STACKS.clear()


@contextlib.contextmanager
def oom_guard() -> Iterator[None]:
    """GPU out-of-memory -> one line with what to try instead."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError:
        _release_gpu_memory()
        raise DeviceError(
            "out of GPU memory; try --dtype bf16, --device cpu, or a shorter input"
        ) from None
    except RuntimeError as err:
        if "out of memory" not in str(err).lower():
            raise
        _release_gpu_memory()
        raise DeviceError("out of memory; try --dtype bf16, --device cpu, or a shorter input") from None


def _release_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ----- audio in / out -----

def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Audio as float32 [frames, channels] and its sample rate; AudioError for anything unreadable
    (missing, empty, corrupt, truncated, NaN) - the same checks as the DSP path."""
    from ming_edit import audio_io

    audio, info = audio_io.read_audio(Path(path))
    return audio.astype(np.float32), info.sample_rate


def to_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[frames, channels] at any rate -> mono float32 at 16 kHz (channel mean, then resample).

    Upstream keeps only channel 0 and never checks the rate; we downmix and resample explicitly.
    """
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    return resample(mono.astype(np.float32), sample_rate, MODEL_SAMPLE_RATE)


def resample(mono: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out:
        return np.ascontiguousarray(mono, dtype=np.float32)
    import torch
    import torchaudio.functional as AF

    wave = torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))
    return AF.resample(wave, rate_in, rate_out).numpy()


def from_model_rate(mono16k: np.ndarray, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Model output (16 kHz mono) -> float64 [frames, channels] at ``sample_rate``. Not clipped: the
    writer scales peaks beyond full scale down with a note (audio_io.protect_from_clipping)."""
    wave = np.asarray(resample(mono16k, MODEL_SAMPLE_RATE, sample_rate), dtype=np.float64)
    return np.repeat(wave[:, None], channels, axis=1)


def load_for_model(path: Path) -> tuple[np.ndarray, int, int, float]:
    """Read a file for the model: (16 kHz mono float32, original rate, channels, duration seconds)."""
    audio, rate = read_audio(path)
    return to_model_rate(audio, rate), rate, audio.shape[1], audio.shape[0] / rate


def waveform_tensor(mono16k: np.ndarray, device: "torch.device") -> "torch.Tensor":
    """[1, samples] float32 tensor; the model stack casts to its own dtype where it needs to."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(mono16k, dtype=np.float32)).unsqueeze(0).to(device)


# ----- progress on stderr -----

def progress(enabled: bool = True) -> Any:
    """A rich progress display on stderr (hidden when stderr is not a terminal or disabled)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=True, disable=not (enabled and console.is_terminal),
    )

"""Options and results of the user tasks, as frozen dataclasses (no torch, no numpy).

ModelOptions is the model/device/dtype/seed/quantize/offload set every model command takes; it validates the
names once, here, so the CLI and the library agree on what is accepted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ming_edit.errors import UsageError
from ming_edit.ops.operation import DENOISERS, Plan

ENGINES = ("auto", "dsp", "model")
DTYPE_NAMES = {
    "auto": "auto", "fp32": "float32", "float32": "float32", "f32": "float32",
    "bf16": "bfloat16", "bfloat16": "bfloat16",
    "fp16": "float16", "float16": "float16", "half": "float16",
}
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
QUANTIZE_CHOICES = ("none", "int8", "int4", "auto")  # as model/memory.py QUANTIZE_CHOICES
QUANTIZE_ENV = "MING_EDIT_QUANTIZE"
OFFLOAD_CHOICES = ("none", "experts")  # as model/memory.py OFFLOAD_CHOICES
OFFLOAD_ENV = "MING_EDIT_OFFLOAD"
NoticeCallback = Callable[[str], None]  # one line the CLI shows on stderr (e.g. what --quantize auto chose)

CotCallback = Callable[[str, str], None]  # (raw CoT text, CoT with edit spans as [MASK])
# (task description, steps done, total steps or None when unknown); the CLI draws it on stderr.
ProgressCallback = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class ModelOptions:
    model: str | Path | None = None  # checkpoint folder (default: $MING_EDIT_MODEL, then the HF cache)
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    dtype: str | None = None  # auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16
    seed: int | None = None
    # weight-only quantisation of the LLM's linear layers: none, int8, int4, auto (the least that
    # fits the device's free memory); None: $MING_EDIT_QUANTIZE, else none
    quantize: str | None = None
    # "experts": the LLM's routed experts stay in host memory (GPUs smaller than the model);
    # None: $MING_EDIT_OFFLOAD, else none
    offload: str | None = None
    on_notice: NoticeCallback | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        device = (self.device or "auto").strip().lower()
        if not _DEVICE.match(device):
            raise UsageError(f"unknown device '{self.device}'; use auto, cpu, cuda, cuda:N or mps")
        object.__setattr__(self, "device", device)
        if self.dtype is not None and self.dtype.strip().lower() not in DTYPE_NAMES:
            raise UsageError(f"unknown dtype '{self.dtype}'; use auto, fp32, bf16 or fp16")
        if self.quantize is not None:
            object.__setattr__(self, "quantize", _quantize_name(self.quantize, "--quantize"))
        if self.offload is not None:
            object.__setattr__(self, "offload", _offload_name(self.offload, "--offload"))

    def resolved_quantize(self) -> str:
        """none, int8, int4 or auto: the option, else $MING_EDIT_QUANTIZE (checked here, when a
        model is about to be used, so a bad value never breaks a DSP-only edit), else none."""
        if self.quantize is not None:
            return self.quantize
        from_env = os.environ.get(QUANTIZE_ENV, "").strip()
        return _quantize_name(from_env, QUANTIZE_ENV) if from_env else "none"

    def resolved_offload(self) -> str:
        """none or experts: the option, else $MING_EDIT_OFFLOAD, else none."""
        if self.offload is not None:
            return self.offload
        from_env = os.environ.get(OFFLOAD_ENV, "").strip()
        return _offload_name(from_env, OFFLOAD_ENV) if from_env else "none"

    @property
    def dtype_name(self) -> str:
        """'auto', 'float32', 'bfloat16' or 'float16'."""
        return DTYPE_NAMES[(self.dtype or "auto").strip().lower()]


def _quantize_name(value: str, source: str) -> str:
    name = str(value).strip().lower()
    if name not in QUANTIZE_CHOICES:
        raise UsageError(f"unknown {source} value '{value}'; use none, int8, int4 or auto")
    return name


def _offload_name(value: str, source: str) -> str:
    name = str(value).strip().lower()
    if name not in OFFLOAD_CHOICES:
        raise UsageError(f"unknown {source} value '{value}'; use none or experts")
    return name


@dataclass(frozen=True)
class EditOptions:
    engine: str = "auto"
    overwrite: bool = False
    dry_run: bool = False
    subtype: str | None = None  # output sample format (default: keep the input's)
    no_limit: bool = False  # refuse instead of scaling peaks down
    sample_rate: int | None = None  # output rate (default: the input's; DSP edits)
    channels: int | None = None  # output channel count (default: the input's; DSP edits)
    bitrate: int | None = None  # kbps of an mp3 / opus output (default: 128/192 mp3, 64/96 opus)
    skip_existing: bool = False  # folders: leave outputs that already exist alone
    model: ModelOptions = field(default_factory=ModelOptions)
    transcript: Path | None = None  # `transcribe -f json` output locating word edits (model edits)
    occurrence: int | None = None  # edit only the N-th occurrence of the words (default: all)
    keep_going: bool = False  # a window the model fails on is left as it was, exit 0
    whole_clip: bool = False  # write the model's whole output, as upstream does (no splicing)
    max_steps: int | None = None  # the model's step budget per window (default: from its length)
    denoiser: str = "auto"  # auto (DeepFilterNet3 when installed, else classic), deepfilter, classic

    def __post_init__(self) -> None:
        if self.denoiser not in DENOISERS:
            raise UsageError(f"unknown denoiser '{self.denoiser}'; use {', '.join(DENOISERS)}")
        if self.occurrence is not None and self.occurrence < 1:
            raise UsageError(f"--occurrence counts from 1, got {self.occurrence}")
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine '{self.engine}'; use auto, dsp or model")
        if self.overwrite and self.skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other; choose one")


@dataclass(frozen=True)
class ModelRun:
    """What the edit model did for one file (kept for reports and conformance checks)."""

    prompt: str  # the <prompt>...</prompt> instruction the model was given
    used_cot: bool
    text_token_ids: list[int]  # greedy text tokens (the last is <gen_audio>)
    audio_latents: Any  # [1, frames, latent_dim] generated latents (CPU tensor)
    stopped: bool  # False when the step budget, not the stop head, ended the audio


@dataclass(frozen=True)
class WindowReport:
    """One window of a model edit (pipelines/model_edit.py); times in seconds."""

    start: float
    end: float
    text: str | None  # its transcript, when the words were searched for
    searched: bool = False
    planned: bool = False  # a dry run: the model would edit it
    edited: bool = False
    is_global: bool = False  # the model changed all of it
    edits: tuple[dict[str, Any], ...] = ()  # splice edits, times within the window
    kept_fraction: float | None = None
    failed: str | None = None
    cot: str | None = None
    cot_raw: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                               "edited": self.edited}
        if self.planned:
            out["planned"] = True
        if self.edited:
            out.update({"global": self.is_global, "edits": list(self.edits),
                        "kept_fraction": None if self.kept_fraction is None else round(self.kept_fraction, 4)})
        if self.failed:
            out["failed"] = self.failed
        if self.cot is not None:
            out["cot"] = self.cot
        return out


@dataclass(frozen=True)
class EditResult:
    input: Path
    output: Path
    engine: str
    plan: Plan
    duration_in: float | None = None
    duration_out: float | None = None
    notes: tuple[str, ...] = ()
    dry_run: bool = False
    cot: str | None = None  # the model's transcript plan, edited spans as [MASK]
    cot_raw: str | None = None
    model_run: ModelRun | None = None
    clip_gain_db: float = 0.0  # gain the clipping rule applied after the edit (0: none)
    windows: tuple[WindowReport, ...] = ()  # model edits: the windows of the recording
    measured: dict[str, Any] | None = None  # a DSP dry run: the input's figures the plan depends on

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": str(self.input),
            "output": str(self.output),
            "engine": self.engine,
            "operations": self.plan.to_json(),
            "duration_in": _round(self.duration_in),
            "duration_out": _round(self.duration_out),
            "notes": list(self.notes),
        }
        if self.dry_run:
            out["dry_run"] = True
        if self.cot is not None:
            out["cot"] = self.cot
        if self.cot_raw is not None:
            out["cot_raw"] = self.cot_raw
        if self.clip_gain_db:
            out["clip_gain_db"] = round(self.clip_gain_db, 2)
        if self.windows:
            out["windows"] = [w.to_json() for w in self.windows]
        if self.measured is not None:
            out["measured"] = self.measured
        out["steps"] = [{"op": o.op, "engine": o.engine} for o in self.plan.operations]
        return out


@dataclass(frozen=True)
class Failure:
    input: Path
    error: str


@dataclass(frozen=True)
class BatchResult:
    input_dir: Path
    output_dir: Path
    done: tuple[EditResult, ...] = ()
    failed: tuple[Failure, ...] = ()
    existing: tuple[Path, ...] = ()  # outputs left alone (--skip-existing)
    in_subfolders: int = 0  # audio files not walked because --recursive was not given

    def to_json(self) -> dict[str, Any]:
        return {
            "input": str(self.input_dir),
            "output": str(self.output_dir),
            "files": [r.to_json() for r in self.done],
            "failed": [{"input": str(f.input), "error": f.error} for f in self.failed],
            "skipped_existing": [str(p) for p in self.existing],
            "skipped_in_subfolders": self.in_subfolders,
        }


@dataclass(frozen=True)
class TranscribeOptions:
    fmt: str = "txt"  # txt, json, srt, vtt
    lang: str | None = None  # forced language / dialect
    hotwords: tuple[str, ...] = ()
    batch_size: int = 4  # chunks of a long file decoded together
    max_new_tokens: int = 512  # the demo's limit for one utterance
    with_tokens: bool = False  # json: include token ids


@dataclass(frozen=True)
class SpeakOptions:
    sample_rate: int | None = None  # output rate (default: the model's own, 16 kHz)
    pause: float = 0.3  # seconds of silence between sentences
    overwrite: bool = False
    cfg: float = 2.0  # classifier-free guidance, upstream generate_tts


@dataclass(frozen=True)
class SpeakResult:
    output: Path
    duration: float  # seconds written
    sample_rate: int
    sentences: int
    reference_text: str
    reference_text_transcribed: bool  # True when the reference transcript came from the model
    clipped_samples: int = 0  # generated samples beyond full scale, clipped in the streamed file


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)

"""Audio in through soundfile (libsndfile): validated probes and reads.

Reads return float64 ``[frames, channels]`` (the DSP engine's working type) plus an AudioInfo that
remembers the input's sample rate, channels, container and subtype so the output can keep them.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ming_edit.errors import AudioError


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str  # libsndfile container, e.g. "WAV"
    subtype: str  # e.g. "PCM_16"

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def libsndfile_reason(err: BaseException) -> str:
    """libsndfile's message without its 'Error opening <path>:' preamble, on one line."""
    text = " ".join(str(err).split())
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def check_input_file(path: Path) -> None:
    """Refuse paths that are not a readable, non-empty regular file, with one clear line."""
    if not path.exists():
        raise AudioError(f"input not found: {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a directory, expected an audio file")
    if not path.is_file():
        raise AudioError(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path} is not readable (permission denied)")


def _check_riff_complete(path: Path) -> None:
    """libsndfile silently reads what is left of a cut-off WAV; we refuse it instead, because a
    truncated recording edited and saved would hide the damage."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            chunk_id, chunk_size = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed writers leave the size unset
                    return
                held = size - pos - 8
                if chunk_size > held:
                    raise AudioError(
                        f"{path} is truncated: its header declares {chunk_size} bytes of "
                        f"audio but the file holds {held}"
                    )
                return
            pos += 8 + chunk_size + (chunk_size & 1)


def probe(path: Path) -> AudioInfo:
    """Validate ``path`` and return its AudioInfo without decoding the samples."""
    path = Path(path)
    check_input_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{path} is not a readable audio file ({libsndfile_reason(err)})") from None
    _check_riff_complete(path)
    if info.frames <= 0:
        raise AudioError(f"{path} contains no audio (0 samples)")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def read_audio(path: Path) -> tuple[np.ndarray, AudioInfo]:
    """Decode ``path`` to float64 [frames, channels]; refuse empty, corrupt or non-finite audio."""
    info = probe(path)
    try:
        audio, _ = sf.read(str(info.path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{info.path} could not be decoded ({libsndfile_reason(err)})") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{info.path} contains no audio (0 samples)")
    check_finite(audio, info.sample_rate, info.path)
    return audio, AudioInfo(info.path, info.sample_rate, audio.shape[1], audio.shape[0], info.format, info.subtype)


def check_finite(audio: np.ndarray, sample_rate: int, path: Path | str) -> None:
    finite = np.isfinite(audio)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=1))) if finite.ndim == 2 else int(np.argmin(finite))
        raise AudioError(
            f"{path} contains NaN or infinite samples (first at {first / sample_rate:.3f} s); "
            "repair or re-export the source"
        )

"""The one way the engine calls SoX: raw float32 through ``sox -t f32 - -t f32 - <effect>`` on
stdin/stdout (no temp files, any channel count).

SoX works on 32-bit integers internally, so callers scale the input to a 0.5 peak first
(``headroom_scale``), which leaves room for resampler overshoot, and scale back afterwards.
We drive the binary ourselves rather than through pysox: pysox's import alone costs ~0.15 s of
every command's start-up, and it pipes through the same binary.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from ming_edit.errors import AudioError

HEADROOM_PEAK = 0.5


def sox_binary() -> str:
    path = shutil.which("sox")
    if path is None:
        raise AudioError("the sox binary is needed for speed, pitch and sample-rate changes (apt-get install sox)")
    return path


def headroom_scale(audio: np.ndarray) -> float:
    """The factor that brings ``audio``'s peak to HEADROOM_PEAK (1.0 for silence)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return HEADROOM_PEAK / peak if peak > 0.0 else 1.0


def run_sox(audio: np.ndarray, sample_rate: int, effect: list[str], *, out_rate: int | None = None) -> np.ndarray:
    """``audio`` float [frames, channels] through one SoX effect chain -> float64 [frames', channels]."""
    channels = audio.shape[1]
    raw_in = ["-t", "f32", "-r", str(sample_rate), "-c", str(channels)]
    raw_out = ["-t", "f32", "-r", str(out_rate or sample_rate), "-c", str(channels)]
    cmd = [sox_binary(), "-D", "-V1", *raw_in, "-", *raw_out, "-", *effect]
    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    proc = subprocess.run(cmd, input=data, capture_output=True)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"sox {' '.join(effect)} failed: {message[-1] if message else proc.returncode}")
    out = np.frombuffer(proc.stdout, dtype="<f4")
    return out[: len(out) // channels * channels].reshape(-1, channels).astype(np.float64)


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad the end (a few samples at most) to exactly ``frames``."""
    if audio.shape[0] >= frames:
        return audio[:frames]
    return np.concatenate([audio, np.zeros((frames - audio.shape[0], audio.shape[1]))])

"""Output format conversions a user can ask for: sample rate (sox's very-high-quality `rate`)
and channel count (mean downmix, or copying mono to every channel)."""

from __future__ import annotations

import subprocess

import numpy as np

from ming_edit.dsp.tempo import HEADROOM_PEAK, _sox_binary
from ming_edit.errors import AudioError, UsageError

MIN_RATE, MAX_RATE = 8000, 384000


def validate_conversion(sample_rate: int | None, channels: int | None) -> None:
    if sample_rate is not None and not MIN_RATE <= sample_rate <= MAX_RATE:
        raise UsageError(f"--sample-rate {sample_rate} is out of range ({MIN_RATE}..{MAX_RATE} Hz)")
    if channels is not None and not 1 <= channels <= 32:
        raise UsageError(f"--channels {channels} is out of range (1..32)")


def remix(audio: np.ndarray, channels: int) -> np.ndarray:
    """[frames, C] -> [frames, channels]: mean downmix to mono, or mono copied to every channel."""
    have = audio.shape[1]
    if channels == have:
        return audio
    if channels == 1:
        return audio.mean(axis=1, keepdims=True)
    if have == 1:
        return np.repeat(audio, channels, axis=1)
    raise UsageError(f"cannot turn {have} channels into {channels}; only downmix to mono or mono to N is defined")


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling through ``sox rate -v`` on raw float32 pipes (any channel count)."""
    if rate_in == rate_out or audio.shape[0] == 0:
        return audio
    peak = float(np.max(np.abs(audio))) or 1.0
    scale = HEADROOM_PEAK / peak  # sox works in 32-bit integers: keep the resampler's overshoot in range
    channels = audio.shape[1]
    cmd = [_sox_binary(), "-D", "-V1", "-t", "f32", "-r", str(rate_in), "-c", str(channels), "-",
           "-t", "f32", "-r", str(rate_out), "-c", str(channels), "-", "rate", "-v"]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(audio * scale, dtype="<f4").tobytes(), capture_output=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"sox rate failed: {lines[-1] if lines else proc.returncode}")
    out = np.frombuffer(proc.stdout, dtype="<f4")
    out = out[: len(out) // channels * channels].reshape(-1, channels).astype(np.float64) / scale
    frames = round(audio.shape[0] * rate_out / rate_in)  # exact duration, as for speed edits
    if out.shape[0] >= frames:
        return out[:frames]
    return np.concatenate([out, np.zeros((frames - out.shape[0], channels))])

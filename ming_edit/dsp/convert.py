"""Output format conversions a user can ask for: sample rate (sox's very-high-quality `rate`)
and channel count (mean downmix, or copying mono to every channel)."""

from __future__ import annotations

import numpy as np

from ming_edit.dsp.sox import fit_length, headroom_scale, run_sox
from ming_edit.errors import UsageError
from ming_edit.ops.operation import OUTPUT_RATES

MIN_RATE, MAX_RATE = OUTPUT_RATES


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
    """Band-limited resampling through ``sox rate -v`` (any channel count; a 1-D signal stays 1-D).
    The length is exact, round(frames * rate_out / rate_in), as for speed edits. The one resampler
    of the package: the model path uses it too, so no torch is needed to convert rates."""
    if rate_in == rate_out or audio.shape[0] == 0:
        return audio
    frames = round(audio.shape[0] * rate_out / rate_in)
    if audio.ndim == 1:
        return resample(audio[:, None], rate_in, rate_out)[:, 0]
    scale = headroom_scale(audio)
    out = run_sox(audio * scale, rate_in, ["rate", "-v"], out_rate=rate_out) / scale
    return fit_length(out, frames)

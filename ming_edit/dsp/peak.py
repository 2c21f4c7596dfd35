"""Peak normalisation: one exact gain that brings the sample peak, or the true peak, to a target.

Unlike loudness normalisation nothing is limited: the output is ``gain * input``, so the peak
lands on the target to float precision. The true peak is read by loudness/truepeak.py's meter
(band-limited, >= 192 kHz grid), the same one the loudness ceiling uses.
"""

from __future__ import annotations

import math

import numpy as np

from ming_edit.errors import AudioError

SILENCE_DBFS = -120.0  # below this (float files) there is no peak worth raising to a target


def peak_level(audio: np.ndarray, sample_rate: int, true_peak: bool) -> float:
    """Linear sample peak, or true peak, over all channels of float audio [frames, channels]."""
    if true_peak:
        from ming_edit.dsp.loudness.truepeak import TruePeakScanner

        return TruePeakScanner(audio, sample_rate).true_peak()
    return float(np.max(np.abs(audio)))


def peak_gain(level: float, peak_db: float, true_peak: bool) -> tuple[float, str]:
    """(linear gain bringing a peak of ``level`` (linear) to ``peak_db``, the note). Silence is
    refused: no gain reaches a target."""
    unit = "dBTP" if true_peak else "dBFS"
    if not level > 10.0 ** (SILENCE_DBFS / 20.0):
        raise AudioError(f"the audio is silent (peak below {SILENCE_DBFS:g} dBFS); there is no peak to normalise")
    gain_db = peak_db - 20.0 * math.log10(level)
    kind = "true peak" if true_peak else "sample peak"
    return 10.0 ** (gain_db / 20.0), f"{kind} {20.0 * math.log10(level):.2f} -> {peak_db:g} {unit} (gain {gain_db:+.2f} dB)"


def normalize_peak(audio: np.ndarray, sample_rate: int, peak_db: float, true_peak: bool) -> tuple[np.ndarray, list[str]]:
    """(audio scaled so its peak is ``peak_db``, notes)."""
    gain, note = peak_gain(peak_level(audio, sample_rate, true_peak), peak_db, true_peak)
    return audio * gain, [note]

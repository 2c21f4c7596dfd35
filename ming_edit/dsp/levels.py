"""Speech and silence from 20 ms levels: an energy VAD with hysteresis, thresholds between the
recording's own noise floor and its speech level (numpy only; blocks of a long file welcome).

Used by the time edits (dsp/timeline.py: trims, pauses) and by speech/vad.py (windows for the model).
"""

from __future__ import annotations

import numpy as np

VAD_FRAME_SECONDS = 0.02  # 20 ms frames, the tokenizer's own frame rate
HANGOVER_SECONDS = 0.10  # speech is held this long after energy falls below the low threshold


def frame_energy_db(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """RMS level per frame in dB (mono float input); returns (levels, samples per frame)."""
    hop = max(1, int(round(VAD_FRAME_SECONDS * sample_rate)))
    n_frames = int(np.ceil(len(audio) / hop)) if len(audio) else 0
    padded = np.zeros(n_frames * hop, dtype=np.float64)
    padded[: len(audio)] = audio
    rms = np.sqrt(np.mean(padded.reshape(n_frames, hop) ** 2, axis=1) + 1e-20)
    return 20.0 * np.log10(rms + 1e-10), hop


class LevelMeter:
    """``frame_energy_db`` of a mono signal fed in blocks of any size (a long file streamed)."""

    def __init__(self, sample_rate: int, frame_seconds: float = VAD_FRAME_SECONDS) -> None:
        self.hop = max(1, int(round(frame_seconds * sample_rate)))
        self.carry = np.zeros(0)
        self.levels: list[np.ndarray] = []

    def feed(self, mono: np.ndarray) -> None:
        data = np.concatenate([self.carry, mono]) if len(self.carry) else np.asarray(mono, np.float64)
        whole = len(data) // self.hop * self.hop
        if whole:
            rms = np.sqrt(np.mean(data[:whole].reshape(-1, self.hop) ** 2, axis=1) + 1e-20)
            self.levels.append(20.0 * np.log10(rms + 1e-10))
        self.carry = data[whole:].copy()

    def finish(self) -> np.ndarray:
        if len(self.carry):  # the last partial frame, zero-padded as frame_energy_db pads it
            self.feed(np.zeros(self.hop - len(self.carry)))
        return np.concatenate(self.levels) if self.levels else np.zeros(0)


def mask_of_levels(levels: np.ndarray) -> np.ndarray:
    """Speech per frame from its level in dB.

    Thresholds adapt to the recording: between the noise floor (10th percentile of frame levels)
    and the loud speech level (95th percentile). A region opens above the high threshold and
    closes only after the level has stayed under the low threshold for the hangover time, so
    soft word endings and short dips inside words stay speech.
    """
    if len(levels) == 0:
        return np.zeros(0, dtype=bool)
    floor, loud = np.percentile(levels, 10), np.percentile(levels, 95)
    if loud < -60.0 or loud - floor < 6.0:
        # Near-digital silence, or no contrast at all: all speech if audible, else none.
        return np.full(len(levels), loud >= -60.0)
    high = floor + 0.45 * (loud - floor)
    low = floor + 0.25 * (loud - floor)
    hangover = max(1, int(round(HANGOVER_SECONDS / VAD_FRAME_SECONDS)))
    mask = np.zeros(len(levels), dtype=bool)
    active, quiet = False, 0
    for i, level in enumerate(levels):
        if not active and level >= high:
            active, quiet = True, 0
        elif active:
            quiet = quiet + 1 if level < low else 0
            if quiet > hangover:
                active = False
                mask[i - quiet + 1 : i + 1] = False
                continue
        mask[i] = active
    return mask

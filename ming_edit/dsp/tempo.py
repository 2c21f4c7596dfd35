"""Tempo (speed, pitch kept) and pitch (duration kept) through the sox binary.

Audio goes through SoX via dsp/sox.py, scaled to a 0.5 peak (headroom for the resampler inside
``pitch``) and back. Long inputs are cut at quiet points into one piece per CPU and the pieces run in parallel sox processes (SoX's WSOLA search
is the costly part and is single-threaded). Output length is then made exact: round(N / factor)
frames for speed, N frames for pitch.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ming_edit.dsp.sox import fit_length, headroom_scale, run_sox

PARALLEL_MIN_S = 60.0  # shorter inputs run in one sox process
QUIET_SEARCH_S = 5.0  # look this far around each nominal cut for the quietest 20 ms


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _quiet_cuts(audio: np.ndarray, sample_rate: int, pieces: int) -> list[int]:
    """Cut points near equal division, each at the quietest 20 ms frame within +-5 s."""
    frame = max(1, int(0.02 * sample_rate))
    reach = int(QUIET_SEARCH_S * sample_rate)
    cuts = [0]
    for k in range(1, pieces):
        nominal = audio.shape[0] * k // pieces
        lo = max(cuts[-1] + frame, nominal - reach)
        hi = min(audio.shape[0] - frame, nominal + reach)
        count = max(1, (hi - lo) // frame)
        window = audio[lo : lo + count * frame]
        energy = np.square(window).reshape(count, frame, -1).sum(axis=(1, 2))
        cuts.append(lo + int(np.argmin(energy)) * frame + frame // 2)
    cuts.append(audio.shape[0])
    return cuts


def _process(audio: np.ndarray, sample_rate: int, effect: list[str], length_ratio: float) -> np.ndarray:
    """Run ``effect`` on scaled audio, piecewise in parallel when long; exact output length."""
    frames = audio.shape[0]
    if not frames or not audio.any():  # silence stays silence, at the requested length
        return np.zeros((round(frames * length_ratio), audio.shape[1]))
    scale = headroom_scale(audio)
    pieces = min(_cpu_count(), int(frames / sample_rate // (PARALLEL_MIN_S / 2)))
    cuts = _quiet_cuts(audio, sample_rate, pieces) if pieces > 1 else [0, frames]

    def run(i: int) -> np.ndarray:
        piece = audio[cuts[i] : cuts[i + 1]] * scale
        out_frames = round(cuts[i + 1] * length_ratio) - round(cuts[i] * length_ratio)
        return fit_length(run_sox(piece, sample_rate, effect), out_frames)

    if len(cuts) > 2:
        with ThreadPoolExecutor(len(cuts) - 1) as pool:
            parts = list(pool.map(run, range(len(cuts) - 1)))
        out = np.concatenate(parts)
    else:
        out = run(0)
    out *= 1.0 / scale
    return fit_length(out, round(frames * length_ratio))


def change_speed(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Tempo x ``factor`` (2 = twice as fast), pitch kept; round(frames / factor) frames out."""
    if factor == 1.0:
        return audio.copy()
    return _process(audio, sample_rate, ["tempo", "-s", f"{factor:.10g}"], 1.0 / factor)


def shift_pitch(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Pitch shift by ``semitones`` (sox ``pitch``, cents = 100 x semitones); same length out."""
    if semitones == 0.0:
        return audio.copy()
    return _process(audio, sample_rate, ["pitch", f"{100.0 * semitones:.10g}"], 1.0)

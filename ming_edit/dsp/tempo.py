"""Tempo (speed, pitch kept) and pitch (duration kept) through the sox binary.

Audio goes through SoX via dsp/sox.py, scaled to a 0.5 peak (headroom for the resampler inside
``pitch``) and back. Long inputs are cut at quiet points into one piece per CPU and the pieces run
in parallel sox processes (SoX's WSOLA search is the costly part and is single-threaded). Output
length is then made exact: round(N / factor) frames for speed, N frames for pitch.

The split is shared with the streaming path (pipelines/stream_edit.py): both measure the energy
of every 20 ms frame on one grid from the first sample (``EnergyMeter``), so both cut at the same
points and give the same pieces.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ming_edit.dsp.sox import fit_length, headroom_scale, run_sox

PARALLEL_MIN_S = 60.0  # shorter inputs run in one sox process
QUIET_SEARCH_S = 5.0  # look this far around each nominal cut for the quietest 20 ms
FRAME_S = 0.02
_CHUNK = 1 << 16  # frames squared at a time: no full-length temporary on long inputs


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def frame_length(sample_rate: int) -> int:
    return max(1, int(FRAME_S * sample_rate))


class EnergyMeter:
    """Energy (sum of squares over samples and channels) of each whole 20 ms frame of a stream
    fed in blocks of any size; a frame's value does not depend on how the stream was cut."""

    def __init__(self, sample_rate: int) -> None:
        self.frame = frame_length(sample_rate)
        self._parts: list[np.ndarray] = []
        self._rest: np.ndarray | None = None

    def feed(self, block: np.ndarray) -> None:
        if self._rest is not None:
            block = np.concatenate([self._rest, block])
        whole = block.shape[0] // self.frame * self.frame
        if whole:
            squared = np.square(block[:whole]).reshape(-1, self.frame, block.shape[1])
            self._parts.append(squared.sum(axis=(1, 2)))
        self._rest = block[whole:].copy() if whole < block.shape[0] else None

    def energy(self) -> np.ndarray:
        return np.concatenate(self._parts) if self._parts else np.zeros(0)


def frame_energy(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    meter = EnergyMeter(sample_rate)
    step = max(1, _CHUNK // meter.frame) * meter.frame
    for start in range(0, audio.shape[0], step):
        meter.feed(audio[start : start + step])
    return meter.energy()


def piece_count(frames: int, sample_rate: int) -> int:
    """How many parallel sox processes an input of ``frames`` gets (1: no split)."""
    return max(1, min(_cpu_count(), int(frames / sample_rate // (PARALLEL_MIN_S / 2))))


def quiet_cuts(energy: np.ndarray, frames: int, sample_rate: int, pieces: int) -> list[int]:
    """Cut points near equal division, each in the middle of the quietest 20 ms frame within
    +-5 s (``energy`` from EnergyMeter). Pieces last >= 30 s, so every search window is non-empty."""
    frame = frame_length(sample_rate)
    reach = int(QUIET_SEARCH_S * sample_rate) // frame
    cuts, last = [0], -1
    for k in range(1, pieces):
        nominal = frames * k // pieces // frame
        lo = max(last + 1, nominal - reach)
        hi = max(lo + 1, min(len(energy), nominal + reach + 1))
        last = lo + int(np.argmin(energy[lo:hi]))
        cuts.append(last * frame + frame // 2)
    cuts.append(frames)
    return cuts


def piece_frames(cuts: list[int], length_ratio: float) -> list[int]:
    """Output frames of each piece: the pieces add up to exactly round(N * length_ratio)."""
    return [round(b * length_ratio) - round(a * length_ratio) for a, b in zip(cuts, cuts[1:])]


def _quiet_cuts(audio: np.ndarray, sample_rate: int, pieces: int) -> list[int]:
    return quiet_cuts(frame_energy(audio, sample_rate), audio.shape[0], sample_rate, pieces)


def _process(audio: np.ndarray, sample_rate: int, effect: list[str], length_ratio: float) -> np.ndarray:
    """Run ``effect`` on scaled audio, piecewise in parallel when long; exact output length."""
    frames = audio.shape[0]
    if not frames or not audio.any():  # silence stays silence, at the requested length
        return np.zeros((round(frames * length_ratio), audio.shape[1]))
    scale = headroom_scale(audio)
    pieces = piece_count(frames, sample_rate)
    cuts = _quiet_cuts(audio, sample_rate, pieces) if pieces > 1 else [0, frames]
    lengths = piece_frames(cuts, length_ratio)

    def run(i: int) -> np.ndarray:
        piece = audio[cuts[i] : cuts[i + 1]] * scale
        return fit_length(run_sox(piece, sample_rate, effect), lengths[i])

    if len(cuts) > 2:
        with ThreadPoolExecutor(len(cuts) - 1) as pool:
            parts = list(pool.map(run, range(len(cuts) - 1)))
        out = np.concatenate(parts)
    else:
        out = run(0)
    out *= 1.0 / scale
    return fit_length(out, round(frames * length_ratio))


def speed_effect(factor: float) -> list[str]:
    return ["tempo", "-s", f"{factor:.10g}"]


def pitch_effect(semitones: float) -> list[str]:
    return ["pitch", f"{100.0 * semitones:.10g}"]


def change_speed(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Tempo x ``factor`` (2 = twice as fast), pitch kept; round(frames / factor) frames out."""
    if factor == 1.0:
        return audio.copy()
    return _process(audio, sample_rate, speed_effect(factor), 1.0 / factor)


def shift_pitch(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Pitch shift by ``semitones`` (sox ``pitch``, cents = 100 x semitones); same length out."""
    if semitones == 0.0:
        return audio.copy()
    return _process(audio, sample_rate, pitch_effect(semitones), 1.0)

"""Frame features for aligning a recording with a regenerated version of it: log-mel spectra in
numpy (no torch start-up), 25 ms windows every 10 ms, centred on ``frame * hop``.

The features are made insensitive to what a regeneration changes without changing the words:
level (per-band mean removed), a mild EQ (the same), a lower sample rate (the mel range stops
below the lower Nyquist of the two signals) and a light noise floor (each signal is floored
55 dB under its own loud frames, so pauses in both look alike whatever noise they hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP_SECONDS = 0.010
WINDOW_SECONDS = 0.025
N_MELS = 40
FRAME_MEAN = True
ENERGY_WEIGHT = 0.5
CONTEXT = 2  # neighbours stacked on either side of a frame
FMIN_HZ = 60.0
FLOOR_DB = 55.0  # below the signal's loud frames (99th percentile band level)
ACTIVE_DB = 25.0  # a frame this far above the floor (in its loudest band) holds sound
_CHUNK_FRAMES = 2048  # STFT frames per block: bounded memory at any length and rate


@dataclass(frozen=True)
class Features:
    """``unit``: rows of mean-removed, floored log-mel, scaled to unit length (cosine distance =
    1 - dot); ``active``: frames that hold sound rather than a pause."""

    unit: np.ndarray  # [frames, N_MELS * (2 CONTEXT + 1)] float64
    active: np.ndarray  # [frames] bool
    hop: int  # samples per frame at the signal's rate

    @property
    def frames(self) -> int:
        return int(self.unit.shape[0])


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters equally spaced on the HTK mel scale, [n_fft // 2 + 1, n_mels]."""
    def mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins[None, :]) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling)).T


def log_mel(mono: np.ndarray, sample_rate: int, fmax: float) -> tuple[np.ndarray, int]:
    """(log-mel power in dB [frames, N_MELS], hop in samples) of a 1-D signal."""
    hop = max(1, round(HOP_SECONDS * sample_rate))
    win = max(2, round(WINDOW_SECONDS * sample_rate))
    n_fft = 1 << int(np.ceil(np.log2(win)))
    window = np.hanning(win)
    bank = mel_filterbank(sample_rate, n_fft, N_MELS, FMIN_HZ, min(fmax, sample_rate / 2))
    frames = mono.shape[0] // hop + 1
    padded = np.concatenate([np.zeros(win // 2), np.asarray(mono, dtype=np.float64), np.zeros(win)])
    out = np.empty((frames, N_MELS))
    for first in range(0, frames, _CHUNK_FRAMES):
        count = min(_CHUNK_FRAMES, frames - first)
        starts = (first + np.arange(count)) * hop
        block = padded[starts[:, None] + np.arange(win)[None, :]] * window
        power = np.abs(np.fft.rfft(block, n_fft, axis=1)) ** 2
        out[first:first + count] = 10.0 * np.log10(power @ bank + 1e-20)
    return out, hop


def frame_features(mono: np.ndarray, sample_rate: int, fmax: float) -> Features:
    """Features of one signal (see the module note)."""
    db, hop = log_mel(mono, sample_rate, fmax)
    loud = float(np.percentile(db, 99)) if db.size else 0.0
    floor = loud - FLOOR_DB
    db = np.maximum(db, floor)
    active = db.max(axis=1) > floor + ACTIVE_DB
    centred = db - db.mean(axis=0, keepdims=True)
    if FRAME_MEAN:
        level = centred.mean(axis=1, keepdims=True)
        centred = np.concatenate([centred - level, ENERGY_WEIGHT * level], axis=1)
    return Features(unit_rows(stacked(centred, CONTEXT)), active, hop)


def stacked(x: np.ndarray, context: int) -> np.ndarray:
    """Each frame with its ``context`` neighbours on either side (edge frames repeated)."""
    if context == 0:
        return x
    padded = np.pad(x, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[k:k + x.shape[0]] for k in range(2 * context + 1)], axis=1)


def unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-9)


def pooled(features: Features, factor: int) -> np.ndarray:
    """Unit rows of ``factor`` consecutive frames averaged (the coarse pass of the alignment; the
    pooling already spans the context, so only each frame's own part of its stack is used)."""
    n = features.frames
    width = features.unit.shape[1] // (2 * CONTEXT + 1)
    centre = features.unit[:, CONTEXT * width:(CONTEXT + 1) * width]  # the frames themselves, not their stacks
    groups = -(-n // factor)
    padded = np.zeros((groups * factor, width))
    padded[:n] = centre
    return unit_rows(padded.reshape(groups, factor, -1).mean(axis=1))


def envelope(mono: np.ndarray, sample_rate: int, window_seconds: float = 0.005) -> tuple[np.ndarray, int]:
    """(RMS in ``window_seconds`` windows every 1 ms, hop in samples): where a seam is quiet."""
    hop = max(1, round(0.001 * sample_rate))
    width = max(1, round(window_seconds * sample_rate))
    power = np.concatenate([[0.0], np.cumsum(np.asarray(mono, dtype=np.float64) ** 2)])
    centres = np.arange(0, mono.shape[0], hop)
    lo = np.clip(centres - width // 2, 0, mono.shape[0])
    hi = np.clip(centres + width // 2 + 1, 0, mono.shape[0])
    return np.sqrt((power[hi] - power[lo]) / np.maximum(hi - lo, 1)), hop

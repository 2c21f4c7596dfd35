"""True-peak measurement by 4x oversampling (ITU-R BS.1770-4 Annex 2), block-sparse.

The interpolator is a polyphase FIR, evaluated as block-Toeplitz matrix products over rows of
16 samples (BLAS instead of a per-window loop).
Oversampling a whole hour at 4x would cost four copies of the audio, so the signal is cut into
blocks and only blocks that *could* reach a given level are interpolated: an interpolated point
is a weighted sum of nearby samples, so |point| <= BOUND * (largest |sample| nearby), where
BOUND is the largest absolute tap sum of any polyphase branch of the interpolator.
"""

from __future__ import annotations

import numpy as np

OVERSAMPLE = 4
TAPS_PER_PHASE = 16
BLOCK = 512  # samples per scan block (>= HALF_SPAN + 1)
_GROUP = 128  # blocks interpolated per batch (bounds temporary memory)


def _design_interpolator() -> np.ndarray:
    """Kaiser-windowed sinc, odd length, cut-off at the original Nyquist frequency.

    The centre tap is 1 and every OVERSAMPLE-th tap from it is 0, so phase 0 reproduces the
    original samples exactly; the other phases are the inter-sample points.
    """
    length = OVERSAMPLE * TAPS_PER_PHASE + 1
    n = np.arange(length) - (length - 1) / 2
    return np.sinc(n / OVERSAMPLE) * np.kaiser(length, 7.0)


FIR = _design_interpolator()
DELAY = (len(FIR) - 1) // 2  # in oversampled points
HALF_SPAN = DELAY // OVERSAMPLE + 1  # original samples that influence a point, each side
BOUND = float(max(np.abs(FIR[p::OVERSAMPLE]).sum() for p in range(OVERSAMPLE)))
# point at time n + p/OVERSAMPLE (p >= 1) = x[n-K/2+1 .. n+K/2] @ _PHASES[:, p-1], K = TAPS_PER_PHASE
_PHASES = np.stack([FIR[p::OVERSAMPLE][::-1] for p in range(1, OVERSAMPLE)], axis=1)


def _block_toeplitz(row: int) -> np.ndarray:
    """[2, row, 3*row]: y[t] = sum_k x[t+k] _PHASES[k] for the ``row`` outputs t of one row of
    samples is (this row) @ T[0] + (next row) @ T[1], columns ordered (t, phase)."""
    out = np.zeros((2 * row, row, _PHASES.shape[1]))
    for t in range(row):
        out[t : t + TAPS_PER_PHASE, t] = _PHASES
    return out.reshape(2, row, row * _PHASES.shape[1])


_ROW = TAPS_PER_PHASE
_ROWS = -(-(BLOCK + 2 * (HALF_SPAN + 1)) // _ROW)  # rows of outputs per block segment
_TOEPLITZ = _block_toeplitz(_ROW)


def _peaks_per_block(audio: np.ndarray) -> np.ndarray:
    """max |sample| over channels for each BLOCK, then widened by one block each side."""
    n = audio.shape[0]
    nblocks = -(-n // BLOCK)
    peaks = np.zeros(nblocks)
    full = n // BLOCK
    step = max(1, (1 << 20) // BLOCK)  # chunked: avoids a full-size abs() temporary
    for b in range(0, full, step):
        e = min(full, b + step)
        chunk = audio[b * BLOCK : e * BLOCK].reshape(e - b, BLOCK * audio.shape[1])
        peaks[b:e] = np.abs(chunk).max(axis=1)
    if full < nblocks:
        peaks[full] = np.abs(audio[full * BLOCK :]).max()
    widened = peaks.copy()
    widened[1:] = np.maximum(widened[1:], peaks[:-1])
    widened[:-1] = np.maximum(widened[:-1], peaks[1:])
    return widened


class TruePeakScanner:
    """Per-sample true-peak envelope of an audio array, computed only where asked."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio
        self.frames = audio.shape[0]
        self.nblocks = -(-self.frames // BLOCK)
        self.block_bound = _peaks_per_block(audio) * BOUND  # no point in block b exceeds this

    def candidate_blocks(self, level: float) -> np.ndarray:
        """Blocks whose true peak might exceed ``level`` (linear)."""
        return np.flatnonzero(self.block_bound > level)

    def envelope(self, blocks: np.ndarray, step: int = 1) -> np.ndarray:
        """[len(blocks), BLOCK // step] envelope: for sample n, the largest |oversampled point|
        in (n-1, n+1) over all channels, then the maximum over each run of ``step`` samples
        (a power of two). Samples past the end of the audio read 0."""
        out = np.empty((len(blocks), BLOCK // step))
        for g in range(0, len(blocks), _GROUP):
            env = self._envelope_group(blocks[g : g + _GROUP]).reshape(-1, BLOCK // step, step)
            while env.shape[2] > 1:  # halving: numpy is slow at max over a tiny last axis
                half = env.shape[2] // 2
                env = np.maximum(env[:, :, :half], env[:, :, half:])
            out[g : g + _GROUP] = env[:, :, 0]
        return out

    def _envelope_group(self, blocks: np.ndarray) -> np.ndarray:
        margin = HALF_SPAN + 1
        width = _ROWS * _ROW + _ROW  # covers margin + BLOCK + margin and the last taps
        idx = blocks[:, None] * BLOCK - margin + np.arange(width)[None, :]
        valid = (idx >= 0) & (idx < self.frames)
        seg = self.audio[np.clip(idx, 0, self.frames - 1)]  # [g, width, ch]
        seg[~valid] = 0.0
        # slot i = times start-1+i + {0, 1/4, 2/4, 3/4}; phase 0 is the sample itself
        first = margin - 1
        lead = first - (TAPS_PER_PHASE // 2 - 1)  # window start for the slot at `first`
        slots = np.zeros((len(blocks), BLOCK + 1))
        for ch in range(seg.shape[2]):
            np.maximum(slots, np.abs(seg[:, first : first + BLOCK + 1, ch]), out=slots)
            rows = np.ascontiguousarray(seg[:, :, ch]).reshape(len(blocks), _ROWS + 1, _ROW)
            # interpolated points as two BLAS products over rows of _ROW samples (block Toeplitz)
            points = rows[:, :-1] @ _TOEPLITZ[0]
            points += rows[:, 1:] @ _TOEPLITZ[1]
            points = np.abs(points, out=points).reshape(len(blocks), _ROWS * _ROW, 3)
            for p in range(3):  # (max over a tiny last axis is slow in numpy)
                np.maximum(slots, points[:, lead : lead + BLOCK + 1, p], out=slots)
        # sample n takes slots n-1 and n: every oversampled point in (n-1, n+1)
        return np.maximum(slots[:, :-1], slots[:, 1:])

    def true_peak(self, blocks: np.ndarray | None = None) -> float:
        """Largest |oversampled point| (linear) over ``blocks`` (default: all), loudest first."""
        order = np.argsort(-self.block_bound) if blocks is None else blocks[np.argsort(-self.block_bound[blocks])]
        best = 0.0
        for g in range(0, len(order), _GROUP):
            group = order[g : g + _GROUP]
            group = group[self.block_bound[group] > best]
            if len(group) == 0:
                break
            best = max(best, float(self._envelope_group(group).max()))
        return best


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak in dBTP (dB relative to full scale, 4x oversampled); -inf for silence."""
    peak = TruePeakScanner(audio).true_peak()
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")

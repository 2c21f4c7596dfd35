"""True peak: band-limited interpolation on a >= 192 kHz grid, refined, block-sparse.

Oversampling rule. BS.1770-4 Annex 2 oversamples 48 kHz audio 4x, i.e. onto a 192 kHz grid; a
fixed 4x would leave 16 kHz speech on a 64 kHz grid and miss its inter-sample peaks by up to
~1 dB. The factor is the smallest *even* L >= max(4, 192000 / fs): 8 kHz -> 24x, 16 kHz -> 12x,
22.05 kHz -> 10x, 44.1 kHz -> 6x, 48 kHz and above -> 4x (never fewer than the standard's 4
points per sample). Even, because the interpolator has two stages:
1. 2x by a long Kaiser-windowed half-band sinc (HALFBAND_TAPS taps on the new phase), sharp
   enough to pass content up to 0.47 fs within 0.001 of its amplitude (0.005 at 0.48 fs);
2. L/2x from 2 fs by a short windowed sinc: the signal now fills only the lower half of the
   band, so a wide transition band (STAGE2_TAPS taps per phase) keeps the same accuracy.
Phase 0 of each stage is the input sample itself, so the original samples lie on the grid.
Grid refinement: between grid points a peak at frequency f can still be missed by
1 - cos(pi f / (L fs)) (0.06 dB at 16 kHz for 7 kHz content, 0.5 dB near Nyquist at 48 kHz), so
between every two samples the largest |point| is replaced by the crest of the sinusoid through
it and its two grid neighbours (exact for a tone; < 0.01 dB on near-Nyquist noise at 4x).
Near Nyquist. Above ~0.47 fs the half-band stage rolls off (-0.1 dB at 0.49 fs, all of it at
0.5), and resamplers leave energy there (resample_poly 22.05 -> 16 kHz: within 40 Hz of 8 kHz,
read up to 0.6 dB low). So the half-sample points also get what the stage misses: per segment,
an FFT over NYQUIST_CONTEXT more samples each side times (exact delay - stage response) above
0.46 fs; stage 2 sees that band at a quarter of its rate, so the whole grid is corrected.
Measured against exact (FFT) band-limited interpolation, tone bursts read within 0.01 dB up to
0.495 fs at 16 kHz (0.01-0.03 dB at 48 kHz) and within 0.07 dB up to 0.499 fs, where the finite
context truncates the band's long tails (normalize aims a little under the ceiling for this).

Block skipping. Every grid point is a fixed linear combination of the samples within reach
(weights found by pushing impulses through the implementation), so it is bounded by the largest
|sample|, |first difference| and |second difference| around it (PeakBounds: at most ~3.2x the
sample peak for arbitrary input, but within ~1% of it for slow, voiced content); the Nyquist
correction, zero below 0.46 fs, adds a constant times the |fourth difference| (its response
there, 16 sin^4(pi f), is far from 0; the constant is that of the untapered filter plus 25% for
the tapered, finite context, checked in tests rather than proven). These bounds assume nothing
about the signal; blocks whose bound is under a level are skipped. The crest refinement is
capped at 1/cos(pi / 2L) times its grid point, the most by which content below Nyquist can rise
between grid points, so the bounds cover refined values too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from ming_edit.dsp.frames import FrameReader, as_reader, windows

GRID_RATE = 192000  # BS.1770-4: 4x at 48 kHz
BLOCK = 512  # samples per scan block (> the interpolator's reach)
HALFBAND_TAPS = 96  # stage 1, taps of the half-sample phase
HALFBAND_BETA = 6.5
STAGE2_TAPS = 10  # stage 2, taps per phase; (taps - 2) / 4 whole keeps the grid on samples
STAGE2_BETA = 7.0
_ROW1, _ROW2 = 16, STAGE2_TAPS  # input samples per matrix row of each stage
_POINTS_PER_GROUP = 1 << 19  # grid points computed per batch (bounds temporary memory)


def oversampling_factor(sample_rate: int) -> int:
    """Smallest even factor putting ``sample_rate`` on a >= 192 kHz grid, and at least 4."""
    factor = max(4, -(-GRID_RATE // int(sample_rate)))
    return factor + factor % 2


def _phase_taps(taps: int, phases: int, beta: float) -> np.ndarray:
    """[taps, phases] float64: column r gives the point r/phases after input taps//2 - 1 from
    inputs 0 .. taps-1 (Kaiser-windowed sinc, zero at +-taps/2); column 0 is that input."""
    centre = taps // 2 - 1
    offsets = (np.arange(taps)[:, None] - centre) - np.arange(phases)[None, :] / phases
    ratio = np.clip(offsets / (taps / 2), -1.0, 1.0)
    out = np.sinc(offsets) * np.i0(beta * np.sqrt(1.0 - ratio**2)) / np.i0(beta)
    out[:, 0] = 0.0
    out[centre, 0] = 1.0
    return out


_GEMM_WORK = 1 << 18  # m*n*k per BLAS call: OpenBLAS keeps calls this small single-threaded


@dataclass(frozen=True)
class _Stage:
    """One polyphase stage as batched matrix products over rows of ``row`` input samples:
    the window of rows i .. i+span-1 times ``matrix`` gives the ``phases`` points of each of
    the ``row`` slots of row i, slot t taking taps from inputs i*row+t .. i*row+t+taps-1."""

    matrix: np.ndarray  # [span*row, row*phases] float32
    row: int
    span: int
    chunk: int  # rows per BLAS call

    @classmethod
    def build(cls, phase_taps: np.ndarray, row: int) -> _Stage:
        taps, phases = phase_taps.shape
        span = -(-(row + taps - 1) // row)
        out = np.zeros((span * row, row, phases))
        for t in range(row):
            out[t : t + taps, t] = phase_taps
        matrix = out.reshape(span * row, row * phases).astype(np.float32)
        return cls(matrix, row, span, max(8, _GEMM_WORK // matrix.size))

    def input_length(self, rows: int) -> int:
        return (rows + self.span - 1) * self.row

    def __call__(self, x: np.ndarray, rows: int) -> np.ndarray:
        """x [g, >= input_length(rows)] float32 -> [g, rows*row*phases] points in time order.

        Small batched products: on a shared machine BLAS threads made one big product ~10x
        slower than a single thread."""
        g, k = x.shape[0], self.matrix.shape[0]
        windows = np.lib.stride_tricks.as_strided(
            x, (g, rows, k), (x.strides[0], self.row * x.strides[1], x.strides[1]), writeable=False
        )
        total = g * rows
        batch = np.zeros((-(-total // self.chunk) * self.chunk, k), np.float32)
        batch[:total].reshape(g, rows, k)[:] = windows
        points = batch.reshape(-1, self.chunk, k) @ self.matrix
        return points.reshape(-1, self.matrix.shape[1])[:total].reshape(g, -1)


@dataclass(frozen=True)
class Interpolator:
    factor: int
    stage1: _Stage  # the half-sample points of the 2x stage
    stage2: _Stage  # every point of the factor/2 stage (phase 0 included)
    delay: int  # grid point i of a segment starting at sample s is at time s + delay + i/factor
    bounds: PeakBounds

    def _rows(self, points: int) -> tuple[int, int]:
        rows2 = -(-points // (self.stage2.row * self.factor // 2))
        rows1 = -(-self.stage2.input_length(rows2) // (2 * self.stage1.row))
        return rows1, rows2

    def segment_width(self, points: int) -> int:
        """Input samples needed for ``points`` grid points."""
        return self.stage1.input_length(self._rows(points)[0])

    def grid(self, segments: np.ndarray, points: int, wide: np.ndarray | None = None) -> np.ndarray:
        """[g, >= points] grid points of float32 ``segments`` [g, segment_width(points)].

        With ``wide``, the same segments plus NYQUIST_CONTEXT samples each side, the half-sample
        points get what the half-band stage rolls off near Nyquist (computed by FFT): stage 2
        sees that band at a quarter of its rate, so the whole grid becomes exact up to fs/2."""
        rows1, rows2 = self._rows(points)
        half = self.stage1(segments, rows1)  # the points half a sample after each centre
        centre = HALFBAND_TAPS // 2 - 1
        if wide is not None:
            first = NYQUIST_CONTEXT + centre
            half += _band_correction(wide)[:, first : first + half.shape[1]]
        u = np.empty((segments.shape[0], 2 * half.shape[1]), np.float32)
        u[:, 0::2] = segments[:, centre : centre + half.shape[1]]
        u[:, 1::2] = half
        return self.stage2(u, rows2)


@dataclass(frozen=True)
class PeakBounds:
    """Three bounds on every refined grid point from the statistics of the samples within reach,
    P = max |x|, D = max |x[k+1] - x[k]|, D2 = max |x[k+1] - 2 x[k] + x[k-1]| (x = 0 outside):
    with w the weights of one grid point at time j + tau (j whole, 0 <= tau < 1),
    * taps:   |y| <= sum|w| P;
    * first:  y = x[n] sum(w) + sum_i c_i d_i (n the nearest sample, c_i tail sums of w, by
              summation by parts), so |y| <= |sum w| P + sum|c| D;
    * second: y = (1-tau) x[j] + tau x[j+1] + (x[j] sum(v) + d_j sum(v_k (k-j)) + sum_m e_m d2_m)
              with v = w minus that linear interpolation (twice summed by parts), so
              |y| <= (1 + |sum v|) P + |sum v_k (k-j)| D + sum|e| D2.
    The last two are tight for slow content (voiced speech: D2 << P) and need no assumption
    on the signal. The crest refinement adds at most a factor 1/cos(pi / 2L) (it is capped
    there: no content below Nyquist peaks higher between grid points)."""

    taps: float
    first: tuple[float, float]
    second: tuple[float, float, float]
    crest: float
    band: float = 0.0  # the near-Nyquist correction per unit D4 (it only sees content > 0.46 fs)

    def __call__(self, stats: np.ndarray) -> np.ndarray:
        """Upper bound per block from ``stats`` [4, blocks] = (P, D, D2, D4) around each block."""
        peak, slope, curve, quartic = stats
        bound = np.minimum(self.taps * peak, self.first[0] * peak + self.first[1] * slope)
        second = self.second[0] * peak + self.second[1] * slope + self.second[2] * curve
        bound = np.minimum(bound, second) + self.band * quartic
        return bound * (self.crest * (1 + 1e-4))  # 1e-4: float32 rounding


def _bound_constants(weights: np.ndarray, delay: int, factor: int) -> PeakBounds:
    """PeakBounds from weights[k, i], the weight of segment sample k on grid point i."""
    taps = first_sum = first_tails = second_sum = moment = second_tails = 0.0
    start = (weights.shape[0] // 2 - delay) * factor  # one period of phases mid-segment
    for i in range(start, start + factor):
        w = weights[:, i]
        j, tau = delay + i // factor, (i % factor) / factor
        near = j + int(tau > 0.5)
        right, left = np.cumsum(w[::-1])[::-1], np.cumsum(w)  # sums of w[k:], w[:k+1]
        taps = max(taps, float(np.abs(w).sum()))
        first_sum = max(first_sum, abs(float(w.sum())))
        first_tails = max(first_tails, float(np.abs(right[near + 1 :]).sum() + np.abs(left[:near]).sum()))
        v = w.copy()
        v[j] -= 1.0 - tau
        v[j + 1] -= tau
        right, left = np.cumsum(v[::-1])[::-1], np.cumsum(v)
        twice_right, twice_left = np.cumsum(right[::-1])[::-1], np.cumsum(left)
        second_sum = max(second_sum, abs(float(v.sum())))
        moment = max(moment, abs(float(v @ (np.arange(len(v)) - j))))
        second_tails = max(second_tails, float(np.abs(twice_right[j + 2 :]).sum() + np.abs(twice_left[:j]).sum()))
    crest = float(1.0 / np.cos(np.pi / (2 * factor)))
    second = (1.0 + second_sum, moment, second_tails)
    return PeakBounds(taps, (first_sum, first_tails), second, crest, _band_gain(factor))


def _band_gain(factor: int, length: int = 1024) -> float:
    """The near-Nyquist correction as a filter on the fourth difference d4 (it is zero below
    0.46 fs, where d4's response 16 sin^4(pi f) is far from 0; d4 is small on voiced speech):
    sum of |taps| of that filter, times the largest sum of |stage-2 taps| it passes through,
    with 25% for the segment's taper and finite context."""
    freqs = np.fft.rfftfreq(length)
    on_d4 = np.fft.irfft(_half_sample_correction(length) / (16.0 * np.sin(np.pi * freqs) ** 4 + 1e-30), length)
    stage2 = np.abs(_phase_taps(STAGE2_TAPS, factor // 2, STAGE2_BETA)).sum(axis=0).max()
    return float(1.25 * np.abs(on_d4).sum() * stage2)


@lru_cache(maxsize=8)
def interpolator(factor: int) -> Interpolator:
    """The two-stage interpolator for an even ``factor`` (see the module docstring)."""
    stage1 = _Stage.build(_phase_taps(HALFBAND_TAPS, 2, HALFBAND_BETA)[:, 1:], _ROW1)
    stage2 = _Stage.build(_phase_taps(STAGE2_TAPS, factor // 2, STAGE2_BETA), _ROW2)
    delay = (HALFBAND_TAPS // 2 - 1) + (STAGE2_TAPS // 2 - 1) // 2
    interp = Interpolator(factor, stage1, stage2, delay, PeakBounds(0.0, (0.0, 0.0), (0.0, 0.0, 0.0), 0.0))
    # the weights of every sample on every grid point: unit impulses through the implementation
    points = 4 * HALFBAND_TAPS * factor
    impulses = np.eye(interp.segment_width(points), dtype=np.float32)
    weights = interp.grid(impulses, points).astype(np.float64)
    return Interpolator(factor, stage1, stage2, delay, _bound_constants(weights, delay, factor))


NYQUIST_CONTEXT = 128  # samples each side of a segment for the near-Nyquist correction
_CORRECTED_FROM = 0.46  # fs: below this the half-band stage is within 1e-3 of exact


@lru_cache(maxsize=4)
def _half_sample_correction(length: int) -> np.ndarray:
    """[length//2 + 1] complex response turning a length-``length`` rfft into what the half-band
    stage misses at the half-sample points: exact delay e^{i pi f} minus the stage's response,
    kept above _CORRECTED_FROM only (below, the stage is flat; there the meter is exact)."""
    taps = _phase_taps(HALFBAND_TAPS, 2, HALFBAND_BETA)[:, 1]
    freqs = np.fft.rfftfreq(length)
    lags = np.arange(HALFBAND_TAPS) - (HALFBAND_TAPS // 2 - 1)
    stage = np.exp(2j * np.pi * np.outer(freqs, lags)) @ taps
    out = np.exp(1j * np.pi * freqs) - stage
    out[freqs < _CORRECTED_FROM] = 0.0
    return out.astype(np.complex64)


def _band_correction(wide: np.ndarray) -> np.ndarray:
    """[g, n] float32: at index k, exact minus half-band value half a sample after ``wide``[:, k]
    for the band above _CORRECTED_FROM (the segment's ends tapered off)."""
    length = wide.shape[1]
    n = _fast_length(length)
    spectrum = np.fft.rfft(wide * _taper(length, NYQUIST_CONTEXT // 2), n, axis=1)
    spectrum *= _half_sample_correction(n)
    return np.fft.irfft(spectrum, n, axis=1)[:, :length]


def _fast_length(length: int) -> int:
    """Smallest 2^a 3^b 5^c >= ``length`` (FFT-friendly; scipy stays off the DSP path)."""
    best = 1 << (length - 1).bit_length()
    power3 = 1
    while power3 < best:
        power5 = power3
        while power5 < best:
            n = power5 << max(0, (-(-length // power5) - 1).bit_length())
            best = min(best, n)
            power5 *= 5
        power3 *= 3
    return best


def _taper(length: int, ramp: int) -> np.ndarray:
    """Ones with raised-cosine ends of ``ramp`` samples (keeps the segment cut out of the band)."""
    out = np.ones(length, np.float32)
    rise = np.hanning(2 * ramp)[:ramp]
    out[:ramp], out[length - ramp :] = rise, rise[::-1]
    return out


def _crest(left: np.ndarray, mid: np.ndarray, right: np.ndarray, cap: float) -> np.ndarray:
    """Crest of the sinusoid through three equally spaced points around a local maximum
    ``mid`` (>= both neighbours, all >= 0), at most ``cap`` * mid; ``mid`` itself elsewhere.

    For A cos(w t + phi) sampled at -1, 0, 1: left + right = 2 mid cos(w) and
    right - left = -2 A sin(w) sin(phi), so A^2 = mid^2 + ((right - left) / (2 sin w))^2; exact
    for a pure tone, and like a parabola fit (but without its bias) for slow content. Float32
    is enough: where cos(w) ~ 1 loses precision, the correction itself is ~1e-7."""
    cos_w = np.minimum((left + right) / np.where(mid > 0, 2.0 * mid, 1.0), 1.0)
    sin_w = np.sqrt(1.0 - cos_w * cos_w)
    ok = (mid >= left) & (mid >= right) & (sin_w > 1e-3)  # else flat: the crest is ``mid``
    quadrature = (right - left) / np.where(ok, 2.0 * sin_w, 1.0)
    crest = np.sqrt(mid * mid + quadrature * quadrature)
    return np.where(ok, np.minimum(crest, cap * mid), mid)


class BlockStatistics:
    """Per-block (P, D, D2, D4) of a signal fed in whole-block chunks (a streamed first pass
    gathers them beside the loudness meter); see ``PeakBounds``."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.stats = np.zeros((4, -(-frames // BLOCK)))

    def add(self, b0: int, x: np.ndarray) -> None:
        """Blocks b0 .. b1-1 from ``x``: frames b0*BLOCK-2 .. b1*BLOCK+1 (zeros outside the signal)."""
        span = x.shape[0] - 4
        b1 = b0 + span // BLOCK
        x = np.asarray(x, np.result_type(x.dtype, np.float32))
        body = x[2 : span + 2]
        slope = x[3 : span + 3] - body
        curves = np.diff(x, 2, axis=0)  # centred on samples -1 .. span
        quartic = np.diff(curves, 2, axis=0)  # centred on samples 0 .. span - 1
        for row, values in enumerate((body, slope, curves[1 : span + 1], quartic)):
            self.stats[row, b0:b1] = np.abs(values).reshape(b1 - b0, -1).max(axis=1)

    def finish(self, reader: FrameReader) -> np.ndarray:
        """[4, blocks], the signal's ends accounted for, widened by one block each side."""
        stats, frames = self.stats, self.frames
        if frames:  # differences centred just outside the signal reach into it
            head, tail = np.zeros((9, reader.channels)), np.zeros((9, reader.channels))
            head[2:7] = reader.read(-2, 3)
            tail[2:7] = reader.read(frames - 3, frames + 2)
            stats[1:3, 0] = np.maximum(stats[1:3, 0], np.abs(head[4]).max())
            stats[2, -1] = max(stats[2, -1], np.abs(tail[4]).max())
            for ext, block in ((head, 0), (tail, -1)):  # x[-2..2] and x[N-3..N+1]
                stats[3, block] = max(stats[3, block], np.abs(np.diff(ext, 4, axis=0)).max())
        widened = stats.copy()
        widened[:, 1:] = np.maximum(widened[:, 1:], stats[:, :-1])
        widened[:, :-1] = np.maximum(widened[:, :-1], stats[:, 1:])
        return widened


def block_statistics(reader: FrameReader, on_frames: Callable[[int], None] | None = None) -> np.ndarray:
    """[4, blocks]: max over channels of |x| and of its |first|, |second| and |fourth difference|
    in each BLOCK (the signal taken as zero outside), widened by one block each side; one
    sequential read (``on_frames`` sees its progress)."""
    acc = BlockStatistics(reader.frames)
    nblocks = acc.stats.shape[1]
    step = max(1, (1 << 18) // (BLOCK * reader.channels))  # blocks per chunk
    for b0 in range(0, nblocks, step):
        b1 = min(nblocks, b0 + step)
        acc.add(b0, reader.read(b0 * BLOCK - 2, b1 * BLOCK + 2))
        if on_frames is not None:
            on_frames(min(reader.frames, b1 * BLOCK))
    return acc.finish(reader)


def _max_last(values: np.ndarray) -> np.ndarray:
    """Maximum over the (short) last axis, one strided column at a time: numpy's reduce over a
    tiny contiguous axis is several times slower."""
    out = values[..., 0].copy()
    for k in range(1, values.shape[-1]):
        np.maximum(out, values[..., k], out=out)
    return out


class TruePeakScanner:
    """True peak of a signal [frames, channels] (an array, or a FrameReader that decodes ranges
    again), computed only for the blocks asked. ``stats``: its BlockStatistics, when a pass over
    the signal has already gathered them."""

    def __init__(self, audio: np.ndarray | FrameReader, sample_rate: int, stats: np.ndarray | None = None) -> None:
        self.reader = as_reader(audio)
        self.frames = self.reader.frames
        self.nblocks = -(-self.frames // BLOCK)
        self.interp = interpolator(oversampling_factor(sample_rate))
        stats = block_statistics(self.reader) if stats is None else stats
        self.block_bound = self.interp.bounds(stats)  # no point of block b exceeds this
        self._group = max(1, _POINTS_PER_GROUP // (BLOCK * self.interp.factor))

    def candidate_blocks(self, level: float) -> np.ndarray:
        """Blocks whose true peak might exceed ``level`` (linear)."""
        return np.flatnonzero(self.block_bound > level)

    def envelope(self, blocks: np.ndarray, step: int = 1) -> np.ndarray:
        """[len(blocks), BLOCK // step]: for each run of ``step`` samples (a power of two), the
        largest refined |grid point| over all channels from one run before it to its end (for
        step 1: the points in (n-1, n+1) around sample n). Samples past the end read 0."""
        out = np.empty((len(blocks), BLOCK // step))
        for g in range(0, len(blocks), self._group):
            cells = self._cell_peaks(blocks[g : g + self._group], step)
            out[g : g + self._group] = np.maximum(cells[:, :-1], cells[:, 1:])
        return out

    def _cell_peaks(self, blocks: np.ndarray, cell: int) -> np.ndarray:
        """[g, BLOCK//cell + 1] largest refined |point| of each cell of ``cell`` samples, from the
        cell just before each block to the block's last.

        The result is that of refining every sample slot (the L points in [n, n+1)) on its own:
        a slot rarely holds two local maxima, whereas a longer run of near-Nyquist content holds
        many, and the largest on the grid need not be the largest after refinement (refining
        per run lost 0.07 dB at 4x). Refinement raises a slot by at most ``crest``, so only the
        slots within that of their cell's grid maximum are refined."""
        interp, factor = self.interp, self.interp.factor
        ncells = BLOCK // cell + 1
        slots = ncells * cell
        first = factor  # grid index of the first slot's first point (one point before it exists)
        points = first + slots * factor + 1  # ... and one after the last
        start = blocks * BLOCK - cell - interp.delay - 1  # first segment sample
        width = interp.segment_width(points)
        best = np.zeros((len(blocks), ncells), np.float32)
        cap = np.float32(interp.bounds.crest)
        for wide in windows(self.reader, start - NYQUIST_CONTEXT, width + 2 * NYQUIST_CONTEXT):
            seg = np.ascontiguousarray(wide[:, NYQUIST_CONTEXT : NYQUIST_CONTEXT + width])
            grid = interp.grid(seg, points, wide)
            np.abs(grid, out=grid)
            per_slot = grid[:, first : first + slots * factor].reshape(len(blocks), slots, factor)
            slot_max = _max_last(per_slot)
            cell_max = _max_last(slot_max.reshape(len(blocks), ncells, cell))
            g, n = np.nonzero(slot_max * cap >= np.repeat(cell_max, cell, axis=1))
            top = per_slot[g, n].argmax(axis=1) + g * grid.shape[1] + first + n * factor
            flat = grid.reshape(-1)
            np.maximum.at(cell_max, (g, n // cell), _crest(flat[top - 1], flat[top], flat[top + 1], cap))
            np.maximum(best, cell_max, out=best)
        return best.astype(np.float64)

    def true_peak(self, blocks: np.ndarray | None = None) -> float:
        """Largest refined |grid point| (linear) over ``blocks`` (default: all), loudest first."""
        order = np.argsort(-self.block_bound) if blocks is None else blocks[np.argsort(-self.block_bound[blocks])]
        best = 0.0
        for g in range(0, len(order), self._group):
            group = order[g : g + self._group]
            group = group[self.block_bound[group] > best]
            if len(group) == 0:
                break
            best = max(best, float(self._cell_peaks(group, 32)[:, 1:].max()))
        return best


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP of float audio [frames, channels]; -inf for silence."""
    peak = TruePeakScanner(audio, sample_rate).true_peak()
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")

"""The figures `ming-edit info` reports, in one sequential pass: BS.1770-4 integrated loudness,
EBU momentary / short-term maxima, the loudness range (EBU Tech 3342), true and sample peak,
clipped samples, a noise floor and the share of pauses (dsp/levels.py's 20 ms levels and VAD).

Feed consecutive blocks of any size to ``Analyzer``: it works on chunks of CHUNK frames with
MARGIN frames of context each side, in float32 (exact for 8- to 24-bit PCM; 32-bit and float data
are rounded by ~1e-7, far below what any figure shows). The true peak is computed in the same pass, exactly: for
each chunk truepeak.block_statistics bounds every 512-sample block, and TruePeakScanner computes
only the blocks whose bound exceeds the largest true peak found so far (no block skipped can hold
the maximum), from the chunk in memory, so the file is read once. Memory is constant but for the
per-100 ms hop energies and the per-20 ms levels (an hour: 36,000 + 180,000 floats).

Definitions (all from the K-weighted, channel-weighted power of meter.LoudnessMeter, 100 ms hops):
* momentary: 400 ms windows (4 hops) every 100 ms; short-term: 3 s windows (30 hops) every 100 ms;
  a maximum over whole windows only; a clip shorter than a window is one window over the clip.
* integrated: meter.Measurement.integrated (BS.1770-4 gating, -70 LUFS / -10 LU).
* LRA (Tech 3342): the short-term values, absolute gate -70 LUFS, relative gate -20 LU below the
  power mean of those passing it, then the 95th minus the 10th percentile (nearest rank:
  sorted[round((n - 1) p)]); 0.0 when fewer than two values pass (e.g. a clip under 3 s).
* noise floor: 20 ms RMS levels (power averaged over the channels); the median level of the frames
  the VAD (levels.mask_of_levels) marks as pauses when there is at least 1 s of them, else the 10th
  percentile of all frames; -inf for digital silence. ``pause_share``: the share of 20 ms frames
  marked as pauses.
* clipped samples: samples (each channel counted) at or beyond ``clip_level`` (full scale: 1.0
  for float data; the largest code for integer formats, e.g. 32767/32768 for PCM_16).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ming_edit.dsp.frames import ArrayReader, FrameReader, as_reader
from ming_edit.dsp.levels import VAD_FRAME_SECONDS, LevelMeter, mask_of_levels
from ming_edit.dsp.loudness.meter import ABSOLUTE_GATE, CHUNK, LoudnessMeter, Measurement, _lufs
from ming_edit.dsp.loudness.truepeak import BLOCK, TruePeakScanner, block_statistics
from ming_edit.errors import AudioError

MOMENTARY_HOPS = 4  # 400 ms
SHORT_TERM_HOPS = 30  # 3 s
LRA_RELATIVE_GATE = -20.0
LRA_PERCENTILES = (0.10, 0.95)
SILENT_DB = -180.0  # 20 ms levels under this are digital silence (LevelMeter floors zeros at -194 dB)
MIN_PAUSE_SECONDS = 1.0  # pause frames needed before the floor is read from them alone
MARGIN = 4 * BLOCK  # context each side of a chunk: > the interpolator's reach past a block (~210 samples) + one block

# integer subtypes: the largest positive code as a fraction of full scale (libsndfile's scaling)
_INTEGER_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def clip_level(subtype: str) -> float:
    """|sample| at or above which a sample of ``subtype`` counts as clipped."""
    bits = _INTEGER_BITS.get(subtype)
    return 1.0 - 2.0 ** (1 - bits) if bits else 1.0


@dataclass(frozen=True)
class Analysis:
    """The figures of one signal; levels are -inf for silence."""

    frames: int
    sample_rate: int
    channels: int
    integrated_lufs: float
    lra_lu: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    noise_floor_dbfs: float
    pause_share: float
    clipped_samples: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def window_levels(meas: Measurement, hops: int) -> np.ndarray:
    """Loudness (LUFS) of every window of ``hops`` consecutive 100 ms hops, one per hop; a clip
    shorter than the window gives one value over the whole clip."""
    e = meas.hop_energy
    if len(e) < hops:
        return np.atleast_1d(_lufs((e.sum() + meas.tail_energy) / max(meas.frames, 1)))
    return _lufs(sliding_window_view(e, hops).sum(axis=1) / (hops * meas.hop))


def loudness_range(short_term: np.ndarray) -> float:
    """EBU Tech 3342 LRA (LU) of short-term levels (LUFS) taken every 100 ms."""
    levels = short_term[short_term > ABSOLUTE_GATE]
    if len(levels) < 2:
        return 0.0
    relative = float(_lufs(np.mean(10.0 ** ((levels + 0.691) / 10.0)))) + LRA_RELATIVE_GATE
    kept = np.sort(levels[levels > relative])
    if len(kept) < 2:
        return 0.0
    low, high = (kept[int(round((len(kept) - 1) * p))] for p in LRA_PERCENTILES)
    return float(high - low)


def noise_floor(levels: np.ndarray, pauses: np.ndarray) -> float:
    """Noise floor (dBFS) from 20 ms RMS levels and the VAD's pause mask (see the module doc)."""
    if len(levels) == 0:
        return float("-inf")
    if pauses.sum() * VAD_FRAME_SECONDS >= MIN_PAUSE_SECONDS:
        floor = float(np.median(levels[pauses]))
    else:
        floor = float(np.percentile(levels, 10))
    return floor if floor > SILENT_DB else float("-inf")


def _channel_rms(x: np.ndarray) -> np.ndarray:
    """Per-frame RMS over the channels of ``x`` [n, channels], as one signal whose 20 ms levels
    are the power-averaged levels of the channels (a column at a time: numpy's reduce over a short
    last axis is several times slower; float32 is plenty for levels in dB)."""
    if x.shape[1] == 1:
        return x[:, 0]
    power = np.square(x[:, 0])
    for ch in range(1, x.shape[1]):
        power += np.square(x[:, ch])
    power *= 1.0 / x.shape[1]
    return np.sqrt(power, out=power)


def _db(linear: float) -> float:
    return 20.0 * math.log10(linear) if linear > 0 else float("-inf")


class Analyzer:
    """Everything ``Analysis`` holds, from consecutive blocks [n, channels] of one signal.

    ``frames``: the expected length (a header's; the per-hop array grows if more arrive: a lossy
    decoder may give a few more). ``clip_level``: see ``clip_level``. ``threads``: 2 runs the
    K-weighting and the 20 ms levels of a chunk beside its peak statistics (numpy releases the GIL
    in both; results are the same either way)."""

    def __init__(self, sample_rate: int, channels: int, frames: int = 0, clip_level: float = 1.0,
                 chunk: int = CHUNK, threads: int | None = None) -> None:
        self.sample_rate, self.channels, self.clip = sample_rate, channels, clip_level
        self.chunk = max(BLOCK, chunk // BLOCK * BLOCK)
        self.meter = LoudnessMeter(sample_rate, channels, max(frames, 0) + BLOCK + int(sample_rate))
        # buf holds frames start-MARGIN .. start+filled (zeros before the signal)
        self.buf = np.zeros((MARGIN + self.chunk + MARGIN, channels), np.float32)
        self.start, self.filled = 0, 0
        self.true_peak = self.sample_peak = 0.0
        self.clipped = 0
        self.levels = LevelMeter(sample_rate)
        threads = (2 if (os.cpu_count() or 1) > 1 else 1) if threads is None else threads
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="analysis") if threads > 1 else None

    def close(self) -> None:
        """Stop the helper thread (``finish`` does; call it when giving up before the end)."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def _reserve(self, stop: int) -> None:
        """Room in the per-hop energies for frames up to ``stop`` (and the hop it ends in)."""
        meter = self.meter
        if len(meter.hop_energy) * meter.hop > stop:
            return
        grown = max(2 * len(meter.hop_energy) * meter.hop, stop + BLOCK)
        meter.hop_energy = np.r_[meter.hop_energy, np.zeros(grown // meter.hop - len(meter.hop_energy))]
        meter.frames = grown

    def _loudness(self, body: np.ndarray) -> None:
        self.meter.feed(body)
        self.levels.feed(_channel_rms(body))

    def _process(self, real: int) -> None:
        """Measure frames start .. start+real (the buffer also holds MARGIN frames after them, or
        zeros past the end of the signal), then slide the buffer on by ``real``."""
        body = self.buf[MARGIN : MARGIN + real]
        self._reserve(self.start + real)
        loudness = self.pool.submit(self._loudness, body) if self.pool is not None else self._loudness(body)
        reader = ArrayReader(self.buf[: MARGIN + real + MARGIN])
        stats = block_statistics(reader)
        lo, hi = MARGIN // BLOCK, (MARGIN + real + BLOCK - 1) // BLOCK  # the blocks of body
        peak = float(stats[0, lo:hi].max())
        self.sample_peak = max(self.sample_peak, peak)  # widened: neighbours are signal (or zeros) too
        if peak >= self.clip:
            self.clipped += int(np.count_nonzero(np.abs(body) >= self.clip))
        scanner = TruePeakScanner(reader, self.sample_rate, stats=stats)
        candidates = lo + np.flatnonzero(scanner.block_bound[lo:hi] > self.true_peak)
        if len(candidates):
            self.true_peak = max(self.true_peak, scanner.true_peak(candidates))
        if self.pool is not None:
            loudness.result()  # body must stay put until the meter has read it
        keep = self.buf[real : MARGIN + real + MARGIN].copy()
        self.buf[: keep.shape[0]] = keep
        self.start += real
        self.filled -= real

    def feed(self, block: np.ndarray) -> None:
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise AudioError(f"internal: expected [frames, {self.channels}] blocks, got {block.shape}")
        pos = 0
        while pos < block.shape[0]:
            room = self.chunk + MARGIN - self.filled
            take = min(room, block.shape[0] - pos)
            self.buf[MARGIN + self.filled : MARGIN + self.filled + take] = block[pos : pos + take]
            self.filled += take
            pos += take
            if self.filled == self.chunk + MARGIN:
                self._process(self.chunk)

    def finish(self) -> Analysis:
        """The figures of everything fed."""
        while self.filled > 0:  # zeros after the signal
            self.buf[MARGIN + self.filled :] = 0.0
            self._process(min(self.filled, self.chunk))
        self.close()
        frames = self.start
        if frames == 0:
            raise AudioError("no audio to analyse (0 samples)")
        meter, hop = self.meter, self.meter.hop
        whole = frames // hop
        levels = self.levels.finish()
        pauses = ~mask_of_levels(levels)
        meas = Measurement(self.sample_rate, frames, hop, meter.hop_energy[:whole].copy(),
                           meter.tail + float(meter.hop_energy[whole:].sum()))
        return Analysis(
            frames=frames,
            sample_rate=self.sample_rate,
            channels=self.channels,
            integrated_lufs=meas.integrated(),
            lra_lu=loudness_range(window_levels(meas, SHORT_TERM_HOPS)),
            momentary_max_lufs=float(window_levels(meas, MOMENTARY_HOPS).max()),
            short_term_max_lufs=float(window_levels(meas, SHORT_TERM_HOPS).max()),
            true_peak_dbtp=_db(max(self.true_peak, self.sample_peak)),
            sample_peak_dbfs=_db(self.sample_peak),
            noise_floor_dbfs=noise_floor(levels, pauses),
            pause_share=float(pauses.mean()) if len(pauses) else 0.0,
            clipped_samples=self.clipped,
        )


def analyse(audio: np.ndarray | FrameReader, sample_rate: int, clip: float = 1.0,
            on_frames: Callable[[int], None] | None = None) -> Analysis:
    """``Analysis`` of float audio [frames, channels] (an array or a FrameReader), read once in
    order (``on_frames`` sees the progress)."""
    reader = as_reader(audio)
    analyzer = Analyzer(sample_rate, reader.channels, reader.frames, clip)
    try:
        for start in range(0, reader.frames, CHUNK):
            stop = min(reader.frames, start + CHUNK)
            analyzer.feed(reader.read(start, stop))
            if on_frames is not None:
                on_frames(stop)
        return analyzer.finish()
    finally:
        analyzer.close()

"""ITU-R BS.1770-4 integrated loudness, chunked and vectorised.

The K-weighting filter is pyloudnorm's (same coefficients as ``pyloudnorm.Meter``, applied as a
truncated FIR, see kweighting.py); the gating
follows BS.1770-4: 400 ms blocks every 100 ms, absolute gate -70 LUFS, relative gate -10 LU.
Differences from pyloudnorm, by design:
* clips shorter than one 400 ms block are measured ungated as one block over the whole clip
  (pyloudnorm refuses them);
* any channel count: 1-5 channels use BS.1770 weights (L, R, C, Ls, Rs -> 1, 1, 1, 1.41, 1.41,
  as pyloudnorm); 6 channels are read as 5.1 (L, R, C, LFE, Ls, Rs) with the LFE excluded;
  other counts weigh every channel 1.0;
* only whole blocks are gated (pyloudnorm may include one partial block at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.dsp.frames import FrameReader, as_reader
from ming_edit.dsp.loudness.kweighting import FilterPass, k_weighting
from ming_edit.dsp.loudness.truepeak import BLOCK

ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHUNK = 1 << 20  # frames per filtering chunk (a multiple of truepeak.BLOCK)


def channel_weights(channels: int) -> np.ndarray:
    if channels <= 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41][:channels])
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


def _lufs(mean_power: float | np.ndarray) -> np.ndarray:
    # predicted energies (gain^2 - 1) * power can round a hair below zero: that is silence
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(np.maximum(mean_power, 0.0))


@dataclass
class Measurement:
    """K-weighted, channel-weighted power of one signal, kept per 100 ms hop."""

    sample_rate: int
    frames: int
    hop: int
    hop_energy: np.ndarray  # [hops] sum of weighted K-power over each hop
    tail_energy: float  # energy after the last whole hop (only used for short clips)
    cell_power: np.ndarray | None = None  # see LoudnessMeter

    @property
    def block(self) -> int:
        return 4 * self.hop

    def integrated(self, hop_energy: np.ndarray | None = None, tail_energy: float | None = None) -> float:
        """Gated integrated loudness in LUFS (-inf when everything is below the gate).

        ``hop_energy``/``tail_energy`` replace the measured ones (to predict a modified signal).
        """
        e = self.hop_energy if hop_energy is None else hop_energy
        tail = self.tail_energy if tail_energy is None else tail_energy
        if self.frames < self.block:  # short clip: one ungated block over what there is
            mean = (e.sum() + tail) / max(self.frames, 1)
            level = float(_lufs(mean))
            return level if level > ABSOLUTE_GATE else float("-inf")
        z = (e[:-3] + e[1:-2] + e[2:-1] + e[3:]) / self.block if len(e) > 3 else e[:0]
        levels = _lufs(z)
        gated = z[levels > ABSOLUTE_GATE]
        if len(gated) == 0:
            return float("-inf")
        relative = float(_lufs(gated.mean())) + RELATIVE_GATE
        final = z[(levels > ABSOLUTE_GATE) & (levels > relative)]
        return float(_lufs(final.mean())) if len(final) else float("-inf")


class PowerPass:
    """Channel-weighted K-power of frame ranges, reusing its buffers across calls."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.filter = FilterPass(k_weighting(sample_rate))
        self.weights = channel_weights(channels)
        self.buffer = np.empty(0)

    def __call__(self, audio: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Power of audio[start:stop] (a view into a reused buffer, valid until the next call)."""
        before = max(0, start - (self.filter.kw.taps - 1))
        return self.of(audio[start:stop], audio[before:start])

    def of(self, x: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Power of ``x`` [n, channels] after ``history`` (the frames just before it, at most
        taps-1; zeros before that). A view into a reused buffer, valid until the next call."""
        step = self.filter.kw.step
        blocks = -(-x.shape[0] // step)
        if self.buffer.size < blocks * step:
            self.buffer = np.empty(blocks * step)
        power = self.buffer[: blocks * step].reshape(blocks, step)
        empty = True
        for ch, weight in enumerate(self.weights):
            if not weight:
                continue
            y = self.filter.blocks(x[:, ch], history[:, ch])
            if empty:
                np.square(y, out=power)
                if weight != 1.0:
                    power *= weight
                empty = False
            else:  # y is scratch space: the next filter call overwrites it anyway
                np.square(y, out=y)
                if weight != 1.0:
                    y *= weight
                power += y
        if empty:
            power[:] = 0.0
        return power.reshape(-1)[: x.shape[0]]


def add_binned(target: np.ndarray, values: np.ndarray, start: int, width: int) -> float:
    """Add ``values`` (samples start .. start+len-1) into ``target`` bins of ``width`` samples;
    returns the sum of what falls past the last bin."""
    first = (-start) % width  # offset of the first bin boundary inside values
    cuts = np.arange(first, len(values), width)
    if len(cuts) == 0 or cuts[0] != 0:
        cuts = np.r_[0, cuts]
    sums = np.add.reduceat(values, cuts, dtype=np.float64) if len(values) else np.zeros(0)
    bins = (start + cuts) // width
    inside = bins < len(target)
    target[bins[inside]] += sums[inside]
    return float(sums[~inside].sum())


class LoudnessMeter:
    """BS.1770 meter fed consecutive blocks [n, channels] of a signal of ``frames`` frames.

    ``cell`` > 0 also keeps the K-power summed per ``cell`` samples (float32, whole truepeak
    blocks), which normalize.LoudnessModel uses to predict the effect of a limiter curve."""

    def __init__(self, sample_rate: int, channels: int, frames: int, cell: int = 0) -> None:
        self.sample_rate, self.frames = sample_rate, frames
        self.power = PowerPass(sample_rate, channels)
        self.hop = max(1, int(round(0.1 * sample_rate)))
        self.hop_energy = np.zeros(frames // self.hop)
        self.tail = 0.0
        self.history = np.zeros((0, channels))
        self.position = 0
        self.cell = cell
        self.cell_power = np.zeros(-(-frames // BLOCK) * BLOCK // cell, np.float32) if cell else None

    def feed(self, block: np.ndarray) -> None:
        power = self.power.of(block, self.history)
        self.tail += add_binned(self.hop_energy, power, self.position, self.hop)
        if self.cell_power is not None:
            add_binned(self.cell_power, power, self.position, self.cell)
        keep = self.power.filter.kw.taps - 1
        self.history = np.concatenate([self.history, block])[-keep:] if block.shape[0] < keep \
            else block[-keep:].copy()
        self.position += block.shape[0]

    def measurement(self) -> Measurement:
        return Measurement(self.sample_rate, self.frames, self.hop, self.hop_energy, self.tail, self.cell_power)


def measure(audio: np.ndarray | FrameReader, sample_rate: int, cell: int = 0) -> Measurement:
    """K-weight a signal [frames, channels] (an array or a FrameReader) chunk by chunk into
    per-hop energies (and, with ``cell``, per-cell K-power: see LoudnessMeter)."""
    reader = as_reader(audio)
    meter = LoudnessMeter(sample_rate, reader.channels, reader.frames, cell)
    for start in range(0, reader.frames, CHUNK):
        meter.feed(reader.read(start, min(reader.frames, start + CHUNK)))
    return meter.measurement()


def remeasure(
    meas: Measurement, scale: float, changed: list[tuple[int, int]], signal: np.ndarray | FrameReader
) -> tuple[np.ndarray, float]:
    """Exact (hop energies, tail) of ``signal``, which equals sqrt(scale) x the measured input
    except on the frame ranges ``changed``: only the hops those reach (through the filter's
    memory) are filtered again, and their energies replaced, not patched (no cancellation)."""
    taps = k_weighting(meas.sample_rate).taps
    signal = as_reader(signal)
    weighted_power = PowerPass(meas.sample_rate, signal.channels)
    hop, nhops = meas.hop, len(meas.hop_energy)
    hops, tail = meas.hop_energy * scale, meas.tail_energy * scale
    spans: list[list[int]] = []
    for start, stop in sorted(changed):  # extend by the filter's reach, widen to whole hops
        start = start // hop * hop
        stop = min(meas.frames, -(-(stop + taps - 1) // hop) * hop)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], stop)
        else:
            spans.append([start, stop])
    step = max(hop, CHUNK // hop * hop)
    for start, stop in spans:
        for s in range(start, stop, step):
            before = max(0, s - (taps - 1))
            x = signal.read(before, min(stop, s + step))
            power = weighted_power.of(x[s - before :], x[: s - before])
            whole = min(len(power) // hop, nhops - s // hop)
            hops[s // hop : s // hop + whole] = power[: whole * hop].reshape(whole, hop).sum(axis=1)
            if whole * hop < len(power):  # reached the end: the part after the last whole hop
                tail = float(power[whole * hop :].sum())
    return hops, tail


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of float audio [frames, channels]."""
    return measure(audio, sample_rate).integrated()

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

from ming_edit.dsp.loudness.kweighting import FilterPass, k_weighting

ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHUNK = 1 << 20  # frames per filtering chunk


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
        step = self.filter.kw.step
        blocks = -(-(stop - start) // step)
        if self.buffer.size < blocks * step:
            self.buffer = np.empty(blocks * step)
        power = self.buffer[: blocks * step].reshape(blocks, step)
        empty = True
        for ch, weight in enumerate(self.weights):
            if not weight:
                continue
            y = self.filter.range_blocks(audio[:, ch], start, stop)
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
        return power.reshape(-1)[: stop - start]


def measure(audio: np.ndarray, sample_rate: int, power_out: np.ndarray | None = None) -> Measurement:
    """K-weight ``audio`` [frames, channels] chunk by chunk into per-hop energies.

    ``power_out`` (length >= frames), when given, receives the per-sample weighted K-power so
    that a caller can predict the effect of a gain curve (see normalize.LoudnessModel).
    """
    frames = audio.shape[0]
    hop = max(1, int(round(0.1 * sample_rate)))
    weighted_power = PowerPass(sample_rate, audio.shape[1])
    nhops = frames // hop
    hop_energy = np.zeros(nhops)
    chunk = max(hop, (CHUNK // hop) * hop)
    tail = 0.0
    for start in range(0, frames, chunk):
        stop = min(frames, start + chunk)
        power = weighted_power(audio, start, stop)
        if power_out is not None:
            power_out[start:stop] = power
        whole = len(power) // hop
        first = start // hop
        hop_energy[first : first + whole] = power[: whole * hop].reshape(whole, hop).sum(axis=1)
        tail = float(power[whole * hop :].sum())  # only non-zero for the last chunk
    return Measurement(sample_rate, frames, hop, hop_energy, tail)


def remeasure(
    meas: Measurement, scale: float, changed: list[tuple[int, int]], signal: np.ndarray
) -> tuple[np.ndarray, float]:
    """Exact (hop energies, tail) of ``signal``, which equals sqrt(scale) x the measured input
    except on the frame ranges ``changed``: only the hops those reach (through the filter's
    memory) are filtered again, and their energies replaced, not patched (no cancellation)."""
    taps = k_weighting(meas.sample_rate).taps
    weighted_power = PowerPass(meas.sample_rate, signal.shape[1])
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
            power = weighted_power(signal, s, min(stop, s + step))
            whole = min(len(power) // hop, nhops - s // hop)
            hops[s // hop : s // hop + whole] = power[: whole * hop].reshape(whole, hop).sum(axis=1)
            if whole * hop < len(power):  # reached the end: the part after the last whole hop
                tail = float(power[whole * hop :].sum())
    return hops, tail


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of float audio [frames, channels]."""
    return measure(audio, sample_rate).integrated()

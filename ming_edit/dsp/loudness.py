"""ITU-R BS.1770-4 integrated loudness, chunked and vectorised.

The K-weighting filters are pyloudnorm's (same coefficients as ``pyloudnorm.Meter``); the gating
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
from pyloudnorm.iirfilter import IIRfilter
from scipy.signal import sosfilt

ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
CHUNK = 1 << 20  # frames per filtering chunk


def channel_weights(channels: int) -> np.ndarray:
    if channels <= 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41][:channels])
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    highpass = IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    rows = []
    for f in (shelf, highpass):
        b, a = np.asarray(f.b, float), np.asarray(f.a, float)
        rows.append(np.r_[b / a[0], a / a[0]])
    return np.array(rows)


def _lufs(mean_power: float | np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_power)


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


def measure(
    audio: np.ndarray, sample_rate: int, keep_power: bool = False
) -> tuple[Measurement, np.ndarray | None]:
    """K-weight ``audio`` [frames, channels] chunk by chunk.

    Returns the per-hop measurement and, when ``keep_power``, the per-sample weighted K-power
    (float32, one value per frame) so that a caller can predict the effect of a gain curve.
    """
    frames, channels = audio.shape
    hop = max(1, int(round(0.1 * sample_rate)))
    weights = channel_weights(channels)
    sos = k_weighting_sos(sample_rate)
    state = np.zeros((sos.shape[0], 2, channels))
    nhops = frames // hop
    hop_energy = np.zeros(nhops)
    power_out = np.empty(frames, np.float32) if keep_power else None
    chunk = max(hop, (CHUNK // hop) * hop)
    tail = 0.0
    for start in range(0, frames, chunk):
        x = audio[start : start + chunk]
        y, state = sosfilt(sos, x, axis=0, zi=state)
        power = np.square(y, out=y) @ weights
        if power_out is not None:
            power_out[start : start + len(power)] = power
        whole = len(power) // hop
        first = start // hop
        hop_energy[first : first + whole] = power[: whole * hop].reshape(whole, hop).sum(axis=1)
        tail = float(power[whole * hop :].sum())  # only non-zero for the last chunk
    measurement = Measurement(sample_rate, frames, hop, hop_energy, tail)
    return measurement, power_out


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of float audio [frames, channels]."""
    return measure(audio, sample_rate)[0].integrated()


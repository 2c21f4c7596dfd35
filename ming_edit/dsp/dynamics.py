"""Leveling and compression: slow and fast gain curves for speech, applied as one exact gain per
sample (linear in dB between curve points), so both stream: one pass measures, one applies.

* Leveler ("level the speakers", "even out the volume"): short-term K-weighted loudness over
  LEVEL_WINDOW_S, every 100 ms (meter.LoudnessMeter's hops). Where there is speech (above the
  relative gate: LEVEL_GATE_LU under the speech's integrated loudness) the gain brings it to
  that integrated loudness, within +-MAX_LEVEL_DB; pauses keep the smaller of the gains on
  either side, at most PAUSE_BOOST_DB, so room tone is not pumped up; the curve is then
  smoothed over LEVEL_SMOOTH_S so turns change level gently.
* Compressor ("compress the dynamics"): RMS per 10 ms, 3:1 above a threshold at the speech's
  median level, attack 10 ms / release 150 ms (one-pole in dB), makeup so the speech's median
  level is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.errors import AudioError

LEVEL_WINDOW_S = 2.0
LEVEL_GATE_LU = 20.0
MAX_LEVEL_DB = 15.0
PAUSE_BOOST_DB = 6.0
LEVEL_SMOOTH_S = 1.0
COMPRESS_FRAME_S = 0.010
COMPRESS_RATIO = 3.0
ATTACK_S, RELEASE_S = 0.010, 0.150


@dataclass(frozen=True)
class GainCurve:
    """Gain in dB at points ``hop`` samples apart (point k at sample k*hop + offset)."""

    gains_db: np.ndarray
    hop: int
    offset: int

    def __call__(self, start: int, stop: int) -> np.ndarray:
        """Linear gain of samples [start, stop)."""
        points = np.arange(len(self.gains_db)) * self.hop + self.offset
        db = np.interp(np.arange(start, stop, dtype=np.float64), points, self.gains_db)
        return 10.0 ** (db / 20.0)


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean of ``width`` points (edges averaged over what exists)."""
    if width <= 1 or len(x) == 0:
        return x.copy()
    c = np.concatenate([[0.0], np.cumsum(x)])
    half = width // 2
    idx = np.arange(len(x))
    lo, hi = np.maximum(0, idx - half), np.minimum(len(x), idx + width - half)
    return (c[hi] - c[lo]) / (hi - lo)


def leveler_curve(hop_energy: np.ndarray, hop: int, integrated_lufs: float) -> tuple[GainCurve, str]:
    """The leveler's gain curve from per-hop K-weighted energies (sums over ``hop`` samples)."""
    if not np.isfinite(integrated_lufs) or len(hop_energy) == 0:
        raise AudioError("nothing to level: the audio is silent (below -70 LUFS)")
    window = max(1, int(round(LEVEL_WINDOW_S / 0.1)))
    with np.errstate(divide="ignore"):
        short = -0.691 + 10.0 * np.log10(np.maximum(_moving_mean(hop_energy, window) / hop, 1e-30))
        momentary = -0.691 + 10.0 * np.log10(np.maximum(_moving_mean(hop_energy, 4) / hop, 1e-30))
    speech = momentary > max(-70.0, integrated_lufs - LEVEL_GATE_LU)
    gains = np.where(speech, np.clip(integrated_lufs - short, -MAX_LEVEL_DB, MAX_LEVEL_DB), np.nan)
    if not speech.any():
        raise AudioError("nothing to level: no speech above the gate")
    # pauses: the smaller of the neighbouring speech gains, never more than PAUSE_BOOST_DB
    idx = np.arange(len(gains))
    known = np.flatnonzero(speech)
    before = gains[known[np.clip(np.searchsorted(known, idx, side="right") - 1, 0, len(known) - 1)]]
    after = gains[known[np.clip(np.searchsorted(known, idx), 0, len(known) - 1)]]
    gains = np.where(speech, gains, np.minimum(np.minimum(before, after), PAUSE_BOOST_DB))
    smooth = _moving_mean(gains, max(1, int(round(LEVEL_SMOOTH_S / 0.1))))
    spread = float(np.percentile(smooth[speech], 95) - np.percentile(smooth[speech], 5))
    note = (f"levelled speech to {integrated_lufs:.1f} LUFS (gain {smooth.min():+.1f} .. {smooth.max():+.1f} dB, "
            f"{spread:.1f} dB between loud and quiet passages)")
    return GainCurve(smooth, hop, hop // 2), note


def compressor_curve(levels_db: np.ndarray, hop: int, rate: int) -> tuple[GainCurve, str]:
    """The compressor's gain curve from RMS levels (dBFS) per ``hop`` samples (10 ms)."""
    if len(levels_db) == 0 or levels_db.max() < -70.0:
        raise AudioError("nothing to compress: the audio is silent")
    loud = levels_db > levels_db.max() - 40.0
    threshold = float(np.median(levels_db[loud]))
    wanted = -(1.0 - 1.0 / COMPRESS_RATIO) * np.maximum(levels_db - threshold, 0.0)
    attack = np.exp(-hop / (ATTACK_S * rate))
    release = np.exp(-hop / (RELEASE_S * rate))
    gains = np.empty_like(wanted)
    state = 0.0
    for k, target in enumerate(wanted.tolist()):  # one-pole in dB: fast down (attack), slow up (release)
        coeff = attack if target < state else release
        state = coeff * state + (1.0 - coeff) * target
        gains[k] = state
    makeup = -float(np.median(gains[loud]))
    gains += makeup
    note = (f"compressed 3:1 above {threshold:.1f} dBFS RMS (up to {-(gains - makeup).min():.1f} dB of reduction, "
            f"{makeup:+.1f} dB makeup)")
    return GainCurve(gains, hop, hop // 2), note

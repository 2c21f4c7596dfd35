"""Loudness normalisation to an integrated-loudness target under a true-peak ceiling.

out = audio * gain * limiter_curve. One K-weighting pass measures the input; the gain is then
found on a cheap model of the result (per-hop K-weighted energies of the input, re-weighted by
the limiter curve only where it acts). The output is measured exactly without a second full
pass: it equals gain * input except in the blocks the limiter touched, so only those (plus the
K-filter's memory) are re-filtered (loudness.remeasure). If the exact figure misses the target
the model is re-centred on it. Blocks are touched only where the gained signal can cross the
ceiling (see truepeak.TruePeakScanner), so quiet stretches cost nothing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ming_edit.dsp.loudness.limitplan import LimitCurve, LimitPlanner, apply_curve
from ming_edit.dsp.loudness.meter import Measurement, integrated_loudness, measure, remeasure
from ming_edit.dsp.loudness.truepeak import BLOCK, TruePeakScanner, true_peak_dbtp
from ming_edit.errors import AudioError

MODEL_TOLERANCE_LU = 0.01
EXACT_TOLERANCE_LU = 0.05
REACH_TOLERANCE_LU = 0.5  # beyond this the target is reported as unreachable
MAX_GAIN_DB = 120.0


class LoudnessModel:
    """Predicts the integrated loudness of ``audio * gain * curve`` from the input's K-power."""

    def __init__(self, meas: Measurement, power: np.ndarray) -> None:
        self.meas = meas
        self.power = power  # float32, zero-padded to whole blocks
        self.power_blocks = power.reshape(-1, BLOCK)
        self.total = float(meas.hop_energy.sum() + meas.tail_energy)

    def _hop_sums(self, ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hop ids, sums) of per-sample ``values`` [len(ids), BLOCK] on blocks ``ids``.

        Segments are cut at block starts and at hop boundaries inside blocks, then summed with
        one reduceat, so no per-sample index array is built."""
        hop = self.meas.hop
        starts = ids * BLOCK
        cuts = [np.arange(len(ids)) * BLOCK]
        for k in range(1, -(-BLOCK // hop) + 1):  # hop boundaries falling inside each block
            boundary = (starts // hop + k) * hop
            inside = boundary < starts + BLOCK
            cuts.append((boundary - starts + np.arange(len(ids)) * BLOCK)[inside])
        offsets = np.sort(np.concatenate(cuts))
        sums = np.add.reduceat(values.reshape(-1), offsets, dtype=np.float64)
        absolute = starts[offsets // BLOCK] + offsets % BLOCK
        return absolute // hop, sums

    def predict(self, gain_db: float, curve: LimitCurve | None) -> tuple[float, float]:
        """(predicted LUFS, share of the output energy in unlimited samples)."""
        meas = self.meas
        scale = 10.0 ** (gain_db / 10.0)
        hops, tail, limited = meas.hop_energy.copy(), meas.tail_energy, 0.0
        if curve is not None:
            nhops = len(hops)
            for ids, gains in curve.groups:
                power = self.power_blocks[ids]
                delta = gains * gains
                delta *= power
                limited += float(np.sum(delta, where=gains < 1.0, dtype=np.float64))
                delta -= power  # (gain^2 - 1) * power
                hop_ids, sums = self._hop_sums(ids, delta)
                inside = hop_ids < nhops
                hops += np.bincount(hop_ids[inside], weights=sums[inside], minlength=nhops)
                tail += float(sums[~inside].sum())
        energy = float(hops.sum() + tail)
        share = 1.0 - limited / energy if energy > 0 else 1.0
        return meas.integrated(hops * scale, tail * scale), share


def _block_ranges(mask: np.ndarray, frames: int) -> list[tuple[int, int]]:
    """Frame ranges of the runs of True blocks in ``mask``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [(int(a) * BLOCK, min(frames, int(b) * BLOCK)) for a, b in zip(edges[::2], edges[1::2])]


def _enforce_ceiling(
    out: np.ndarray, sample_rate: int, ceiling_db: float, check: np.ndarray, changed: np.ndarray
) -> float:
    """Re-limit ``out`` in place until the true peak of the ``check`` blocks (bool mask) is
    under the ceiling; returns that peak (linear). Blocks it modifies are set in ``changed``."""
    ceiling = 10.0 ** (ceiling_db / 20.0)
    blocks = np.flatnonzero(check)
    for attempt in range(4):
        planner = LimitPlanner(out, sample_rate, ceiling_db - 0.02 * attempt, within=check)
        peak = planner.scanner.true_peak(blocks)
        if peak <= ceiling:
            return peak
        curve = planner.curve(0.0)
        apply_curve(out, curve)
        if curve is not None:
            changed[curve.marked] = True
    return TruePeakScanner(out, sample_rate).true_peak(blocks)


def _solve_gain(
    planner: LimitPlanner, model: LoudnessModel, gain_db: float, target: float
) -> tuple[float, LimitCurve | None]:
    """Gain whose predicted loudness is ``target``: a Newton step with the unlimited energy
    share as slope (limited samples stay at the ceiling), then secant steps."""
    curve = planner.curve(gain_db)
    level, share = model.predict(gain_db, curve)
    prev: tuple[float, float] | None = None
    for _ in range(12):
        if abs(target - level) < MODEL_TOLERANCE_LU:
            break
        slope = float(np.clip(share, 0.05, 1.0))
        if prev is not None and gain_db != prev[0]:
            slope = float(np.clip((level - prev[1]) / (gain_db - prev[0]), 0.05, 1.5))
        prev = (gain_db, level)
        # an unreachable target (DC, a lone click) must not run the gain off to infinity
        gain_db = float(np.clip(gain_db + (target - level) / slope, -MAX_GAIN_DB, MAX_GAIN_DB))
        curve = planner.curve(gain_db)
        level, share = model.predict(gain_db, curve)
    return gain_db, curve


def _db(linear: float) -> float:
    return 20.0 * np.log10(linear) if linear > 0 else float("-inf")


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbtp: float
) -> tuple[np.ndarray, list[str]]:
    """Return audio at ``target_lufs`` integrated loudness with true peak <= ``ceiling_dbtp``."""
    frames = audio.shape[0]
    power = np.zeros(-(-frames // BLOCK) * BLOCK, np.float32)
    meas = measure(audio, sample_rate, power_out=power)
    before = meas.integrated()
    if not np.isfinite(before):
        raise AudioError("nothing to normalise: the audio is silent (below -70 LUFS)")
    model = LoudnessModel(meas, power)
    planner = LimitPlanner(audio, sample_rate, ceiling_dbtp)
    nblocks = planner.nblocks
    gain_db = target_lufs - before
    planner.prepare(gain_db)
    # if any cached block crosses the level its cache was built for, the loudest one is cached
    cached_peak = float(planner.block_peak_db.max())
    if cached_peak + planner.prepared_gain_db > planner.ceiling_db:
        peak_before = cached_peak
    else:
        peak_before = _db(planner.scanner.true_peak())
    model_target = target_lufs
    out = np.empty_like(audio)
    after, peak_after = before, peak_before
    for _ in range(3):
        gain_db, curve = _solve_gain(planner, model, gain_db, model_target)
        np.multiply(audio, 10.0 ** (gain_db / 20.0), out=out)
        apply_curve(out, curve)
        changed = np.zeros(nblocks, bool)
        if curve is not None:
            touched = curve.touched(nblocks)
            changed |= touched
            # elsewhere out = gain * audio exactly, whose peaks the planner already knows
            untouched = ~touched & np.isfinite(planner.block_peak_db)
            outside = float(planner.block_peak_db[untouched].max(initial=-np.inf)) + gain_db
            inside = _db(_enforce_ceiling(out, sample_rate, ceiling_dbtp, touched, changed))
            peak_after = max(inside, outside)
        else:
            peak_after = peak_before + gain_db
        hops, tail = remeasure(meas, 10.0 ** (gain_db / 10.0), _block_ranges(changed, frames), out)
        after = meas.integrated(hops, tail)
        if abs(after - target_lufs) < EXACT_TOLERANCE_LU:
            break
        model_target += target_lufs - after
    if abs(after - target_lufs) > REACH_TOLERANCE_LU:
        raise AudioError(
            f"cannot reach {target_lufs:.1f} LUFS under a {ceiling_dbtp:.1f} dBTP ceiling "
            f"(got {after:.1f} LUFS)"
        )
    notes = [f"loudness {before:.1f} -> {after:.1f} LUFS (gain {gain_db:+.1f} dB)"]
    if curve is not None:
        share = 100.0 * curve.limited_samples / max(1, frames)
        notes.append(
            f"limited {share:.1f}% of samples (up to {curve.max_reduction_db:.1f} dB) to keep "
            f"true peak at {peak_after:.1f} dBTP <= {ceiling_dbtp:.1f} (before: {peak_before:.1f} dBTP)"
        )
    else:
        notes.append(f"true peak {peak_before:.1f} -> {peak_after:.1f} dBTP, no limiting needed")
    if meas.frames < meas.block:
        notes.append("clip shorter than 0.4 s: loudness measured ungated over the whole clip")
    return out, notes


def fit_decoded(
    audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbtp: float,
    round_trip: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, str | None]:
    """Re-gain ``audio`` so that its encoded-then-decoded form (``round_trip``: what a lossy codec
    gives back) measures ``target_lufs`` and keeps the true-peak ceiling: a codec's low-pass and
    its overshoot change both, after the limiter has done its work."""
    def measured(signal: np.ndarray) -> tuple[float, float]:
        decoded = round_trip(signal)
        return integrated_loudness(decoded, sample_rate), true_peak_dbtp(decoded, sample_rate)

    total_db, (level, peak) = 0.0, measured(audio)
    for attempt in range(5):
        if abs(target_lufs - level) < EXACT_TOLERANCE_LU and peak <= ceiling_dbtp:
            break
        headroom = ceiling_dbtp - 0.05 * (attempt + 1) - peak  # the ceiling wins over the target
        step_db = min(target_lufs - level, headroom)
        audio = audio * 10.0 ** (step_db / 20.0)
        total_db += step_db
        level, peak = measured(audio)
    if total_db == 0.0:
        return audio, None
    note = f"the decoded file measures {level:.1f} LUFS, true peak {peak:.1f} dBTP ({total_db:+.2f} dB for the codec)"
    if target_lufs - level >= EXACT_TOLERANCE_LU:
        note += f"; {target_lufs - level:.1f} LU under the target so the ceiling holds"
    return audio, note

"""Loudness normalisation to an integrated-loudness target under a true-peak ceiling.

out = audio * gain * limiter_curve. The gain is found by a fixed-point iteration on a cheap
model of the result (per-hop K-weighted energies of the input, re-weighted by the limiter
curve only where it acts), then checked by measuring the real output exactly; the model is
re-centred on the exact figure if they disagree. Blocks are touched only where the gained
signal can cross the ceiling (see truepeak.TruePeakScanner), so quiet stretches cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.errors import AudioError
from ming_edit.dsp.limiter import LimiterTiming, reduction_db
from ming_edit.dsp.loudness import Measurement, integrated_loudness, measure
from ming_edit.dsp.truepeak import BLOCK, TruePeakScanner

MODEL_TOLERANCE_LU = 0.01
EXACT_TOLERANCE_LU = 0.05
REACH_TOLERANCE_LU = 0.5  # beyond this the target is reported as unreachable
CEILING_MARGIN_DB = 0.01  # aim a hair under the ceiling: interpolation of a gain-modulated signal
_GROUP_BLOCKS = 2048  # limiter runs are processed in groups of about this many blocks


@dataclass
class LimitCurve:
    """Gain (linear) per sample for groups of marked blocks; everything else has gain 1."""

    groups: list[tuple[np.ndarray, np.ndarray]]  # (block ids, gains [len(ids) * BLOCK])
    max_reduction_db: float
    limited_samples: int
    marked: np.ndarray  # every block id with a gain curve

    def touched(self, nblocks: int) -> np.ndarray:
        """Blocks whose true peak the curve can change (marked, plus one neighbour each side)."""
        mask = np.zeros(nblocks, bool)
        for shift in (-1, 0, 1):
            mask[np.clip(self.marked + shift, 0, nblocks - 1)] = True
        return mask

    def sample_ids(self, blocks: np.ndarray) -> np.ndarray:
        return (blocks[:, None] * BLOCK + np.arange(BLOCK)[None, :]).ravel()


class LimitPlanner:
    """Limiter curves for ``audio * 10**(gain_db/20)`` at any gain, sharing one envelope cache."""

    def __init__(
        self, audio: np.ndarray, sample_rate: int, ceiling_db: float, within: np.ndarray | None = None
    ) -> None:
        self.audio = audio
        self.scanner = TruePeakScanner(audio)
        if within is not None:  # only these blocks may need limiting (bool mask)
            self.scanner.block_bound[~within] = 0.0
        self.timing = LimiterTiming.for_rate(sample_rate)
        self.ceiling_db = ceiling_db - CEILING_MARGIN_DB
        self.row_of = np.full(self.scanner.nblocks, -1)
        self.env_db = np.empty((0, BLOCK), np.float32)
        self.block_peak_db = np.full(self.scanner.nblocks, -np.inf)
        self.prepared_gain_db = -np.inf  # envelopes exist for every block that can be hot here

    def _ensure_envelope(self, blocks: np.ndarray) -> None:
        new = blocks[self.row_of[blocks] < 0]
        if len(new) == 0:
            return
        with np.errstate(divide="ignore"):
            env = (20.0 * np.log10(self.scanner.envelope(new))).astype(np.float32)
        self.row_of[new] = len(self.env_db) + np.arange(len(new))
        self.env_db = np.concatenate([self.env_db, env])
        self.block_peak_db[new] = env.max(axis=1)

    def curve(self, gain_db: float) -> LimitCurve | None:
        if gain_db > self.prepared_gain_db:  # prepare 1 dB ahead: the iteration creeps up
            self.prepared_gain_db = gain_db + 1.0
            level = 10.0 ** ((self.ceiling_db - self.prepared_gain_db) / 20.0)
            self._ensure_envelope(self.scanner.candidate_blocks(level))
        excess = self.block_peak_db + gain_db - self.ceiling_db
        hot = np.flatnonzero(excess > 0)
        if len(hot) == 0:
            return None
        max_q = float(excess[hot].max())
        before, after = self.timing.margins(max_q)
        pre, post = -(-before // BLOCK), -(-after // BLOCK)
        cover = np.zeros(self.scanner.nblocks + 1, np.int64)  # dilate hot blocks by pre/post
        np.add.at(cover, np.clip(hot - pre, 0, None), 1)
        np.add.at(cover, np.clip(hot + post + 1, None, self.scanner.nblocks), -1)
        marked = np.flatnonzero(np.cumsum(cover[:-1]) > 0)
        # the first run may start at block 0 with a peak inside the margin: pad in front
        lead = pre if marked[0] == 0 else 0
        groups, limited = [], 0
        for ids in _split_runs(marked):
            q = np.zeros((len(ids), BLOCK))
            rows = self.row_of[ids]
            known = rows >= 0
            q[known] = np.maximum(self.env_db[rows[known]] + gain_db - self.ceiling_db, 0.0)
            pad = lead * BLOCK if ids[0] == 0 else 0
            s = reduction_db(np.concatenate([np.zeros(pad), q.ravel()]), self.timing)[pad:]
            limited += int(np.count_nonzero(s > 1e-6))
            groups.append((ids, 10.0 ** (-s / 20.0)))
        return LimitCurve(groups, max_q, limited, marked)


def _split_runs(marked: np.ndarray) -> list[np.ndarray]:
    """Cut the marked block list at run boundaries into groups of ~_GROUP_BLOCKS blocks."""
    starts = np.flatnonzero(np.diff(marked) != 1) + 1
    groups, begin = [], 0
    for s in starts:
        if s - begin >= _GROUP_BLOCKS:
            groups.append(marked[begin:s])
            begin = s
    groups.append(marked[begin:])
    return groups


def _predict_lufs(meas: Measurement, power: np.ndarray, gain_db: float, curve: LimitCurve | None) -> float:
    scale = 10.0 ** (gain_db / 10.0)
    hops = meas.hop_energy.copy()
    tail = meas.tail_energy
    if curve is not None:
        nhops = len(hops)
        for ids, gains in curve.groups:
            samples = curve.sample_ids(ids)
            inside = samples < meas.frames
            samples, g = samples[inside], gains[inside]
            delta = (g * g - 1.0) * power[samples]
            hop_idx = samples // meas.hop
            in_hops = hop_idx < nhops
            hops += np.bincount(hop_idx[in_hops], weights=delta[in_hops], minlength=nhops)
            tail += float(delta[~in_hops].sum())
    return meas.integrated(hops * scale, tail * scale)


def _apply_curve(out: np.ndarray, curve: LimitCurve | None) -> None:
    if curve is None:
        return
    for ids, gains in curve.groups:
        samples = curve.sample_ids(ids)
        inside = samples < out.shape[0]
        out[samples[inside]] *= gains[inside][:, None]


def _enforce_ceiling(out: np.ndarray, sample_rate: int, ceiling_db: float, check: np.ndarray) -> float:
    """Re-limit ``out`` in place until the true peak of the ``check`` blocks (bool mask) is
    under the ceiling; returns that peak (linear)."""
    ceiling = 10.0 ** (ceiling_db / 20.0)
    blocks = np.flatnonzero(check)
    for attempt in range(4):
        planner = LimitPlanner(out, sample_rate, ceiling_db - 0.02 * attempt, within=check)
        peak = planner.scanner.true_peak(blocks)
        if peak <= ceiling:
            return peak
        _apply_curve(out, planner.curve(0.0))
    return TruePeakScanner(out).true_peak(blocks)


def _solve_gain(
    planner: LimitPlanner, meas: Measurement, power: np.ndarray, gain_db: float, target: float
) -> tuple[float, LimitCurve | None]:
    """Gain whose predicted loudness is ``target`` (secant steps; slope < 1 under limiting)."""
    curve = planner.curve(gain_db)
    level = _predict_lufs(meas, power, gain_db, curve)
    prev: tuple[float, float] | None = None
    for _ in range(12):
        if abs(target - level) < MODEL_TOLERANCE_LU:
            break
        slope = 1.0
        if prev is not None and gain_db != prev[0]:
            slope = float(np.clip((level - prev[1]) / (gain_db - prev[0]), 0.05, 1.5))
        prev = (gain_db, level)
        gain_db += (target - level) / slope
        curve = planner.curve(gain_db)
        level = _predict_lufs(meas, power, gain_db, curve)
    return gain_db, curve


def _db(linear: float) -> float:
    return 20.0 * np.log10(linear) if linear > 0 else float("-inf")


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbtp: float
) -> tuple[np.ndarray, list[str]]:
    """Return audio at ``target_lufs`` integrated loudness with true peak <= ``ceiling_dbtp``."""
    meas, power = measure(audio, sample_rate, keep_power=True)
    before = meas.integrated()
    if not np.isfinite(before):
        raise AudioError("nothing to normalise: the audio is silent (below -70 LUFS)")
    planner = LimitPlanner(audio, sample_rate, ceiling_dbtp)
    gain_db = target_lufs - before
    planner.curve(gain_db)  # fills the envelope cache for every block that can need limiting
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
        gain_db, curve = _solve_gain(planner, meas, power, gain_db, model_target)
        np.multiply(audio, 10.0 ** (gain_db / 20.0), out=out)
        _apply_curve(out, curve)
        if curve is not None:
            # elsewhere out = gain * audio exactly, whose peaks the planner already knows
            untouched = ~curve.touched(planner.scanner.nblocks) & np.isfinite(planner.block_peak_db)
            outside = float(planner.block_peak_db[untouched].max(initial=-np.inf)) + gain_db
            inside = _db(_enforce_ceiling(out, sample_rate, ceiling_dbtp, curve.touched(planner.scanner.nblocks)))
            peak_after = max(inside, outside)
        else:
            peak_after = peak_before + gain_db
        after = integrated_loudness(out, sample_rate)
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
        share = 100.0 * curve.limited_samples / max(1, audio.shape[0])
        notes.append(
            f"limited {share:.1f}% of samples (up to {curve.max_reduction_db:.1f} dB) to keep "
            f"true peak at {peak_after:.1f} dBTP <= {ceiling_dbtp:.1f} (before: {peak_before:.1f} dBTP)"
        )
    else:
        notes.append(f"true peak {peak_before:.1f} -> {peak_after:.1f} dBTP, no limiting needed")
    if meas.frames < meas.block:
        notes.append("clip shorter than 0.4 s: loudness measured ungated over the whole clip")
    return out, notes

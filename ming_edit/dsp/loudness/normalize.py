"""Loudness normalisation to an integrated-loudness target under a true-peak ceiling.

out = audio * gain * limiter_curve, for an array or any FrameReader (a file read again by range:
the streamed path never holds the signal). One pass in order measures the input (K-weighted
hop energies, K-power per limiter cell, peak statistics per block); the gain is then found on
a cheap model of the result (the per-hop energies re-weighted by the limiter curve only where
it acts). The output is a ``Rendered`` reader computing any range on demand, and is measured
exactly without a second full pass: it equals gain * input except in the blocks the limiter
touched, so only those (plus the K-filter's memory) are re-filtered (loudness.remeasure). If
the exact figure misses the target the model is re-centred on it. Blocks are read only where
the gained signal can cross the ceiling (see truepeak.TruePeakScanner), so quiet stretches
cost nothing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ming_edit.dsp.frames import FrameReader, as_reader
from ming_edit.dsp.loudness.limiter import LimiterTiming
from ming_edit.dsp.loudness.limitplan import HEAVY_DB, LimitCurve, LimitPlanner
from ming_edit.dsp.loudness.meter import CHUNK, LoudnessMeter, Measurement, integrated_loudness, remeasure
from ming_edit.dsp.loudness.truepeak import BLOCK, BlockStatistics, TruePeakScanner, true_peak_dbtp
from ming_edit.errors import AudioError

MODEL_TOLERANCE_LU = 0.01
EXACT_TOLERANCE_LU = 0.05
REACH_TOLERANCE_LU = 0.5  # beyond this the target is reported as unreachable
MAX_GAIN_DB = 120.0
HEAVY_SHARE_PERCENT, HEAVY_MAX_DB = 5.0, 10.0  # beyond either, suggest leveling first


class LoudnessModel:
    """Predicts the integrated loudness of ``audio * gain * curve`` from the input's K-power
    per limiter cell (meter.LoudnessMeter's ``cell_power``)."""

    def __init__(self, meas: Measurement, cell: int) -> None:
        self.meas, self.cell = meas, cell
        self.power_cells = meas.cell_power.reshape(-1, BLOCK // cell)  # [blocks, cells]

    def predict(self, gain_db: float, curve: LimitCurve | None) -> tuple[float, float]:
        """(predicted LUFS, share of the output energy in unlimited samples)."""
        meas = self.meas
        scale = 10.0 ** (gain_db / 10.0)
        hops, tail, limited = meas.hop_energy.copy(), meas.tail_energy, 0.0
        if curve is not None:
            nhops, cells = len(hops), BLOCK // self.cell
            offsets = np.arange(cells) * self.cell
            for k, (ids, nodes) in enumerate(curve.groups):
                power = self.power_cells[ids]
                energy = curve.mean_square_gain(k) * power
                reduced = np.maximum(nodes[:-1], nodes[1:]).reshape(len(ids), cells) > 1e-6
                limited += float(energy[reduced].sum())
                energy -= power  # (gain^2 - 1) * power
                hop_ids = ((ids[:, None] * BLOCK + offsets) // meas.hop).reshape(-1)
                inside = hop_ids < nhops
                delta = energy.reshape(-1)
                hops += np.bincount(hop_ids[inside], weights=delta[inside], minlength=nhops)
                tail += float(delta[~inside].sum())
        energy = float(hops.sum() + tail)
        share = 1.0 - limited / energy if energy > 0 else 1.0
        return meas.integrated(hops * scale, tail * scale), share


def _block_ranges(mask: np.ndarray, frames: int) -> list[tuple[int, int]]:
    """Frame ranges of the runs of True blocks in ``mask``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [(int(a) * BLOCK, min(frames, int(b) * BLOCK)) for a, b in zip(edges[::2], edges[1::2])]


class Rendered:
    """The normalised signal, ``source * gain * curve_1 * curve_2 ...``, as a FrameReader: any
    range is computed on demand, so a streamed edit never holds it whole."""

    def __init__(self, source: FrameReader, gain_db: float, curves: tuple[LimitCurve, ...] = ()) -> None:
        self.source, self.gain_db, self.curves = source, gain_db, curves
        self.frames, self.channels = source.frames, source.channels
        self.gain = 10.0 ** (gain_db / 20.0)

    def with_curve(self, curve: LimitCurve) -> Rendered:
        return Rendered(self.source, self.gain_db, self.curves + (curve,))

    def read(self, start: int, stop: int) -> np.ndarray:
        lo = max(0, start) // BLOCK * BLOCK  # curves are laid out in whole blocks
        out = self.source.read(lo, max(lo, stop)) * self.gain
        for curve in self.curves:
            curve.apply_blocks(out, lo // BLOCK)
        if start < 0:
            return np.concatenate([np.zeros((-start, self.channels)), out])
        return out[start - lo :]


def _stats_of_blocks(reader: FrameReader, mask: np.ndarray) -> np.ndarray:
    """BlockStatistics of ``reader`` for the blocks in ``mask`` and their neighbours (zero
    elsewhere), so bounds are valid on ``mask``: the ceiling check reads only those."""
    acc = BlockStatistics(reader.frames)
    wide = mask.copy()
    wide[1:] |= mask[:-1]
    wide[:-1] |= mask[1:]
    for lo, hi in _block_ranges(wide, reader.frames):
        for start in range(lo, hi, CHUNK):
            stop = min(hi, start + CHUNK)
            acc.add(start // BLOCK, reader.read(start - 2, -(-stop // BLOCK) * BLOCK + 2))
    return acc.finish(reader)


def _enforce_ceiling(
    signal: Rendered, sample_rate: int, ceiling_db: float, check: np.ndarray, changed: np.ndarray
) -> tuple[Rendered, float]:
    """Re-limit ``signal`` until the true peak of the ``check`` blocks (bool mask) is under the
    ceiling; returns it and that peak (linear). Blocks a new curve reaches are set in ``changed``."""
    ceiling = 10.0 ** (ceiling_db / 20.0)
    blocks = np.flatnonzero(check)
    for attempt in range(4):
        scanner = TruePeakScanner(signal, sample_rate, stats=_stats_of_blocks(signal, check))
        planner = LimitPlanner(scanner, sample_rate, ceiling_db - 0.02 * attempt, within=check)
        peak = scanner.true_peak(blocks)
        if peak <= ceiling:
            return signal, peak
        curve = planner.curve(0.0)
        if curve is not None:
            signal = signal.with_curve(curve)
            changed[curve.marked] = True
    scanner = TruePeakScanner(signal, sample_rate, stats=_stats_of_blocks(signal, check))
    return signal, scanner.true_peak(blocks)


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


def measure_pass(reader: FrameReader, sample_rate: int, cell: int,
                 on_frames: Callable[[int], None] | None = None) -> tuple[Measurement, np.ndarray]:
    """One sequential read: the K-weighted measurement (with per-cell power) and the peak
    statistics of every block (truepeak.BlockStatistics, for the true-peak bounds)."""
    meter = LoudnessMeter(sample_rate, reader.channels, reader.frames, cell)
    stats = BlockStatistics(reader.frames)
    for start in range(0, reader.frames, CHUNK):  # CHUNK is a multiple of BLOCK
        stop = min(reader.frames, start + CHUNK)
        x = reader.read(start - 2, -(-stop // BLOCK) * BLOCK + 2)
        meter.feed(x[2 : 2 + stop - start])
        stats.add(start // BLOCK, x)
        if on_frames is not None:
            on_frames(stop)
    return meter.measurement(), stats.finish(reader)


def plan_loudness(
    audio: np.ndarray | FrameReader, sample_rate: int, target_lufs: float, ceiling_dbtp: float,
    on_frames: Callable[[int], None] | None = None,
) -> tuple[Rendered, list[str]]:
    """The signal at ``target_lufs`` integrated loudness with true peak <= ``ceiling_dbtp``, as a
    Rendered reader, and the notes. Reads the input once in order (``on_frames`` sees the
    progress), then only the ranges the limiter and the exact re-measurement need."""
    reader = as_reader(audio)
    frames = reader.frames
    cell = LimiterTiming.for_rate(sample_rate).step
    meas, stats = measure_pass(reader, sample_rate, cell, on_frames)
    before = meas.integrated()
    if not stats[0].any():
        raise AudioError("nothing to normalise: the audio is silent (every sample is zero)")
    if not np.isfinite(before):
        raise AudioError("nothing to normalise: the audio is silent (below -70 LUFS)")
    model = LoudnessModel(meas, cell)
    planner = LimitPlanner(TruePeakScanner(reader, sample_rate, stats=stats), sample_rate, ceiling_dbtp)
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
    after, peak_after = before, peak_before
    for _ in range(3):
        gain_db, curve = _solve_gain(planner, model, gain_db, model_target)
        out = Rendered(reader, gain_db)
        changed = np.zeros(nblocks, bool)
        if curve is not None:
            out = out.with_curve(curve)
            touched = curve.touched(nblocks)
            changed |= touched
            # elsewhere out = gain * audio exactly, whose peaks the planner already knows
            untouched = ~touched & np.isfinite(planner.block_peak_db)
            outside = float(planner.block_peak_db[untouched].max(initial=-np.inf)) + gain_db
            out, inside = _enforce_ceiling(out, sample_rate, ceiling_dbtp, touched, changed)
            peak_after = max(_db(inside), outside)
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
        heavy = 100.0 * curve.heavy_samples / max(1, frames)
        notes.append(
            f"limited {share:.1f}% of samples (up to {curve.max_reduction_db:.1f} dB; {heavy:.1f}% by more than "
            f"{HEAVY_DB:g} dB) to keep true peak at {peak_after:.1f} dBTP <= {ceiling_dbtp:.1f} (before: {peak_before:.1f} dBTP)"
        )
        if heavy > HEAVY_SHARE_PERCENT or curve.max_reduction_db > HEAVY_MAX_DB:
            notes.append("the limiter worked hard, which can sound squashed: level the speech first, e.g. "
                         '"level the speakers, then normalize for podcasts"')
    else:
        notes.append(f"true peak {peak_before:.1f} -> {peak_after:.1f} dBTP, no limiting needed")
    if meas.frames < meas.block:
        notes.append("clip shorter than 0.4 s: loudness measured ungated over the whole clip")
    return out, notes


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbtp: float
) -> tuple[np.ndarray, list[str]]:
    """Return audio at ``target_lufs`` integrated loudness with true peak <= ``ceiling_dbtp``."""
    out, notes = plan_loudness(audio, sample_rate, target_lufs, ceiling_dbtp)
    return out.read(0, audio.shape[0]), notes


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

"""Limiter gain curves for ``audio * gain`` under a true-peak ceiling, block-sparse.

The true-peak envelope is computed once, only for blocks that can get near the ceiling at the
gains being tried (see truepeak.TruePeakScanner), and cached in dB as maxima over the
limiter's grid steps; a curve for any gain is then the limiter (limiter.coarse_reduction) run
on that grid over the blocks around the ones that cross, and drawn per sample.
Curves are stored per group of blocks as float32 gains (1 outside the groups).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.dsp.loudness.limiter import LimiterTiming, coarse_reduction, draw, grid_nodes
from ming_edit.dsp.loudness.truepeak import BLOCK, TruePeakScanner

# aim a little under the ceiling, so that the result is under it by any reasonable meter: our
# meter is within ~0.01 dB of exact band-limited interpolation (up to 0.07 dB low within
# ~0.003 fs of Nyquist, where the correction sees a finite context), but common 4x-32x polyphase
# meters (e.g. scipy's resample_poly) image near-Nyquist content and read up to ~0.35 dB higher than exact
CEILING_MARGIN_DB = 0.3
HEAVY_DB = 3.0  # reduction beyond which limiting is audible on speech (reported)
PREPARE_AHEAD_DB = 1.0  # envelopes are computed for gains up to this much above the asked one
_GROUP_BLOCKS = 2048  # limiter runs are processed in groups of about this many blocks
_NEG_DB_TO_LN = -np.log(10.0) / 20.0


@dataclass
class LimitCurve:
    """Gain reduction for groups of marked blocks, kept on the limiter's grid (1/step of the
    samples) and drawn per sample when applied; everything else has gain 1."""

    groups: list[tuple[np.ndarray, np.ndarray]]  # (block ids, float32 grid_nodes dB [len(ids)*cells + 1])
    step: int
    max_reduction_db: float
    limited_samples: int
    marked: np.ndarray  # every block id with a gain curve, ascending
    heavy_samples: int = 0  # samples reduced by more than HEAVY_DB

    @property
    def cells(self) -> int:
        return BLOCK // self.step

    def touched(self, nblocks: int) -> np.ndarray:
        """Blocks whose true peak the curve can change (marked, plus one neighbour each side)."""
        mask = np.zeros(nblocks, bool)
        for shift in (-1, 0, 1):
            mask[np.clip(self.marked + shift, 0, nblocks - 1)] = True
        return mask

    def gains(self, group: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Linear gains [len(rows), BLOCK] float32 of the ``rows`` (default all) of a group."""
        ids, nodes = self.groups[group]
        rows = np.arange(len(ids)) if rows is None else rows
        cells = self.cells
        at = rows[:, None] * cells + np.arange(cells + 1)[None, :]  # each row's nodes, both ends
        node_rows = nodes[at]  # [rows, cells + 1]
        fraction = (np.arange(self.step) / self.step).astype(np.float32)
        drawn = np.multiply.outer(node_rows[:, 1:] - node_rows[:, :-1], fraction)  # [rows, cells, step]
        drawn += node_rows[:, :-1, None]
        drawn *= np.float32(_NEG_DB_TO_LN)
        return np.exp(drawn, out=drawn).reshape(len(rows), BLOCK)

    def mean_square_gain(self, group: int) -> np.ndarray:
        """[len(ids), cells]: the mean of gain^2 over each cell's samples, in closed form (the
        reduction is linear in dB across a cell, so gain^2 is geometric in the sample index)."""
        ids, nodes = self.groups[group]
        a, b = nodes[:-1].astype(np.float64), nodes[1:].astype(np.float64)
        c = np.log(10.0) / 10.0
        rise = -c * (b - a)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.expm1(rise) / (self.step * np.expm1(rise / self.step))
        ratio = np.where(np.abs(rise) < 1e-12, 1.0, ratio)
        return (np.exp(-c * a) * ratio).reshape(len(ids), self.cells)

    def apply_blocks(self, out: np.ndarray, first_block: int) -> None:
        """Multiply ``out`` [frames, channels], the signal from block ``first_block`` on, by the
        curve where it reaches (a chunk of a streamed render, or the whole signal)."""
        last = first_block + -(-out.shape[0] // BLOCK)
        lo, hi = np.searchsorted(self.marked, [first_block, last])
        if lo == hi:
            return
        for k, (ids, _) in enumerate(self.groups):
            if ids[0] >= last or ids[-1] < first_block:
                continue
            a, b = np.searchsorted(ids, [first_block, last])
            if a == b:
                continue
            rows = np.arange(a, b)
            gains = self.gains(k, rows)
            local = ids[a:b] - first_block
            whole = out.shape[0] // BLOCK
            full = local < whole
            view = out[: whole * BLOCK].reshape(whole, BLOCK, out.shape[1])
            view[local[full]] *= gains[full][:, :, None]
            for blk, g in zip(local[~full], gains[~full]):  # the last, partial block
                part = out[blk * BLOCK :]
                part *= g[: len(part), None]


def apply_curve(out: np.ndarray, curve: LimitCurve | None) -> None:
    """Multiply ``out`` [frames, channels] by the curve in place."""
    if curve is not None:
        curve.apply_blocks(out, 0)


class LimitPlanner:
    """Limiter curves for ``audio * 10**(gain_db/20)`` at any gain, sharing one envelope cache."""

    def __init__(
        self, audio: np.ndarray | TruePeakScanner, sample_rate: int, ceiling_db: float, within: np.ndarray | None = None
    ) -> None:
        self.scanner = audio if isinstance(audio, TruePeakScanner) else TruePeakScanner(audio, sample_rate)
        if within is not None:  # only these blocks may need limiting (bool mask)
            self.scanner.block_bound[~within] = 0.0
        self.nblocks = self.scanner.nblocks
        self.timing = LimiterTiming.for_rate(sample_rate)
        self.ceiling_db = ceiling_db - CEILING_MARGIN_DB
        self.row_of = np.full(self.nblocks, -1)
        self.cells = BLOCK // self.timing.step  # grid steps per block
        self.env_db: list[np.ndarray] = []  # float32 [n, cells] chunks, rows numbered in order
        self.rows = 0
        self.block_peak_db = np.full(self.nblocks, -np.inf)
        self.prepared_gain_db = -np.inf  # envelopes exist for every block that can be hot here
        self._last: tuple[float, LimitCurve | None] | None = None

    def _ensure_envelope(self, blocks: np.ndarray) -> None:
        new = blocks[self.row_of[blocks] < 0]
        if len(new) == 0:
            return
        step = self.timing.step
        env = self.scanner.envelope(new, step)
        with np.errstate(divide="ignore"):
            env = (20.0 * np.log10(env)).astype(np.float32)
        self.row_of[new] = self.rows + np.arange(len(new))
        self.rows += len(new)
        self.env_db.append(env)
        self.block_peak_db[new] = env.max(axis=1)

    def _envelope_rows(self, ids: np.ndarray) -> np.ndarray:
        """[len(ids), cells] cached envelope (dB), -inf rows for blocks never cached."""
        if len(self.env_db) > 1:  # merge the cache chunks once they are read
            self.env_db = [np.concatenate(self.env_db)]
        out = np.full((len(ids), self.cells), -np.inf, np.float32)
        rows = self.row_of[ids]
        known = rows >= 0
        if self.env_db:
            out[known] = self.env_db[0][rows[known]]
        return out

    def prepare(self, gain_db: float) -> None:
        """Cache envelopes for every block that can cross the ceiling at ``gain_db``."""
        if gain_db > self.prepared_gain_db:  # prepare ahead: the iteration creeps up
            self.prepared_gain_db = gain_db + PREPARE_AHEAD_DB
            level = 10.0 ** ((self.ceiling_db - self.prepared_gain_db) / 20.0)
            self._ensure_envelope(self.scanner.candidate_blocks(level))

    def curve(self, gain_db: float) -> LimitCurve | None:
        if self._last is not None and self._last[0] == gain_db:
            return self._last[1]
        self.prepare(gain_db)
        result = self._curve(gain_db)
        self._last = (gain_db, result)
        return result

    def _curve(self, gain_db: float) -> LimitCurve | None:
        excess = self.block_peak_db + gain_db - self.ceiling_db
        hot = np.flatnonzero(excess > 0)
        if len(hot) == 0:
            return None
        max_q = float(excess[hot].max())
        before, after = self.timing.margins(max_q)
        pre, post = -(-before // BLOCK), -(-after // BLOCK)
        cover = np.zeros(self.nblocks + 1, np.int64)  # dilate hot blocks by pre/post
        np.add.at(cover, np.clip(hot - pre, 0, None), 1)
        np.add.at(cover, np.clip(hot + post + 1, None, self.nblocks), -1)
        marked = np.flatnonzero(np.cumsum(cover[:-1]) > 0)
        # the first run may start at block 0 with a peak inside the margin: pad in front
        lead = pre if marked[0] == 0 else 0
        groups, limited, heavy = [], 0, 0
        for ids in _split_runs(marked):
            q = self._envelope_rows(ids)
            q += np.float32(gain_db - self.ceiling_db)
            np.maximum(q, 0.0, out=q)
            pad = lead * self.cells if ids[0] == 0 else 0
            coarse = coarse_reduction(np.concatenate([np.zeros(pad), q.ravel()]), self.timing)[pad:]
            nodes = grid_nodes(coarse.astype(np.float32), self.timing.step)
            drawn = draw(nodes, self.timing.step, np.float32)
            limited += int(np.count_nonzero(drawn > 1e-6))
            heavy += int(np.count_nonzero(drawn > HEAVY_DB))
            groups.append((ids, nodes))
        return LimitCurve(groups, self.timing.step, max_q, limited, marked, heavy)


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

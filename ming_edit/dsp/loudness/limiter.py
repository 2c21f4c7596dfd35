"""Look-ahead peak limiter, fully vectorised, working in dB of gain reduction.

Given the reduction each sample *needs* (q >= 0 dB), it builds a smooth reduction s >= q.
The curve is shaped on a coarse grid of ``step`` samples (attack 5 ms is >= 8 steps), from the
maximum requirement of each step, then drawn linearly between grid nodes, each node taking the
larger of its two neighbouring steps; both ends of a segment are >= every requirement inside
it, so s >= q holds per sample, at 1/step of the cost. On the grid:
1. release: s decays at a fixed rate in dB (an exponential release in linear gain), done with a
   running maximum of q[k] + rate*k, i.e. ``np.maximum.accumulate`` instead of a sample loop;
2. look-ahead hold: the maximum over the next ``lookahead`` steps;
3. attack: two cascaded backward moving averages whose combined span is <= the look-ahead, so
   every averaged value is >= the hold at the current step (hence still >= q), while the gain
   glides down over ~lookahead steps before a peak instead of jumping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ATTACK_S = 0.005
RELEASE_TAU_S = 0.080  # time constant of the exponential release
MAX_STEP = 256  # the grid step must divide truepeak.BLOCK
_DB_PER_NEPER = 20.0 / np.log(10.0)


@dataclass(frozen=True)
class LimiterTiming:
    lookahead: int  # samples
    release_db_per_sample: float
    step: int = 1  # samples per grid step (a power of two)

    @classmethod
    def for_rate(cls, sample_rate: int) -> LimiterTiming:
        lookahead = max(2, round(ATTACK_S * sample_rate))
        step = min(MAX_STEP, 1 << max(0, (lookahead // 8).bit_length() - 1))
        return cls(lookahead, _DB_PER_NEPER / (RELEASE_TAU_S * sample_rate), step)

    @property
    def lookahead_steps(self) -> int:
        return -(-self.lookahead // self.step)

    def margins(self, max_reduction_db: float) -> tuple[int, int]:
        """Samples before / after a peak that the reduction can touch."""
        before = (self.lookahead_steps + 2) * self.step + 1
        release = int(np.ceil(max_reduction_db / (self.release_db_per_sample * self.step)))
        after = (release + self.lookahead_steps + 3) * self.step
        return before, after


def forward_max(x: np.ndarray, width: int) -> np.ndarray:
    """y[n] = max(x[n .. n+width-1]) with zeros past the end (x >= 0).

    Doubling: after k passes m[n] = max(x[n .. n+2^k-1]); two overlapping power-of-two spans
    then cover any width. ~log2(width) contiguous np.maximum passes, no Python loop per sample.
    """
    n = len(x)
    m = np.zeros(n + width)
    m[:n] = x
    span = 1
    while 2 * span <= width:
        np.maximum(m[:-span], m[span:], out=m[:-span])  # numpy buffers the overlapping read
        span *= 2
    return np.maximum(m[:n], m[width - span : width - span + n])


def _backward_mean(x: np.ndarray, length: int) -> np.ndarray:
    """y[n] = mean(x[n-length+1 .. n]), with zeros before the start."""
    c = np.concatenate([np.zeros(length), np.cumsum(x)])
    return (c[length:] - c[:-length]) / length


def coarse_reduction(required_db: np.ndarray, timing: LimiterTiming) -> np.ndarray:
    """Smoothed reduction on the grid (dB, >= ``required_db``, one value per step)."""
    rate = timing.release_db_per_sample * timing.step
    ramp = rate * np.arange(len(required_db), dtype=np.float64)
    held = np.maximum.accumulate(required_db + ramp) - ramp
    ahead = forward_max(held, timing.lookahead_steps + 1)
    half = timing.lookahead_steps // 2 + 1  # two boxcars: span 2*(half-1) <= lookahead
    smooth = _backward_mean(_backward_mean(ahead, half), half)
    np.maximum(smooth, 0.0, out=smooth)  # cumsum round-off near zero
    return smooth


def step_maxima(required_db: np.ndarray, step: int) -> np.ndarray:
    """Largest requirement in each step of ``step`` samples (the last one zero-padded)."""
    if step == 1:
        return np.asarray(required_db, dtype=np.float64)
    padded = np.zeros(-(-len(required_db) // step) * step)
    padded[: len(required_db)] = required_db
    return padded.reshape(-1, step).max(axis=1)


def grid_nodes(coarse_db: np.ndarray, step: int) -> np.ndarray:
    """The len+1 values the per-sample curve is drawn between: sample j of step k is
    nodes[k] + (nodes[k+1] - nodes[k]) * j / step. A node takes the larger of its two
    neighbouring steps, so each step's samples are >= its grid value (step 1: the grid itself)."""
    nodes = np.empty(len(coarse_db) + 1, coarse_db.dtype)
    nodes[:-1] = coarse_db
    nodes[-1] = 0.0
    if step > 1:
        np.maximum(nodes[1:], nodes[:-1], out=nodes[1:])  # numpy buffers the overlapping read
    return nodes


def draw(nodes: np.ndarray, step: int, dtype: type = np.float64) -> np.ndarray:
    """Per-sample curve ((len(nodes) - 1) * step values) from ``grid_nodes``."""
    fraction = (np.arange(step) / step).astype(dtype)
    out = np.multiply.outer((nodes[1:] - nodes[:-1]).astype(dtype), fraction)
    out += nodes[:-1, None]
    return out.reshape(-1)


def expand(coarse_db: np.ndarray, step: int, dtype: type = np.float64) -> np.ndarray:
    """Per-sample curve (len(coarse_db) * step values), linear between ``grid_nodes``."""
    if step == 1:
        return coarse_db.astype(dtype)
    return draw(grid_nodes(coarse_db.astype(dtype), step), step, dtype)


def reduction_db(required_db: np.ndarray, timing: LimiterTiming) -> np.ndarray:
    """Smoothed gain reduction per sample (dB, >= required_db everywhere).

    ``required_db`` must be 0 over the first ``margins()[0]`` samples and the last
    ``margins()[1]`` samples after its last positive value, so the curve starts and ends at 0.
    """
    coarse = coarse_reduction(step_maxima(required_db, timing.step), timing)
    return expand(coarse, timing.step)[: len(required_db)]

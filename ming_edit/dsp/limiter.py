"""Look-ahead peak limiter, fully vectorised, working in dB of gain reduction.

Given the reduction each sample *needs* (q >= 0 dB), it builds a smooth reduction s >= q:
1. release: s decays at a fixed rate in dB (an exponential release in linear gain), done with a
   running maximum of q[k] + rate*k, i.e. ``np.maximum.accumulate`` instead of a sample loop;
2. look-ahead hold: the maximum over the next ``lookahead`` samples;
3. attack: two cascaded backward moving averages whose combined span is <= the look-ahead, so
   every averaged value is >= the hold at the current sample (hence still >= q), while the gain
   glides down over ~lookahead samples before a peak instead of jumping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

ATTACK_S = 0.005
RELEASE_TAU_S = 0.080  # time constant of the exponential release
_DB_PER_NEPER = 20.0 / np.log(10.0)


@dataclass(frozen=True)
class LimiterTiming:
    lookahead: int  # samples
    release_db_per_sample: float

    @classmethod
    def for_rate(cls, sample_rate: int) -> LimiterTiming:
        return cls(max(2, round(ATTACK_S * sample_rate)), _DB_PER_NEPER / (RELEASE_TAU_S * sample_rate))

    def margins(self, max_reduction_db: float) -> tuple[int, int]:
        """Samples before / after a peak that the reduction can touch."""
        before = 2 * self.lookahead + 1
        after = int(np.ceil(max_reduction_db / self.release_db_per_sample)) + self.lookahead + 1
        return before, after


def _backward_mean(x: np.ndarray, length: int) -> np.ndarray:
    """y[n] = mean(x[n-length+1 .. n]), with zeros before the start."""
    c = np.concatenate([np.zeros(length), np.cumsum(x)])
    return (c[length:] - c[:-length]) / length


def reduction_db(required_db: np.ndarray, timing: LimiterTiming) -> np.ndarray:
    """Smoothed gain reduction (dB, >= required_db everywhere).

    ``required_db`` must be 0 over the first ``margins()[0]`` samples and the last
    ``margins()[1]`` samples after its last positive value, so the curve starts and ends at 0.
    """
    ramp = timing.release_db_per_sample * np.arange(len(required_db), dtype=np.float64)
    held = np.maximum.accumulate(required_db + ramp) - ramp
    width = timing.lookahead + 1
    ahead = maximum_filter1d(held, size=width, origin=-(width // 2), mode="constant", cval=0.0)
    half = timing.lookahead // 2 + 1  # two boxcars: span 2*(half-1) <= lookahead
    smooth = _backward_mean(_backward_mean(ahead, half), half)
    np.maximum(smooth, 0.0, out=smooth)  # cumsum round-off near zero
    return smooth

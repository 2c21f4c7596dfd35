"""Where exactly an edit begins and ends: change points between the two alignments either side.

The DTW path (align.py) finds each edit and the offsets (regenerated minus source frame) of the
unedited audio before and after it, but a path bends gradually (features are 25 ms windows with
+-2 frames of context), and where an edit's edge resembles its context it may bend anywhere. Here
the offsets are held fixed and each boundary is the change point of a cost along them, over the
frames near the edit:

* insertion at source frame p: sum of d(source i, regenerated i + before) for i < p and
  d(source i, regenerated i + after) for i >= p;
* deletion of L = before - after source frames from p: the same with the frames [p, p + L) left out;
* replacement [a, b): frames before a follow ``before``, frames from b follow ``after``, and each
  frame in between costs EDITED (a price between matching, ~0.1, and differing, > 0.35).

Every position within TOLERANCE of the best cost is equally supported by the audio (a pause
against a pause, a sound both words share); the splicer cuts at the quietest of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.splice.align import FrameEdit
from ming_edit.splice.features import Features

REACH_FRAMES = 30  # a boundary is looked for this far (300 ms) outside the path's edit region
OFFSET_SLACK = 3  # the offsets either side are re-fitted within +-this many frames
OFFSET_WINDOW = 30  # over this many frames of matching audio just outside the edit
EDITED = 0.25  # the cost of one frame inside a replacement
TOLERANCE = 0.5  # positions whose cost is within this of the best are equally good boundaries
OUT_OF_RANGE = 2.0  # the cost of a frame whose partner lies outside the regenerated audio


@dataclass(frozen=True)
class Candidates:
    """Allowed boundary frames (a frame boundary f lies between frames f - 1 and f): ``start``
    and ``end`` are boolean masks over frames [lo, lo + len); a deletion / insertion uses
    ``start`` only (its end follows by the fixed length)."""

    lo: int
    start: np.ndarray
    end: np.ndarray
    offset_before: int
    offset_after: int


def diagonal_cost(source: Features, regen: Features, offset: int, lo: int, hi: int) -> np.ndarray:
    """d(source i, regenerated i + offset) for i in [lo, hi); OUT_OF_RANGE where i + offset is
    outside the regenerated frames."""
    idx = np.arange(lo, hi)
    partner = idx + offset
    inside = (partner >= 0) & (partner < regen.frames)
    cost = np.full(idx.shape[0], OUT_OF_RANGE)
    cost[inside] = 1.0 - np.einsum("ij,ij->i", source.unit[idx[inside]], regen.unit[partner[inside]])
    return cost


def _fit_offset(source: Features, regen: Features, offset: int, lo: int, hi: int) -> int:
    """The offset within +-OFFSET_SLACK that matches source frames [lo, hi) best (mean cost)."""
    if hi - lo < 3:
        return offset
    trials = range(offset - OFFSET_SLACK, offset + OFFSET_SLACK + 1)
    costs = [float(diagonal_cost(source, regen, o, lo, hi).mean()) for o in trials]
    best = int(np.argmin(costs))
    return offset if costs[OFFSET_SLACK] <= costs[best] + 1e-3 else list(trials)[best]


def _near_best(cost: np.ndarray) -> np.ndarray:
    return cost <= cost.min() + TOLERANCE


def candidates(edit: FrameEdit, source: Features, regen: Features) -> Candidates | None:
    """The boundary frames the audio supports for an interior ``edit``; None when the window is
    too small to say (the path's own boundaries are used then)."""
    n = source.frames
    lo = max(0, edit.src_start - REACH_FRAMES)
    hi = min(n, edit.src_end + REACH_FRAMES)
    before = _fit_offset(source, regen, edit.offset_before, max(0, edit.src_start - 3 - OFFSET_WINDOW),
                         max(0, edit.src_start - 3))
    after = _fit_offset(source, regen, edit.offset_after, min(n, edit.src_end + 3),
                        min(n, edit.src_end + 3 + OFFSET_WINDOW))
    if hi - lo < 4:
        return None
    d_before = diagonal_cost(source, regen, before, lo, hi)
    d_after = diagonal_cost(source, regen, after, lo, hi)
    # prefix[k]: cost of frames lo .. lo+k-1 following `before`; suffix[k]: frames lo+k .. hi-1 following `after`
    prefix = np.concatenate([[0.0], np.cumsum(d_before)])
    suffix = np.concatenate([np.cumsum(d_after[::-1])[::-1], [0.0]])
    span = hi - lo
    if edit.kind == "insert" and after > before:
        start = _near_best(prefix + suffix)  # boundary k: frames before lo + k follow `before`
        return Candidates(lo, start, start, before, after)
    if edit.kind == "delete" and before > after:
        length = before - after
        if length >= span:
            return None
        cost = prefix[: span - length + 1] + suffix[length:]
        start = _near_best(cost)
        return Candidates(lo, start, start, before, after)
    k = np.arange(span + 1)
    left = _near_best(prefix - EDITED * k)
    right = _near_best(suffix - EDITED * (span - k))
    return Candidates(lo, left, right, before, after)

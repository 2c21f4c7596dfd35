"""Monotonic alignment of two feature sequences, and the edited spans read off the path.

Alignment: DTW whose steps are diagonal (cost d, the frames' cosine distance) or one-sided (a
source frame against the same regenerated frame, or the reverse: cost min(d + STEP_PENALTY,
GAP_COST)). Capping the one-sided cost makes an inserted or deleted stretch one clean vertical or
horizontal run (a gap), instead of a path that wanders through whatever the new words resemble.
Two passes keep long recordings cheap:

* coarse: frames pooled by ``factor`` (8, or more when the pair is long, so the full coarse matrix
  stays under COARSE_CELLS cells, e.g. 10 for 10 minutes); full DTW, O(N M / factor^2) time and
  int8 memory (40 MB at most);
* fine: full resolution in a band of ``radius`` (>= 24 frames, 4 factors: with 2, the path of a
  30-minute pair, factor 28, left the band in places and showed 15 false edits) around the coarse path,
  O((N + M) (radius + factor)) time and memory.

Each row is one vectorised step: the one-sided recursion along a row, D[j] = min(A[j], D[j-1] +
e[j]), is D = C + cummin(A - C) with C the running sum of e, so no Python loop runs per cell.
Measured (whole splice()): 10 minutes of speech in 6.7 s, 30 in 21 s, 60 in 44 s (benchmarks/README.md).

Edits: the distance along the path (a pause against a pause counts 0, sound against a pause at
least ONE_SIDED_COST), smoothed over SMOOTH frames, has cores above THRESHOLD where the regeneration
changed the audio; each core grows while the distance stays above LOW_THRESHOLD and over the one-
sided runs it touches, and cores closer than MERGE_FRAMES join. Each region is classified by its
extent on each side and by how the path's offset (regenerated minus source frame, read on matching
speech either side) changes across it: a point on the regenerated side that loses frames is a
deletion, a point on the source side that gains frames an insertion, anything else a replacement.
Global: when the best quarter of the path through sound still differs (GLOBAL_DISTANCE), or the
unedited stretches run at another tempo (MAX_TEMPO_CHANGE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.splice.features import Features, pooled

STEP_PENALTY = 0.10
GAP_COST = 0.30  # the most a one-sided step costs: an inserted / deleted frame, whatever it resembles
COARSE_FACTOR = 8
COARSE_CELLS = 40_000_000
THRESHOLD = 0.35  # an edit's core differs at least this much (smoothed)
LOW_THRESHOLD = 0.20  # and its region runs on while the distance stays above this
SMOOTH = 5  # frames (50 ms)
ONE_SIDED_COST = 0.30  # at least what sound aligned with a pause counts as (it grows an edit, never starts one)
MIN_EDIT_FRAMES = 6  # regions shorter than this (on both sides) are noise, not an edit
RUN_FRAMES = 3  # one-sided runs at least this long belong to the edit they touch
MERGE_FRAMES = 25  # regions closer than this (250 ms) on both sides are one edit
OFFSET_STEPS, OFFSET_REACH = 10, 400  # matching path steps either side of an edit that give its offsets
POINT_FRAMES = 12  # a side this short (<= 120 ms, the blur of the features) may be a point: delete / insert
MAX_TEMPO_CHANGE = 0.10  # unedited stretches faster / slower than this: a global tempo change
TEMPO_FRAMES = 50  # stretches shorter than this (0.5 s) say nothing about the tempo
GLOBAL_QUANTILE, GLOBAL_DISTANCE = 25, 0.13  # global: a quarter of the path through sound is the best it gets

DIAGONAL, SOURCE_ONLY, REGEN_ONLY = 0, 1, 2


@dataclass(frozen=True)
class FrameEdit:
    """An edited region in frames: source [src_start, src_end), regenerated [reg_start, reg_end),
    and the path's offset (regenerated - source frame) just before and just after it: the unedited
    sides are aligned by these, so a deletion is offset_before - offset_after frames long and an
    insertion offset_after - offset_before."""

    kind: str  # "delete" | "replace" | "insert"
    src_start: int
    src_end: int
    reg_start: int
    reg_end: int
    offset_before: int = 0
    offset_after: int = 0


@dataclass(frozen=True)
class Alignment:
    src: np.ndarray  # path: source frame of each step
    reg: np.ndarray  # path: regenerated frame of each step
    cost: np.ndarray  # cosine distance of each step
    edits: tuple[FrameEdit, ...]
    dissimilar_fraction: float  # of the path steps through sound
    is_global: bool
    reason: str = ""  # why the change is global


def _dtw(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-cost monotonic path from (0, 0) to (N-1, M-1) through row i's columns [lo[i], hi[i])."""
    n = x.shape[0]
    moves: list[np.ndarray] = []
    prev = None
    prev_lo = prev_hi = 0
    for i in range(n):
        a, b = int(lo[i]), int(hi[i])
        d = 1.0 - y[a:b] @ x[i]
        if prev is None:  # row 0 starts at (0, 0) and moves along the regenerated side only
            arrive = np.full(b - a, np.inf)
            if a == 0:
                arrive[0] = d[0]
            move = np.full(b - a, DIAGONAL, dtype=np.int8)
        else:
            cols = np.arange(a, b)
            diag = np.full(b - a, np.inf)
            vert = np.full(b - a, np.inf)
            k = cols - 1 - prev_lo
            ok = (k >= 0) & (cols - 1 < prev_hi)
            diag[ok] = prev[k[ok]]
            k = cols - prev_lo
            ok = (k >= 0) & (cols < prev_hi)
            vert[ok] = prev[k[ok]] + np.minimum(d[ok] + STEP_PENALTY, GAP_COST)
            arrive = np.minimum(d + diag, vert)
            move = np.where(vert < d + diag, SOURCE_ONLY, DIAGONAL).astype(np.int8)
        step = np.minimum(d + STEP_PENALTY, GAP_COST)
        running = np.cumsum(step)
        best = np.minimum.accumulate(arrive - running)
        cur = running + best
        move[best < arrive - running] = REGEN_ONLY
        moves.append(move)
        prev, prev_lo, prev_hi = cur, a, b
    i, j = n - 1, y.shape[0] - 1
    src, reg = [i], [j]
    while i > 0 or j > 0:
        m = moves[i][j - int(lo[i])]
        if m == REGEN_ONLY:
            j -= 1
        elif m == SOURCE_ONLY:
            i -= 1
        else:
            i, j = i - 1, j - 1
        src.append(i)
        reg.append(j)
    return np.array(src[::-1]), np.array(reg[::-1])


def coarse_factor(n: int, m: int) -> int:
    return max(COARSE_FACTOR, int(np.ceil(np.sqrt(n * m / COARSE_CELLS))))


def align_path(source: Features, regen: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source frames, regenerated frames, cosine distance) along the two-pass DTW path."""
    n, m = source.frames, regen.frames
    factor = coarse_factor(n, m)
    cx, cy = pooled(source, factor), pooled(regen, factor)
    full_lo = np.zeros(cx.shape[0], dtype=np.int64)
    full_hi = np.full(cx.shape[0], cy.shape[0], dtype=np.int64)
    csrc, creg = _dtw(cx, cy, full_lo, full_hi)
    radius = max(24, 4 * factor)
    first = np.full(cx.shape[0], cy.shape[0])
    last = np.zeros(cx.shape[0], dtype=np.int64)
    np.minimum.at(first, csrc, creg)
    np.maximum.at(last, csrc, creg)
    rows = np.arange(n) // factor
    lo = np.clip(first[rows] * factor - radius, 0, m - 1)
    hi = np.clip((last[rows] + 1) * factor + radius, 1, m)
    lo = np.minimum.accumulate(lo[::-1])[::-1]  # keep the band monotonic and connected
    hi = np.maximum.accumulate(hi)
    hi[-1] = m
    lo[0] = 0
    src, reg = _dtw(source.unit, regen.unit, lo, hi)
    cost = 1.0 - np.einsum("ij,ij->i", source.unit[src], regen.unit[reg])
    return src, reg, cost


def _smooth(cost: np.ndarray) -> np.ndarray:
    if cost.size < SMOOTH:
        return cost
    pad = SMOOTH // 2
    padded = np.pad(cost, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, SMOOTH)
    return np.median(windows, axis=1)


def _offset(src: np.ndarray, reg: np.ndarray, matched: np.ndarray, start: int, step: int) -> int:
    """The path's offset (regenerated - source frame) next to an edit, walking from path step
    ``start`` in direction ``step``: the median over the nearest OFFSET_STEPS steps that match
    through sound (a pause matches a pause at any offset, speech only at the right one), looking
    at most OFFSET_REACH steps away; the nearest step's offset when none does."""
    stop = start + step * OFFSET_REACH
    idx = np.arange(start, stop, step)
    idx = idx[(idx >= 0) & (idx < src.shape[0])]
    if idx.size == 0:
        idx = np.array([min(max(start, 0), src.shape[0] - 1)])
    good = idx[matched[idx]][:OFFSET_STEPS]
    use = good if good.size else idx[:1]
    return int(np.round(np.median(reg[use] - src[use])))


def _regions(flag: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) step ranges where ``flag`` is set."""
    edges = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _edit_regions(smooth: np.ndarray, src: np.ndarray, reg: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) path-step ranges of the edits: cores above THRESHOLD grown while above
    LOW_THRESHOLD, then joined when closer than MERGE_FRAMES on both sides."""
    grown = []
    low = _regions(smooth > LOW_THRESHOLD)
    for start, end in _regions(smooth > THRESHOLD):
        for lo, hi in low:
            if lo <= start and end <= hi:
                start, end = lo, hi
                break
        if not grown or start >= grown[-1][1]:
            grown.append((start, end))
    merged: list[list[int]] = []
    for start, end in grown:
        if merged and (src[start] - src[merged[-1][1] - 1] < MERGE_FRAMES
                       and reg[start] - reg[merged[-1][1] - 1] < MERGE_FRAMES):
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(a, b) for a, b in _with_runs(merged, src, reg)]


def _with_runs(regions: list[list[int]], src: np.ndarray, reg: np.ndarray) -> list[list[int]]:
    """Each region grown over the one-sided runs of the path it touches: a deletion is the whole
    horizontal run (source advancing alone), an insertion the whole vertical one, even where its
    ends are pauses that match the other side's pause."""
    step_src, step_reg = np.diff(src, prepend=-1), np.diff(reg, prepend=-1)
    out: list[list[int]] = []
    for one_sided in ((step_src == 1) & (step_reg == 0), (step_src == 0) & (step_reg == 1)):
        runs = [(a, b) for a, b in _regions(one_sided) if b - a >= RUN_FRAMES]
        for region in regions:
            for a, b in runs:
                if a - 1 <= region[1] and region[0] <= b:  # the run touches the region
                    region[0], region[1] = min(region[0], max(0, a - 1)), max(region[1], b)
    for region in sorted(regions):
        if out and region[0] <= out[-1][1]:
            out[-1][1] = max(out[-1][1], region[1])
        else:
            out.append(region)
    return out


def align(source: Features, regen: Features) -> Alignment:
    """The path and the edits it shows (module note)."""
    src, reg, cost = align_path(source, regen)
    through_sound = source.active[src] | regen.active[reg]
    one_sided = source.active[src] != regen.active[reg]  # sound against a pause
    seen = np.where(one_sided, np.maximum(cost, ONE_SIDED_COST), cost)
    smooth = _smooth(np.where(through_sound, seen, 0.0))  # a pause matches a pause, whatever its noise
    steps = int(through_sound.sum())
    fraction = float(((smooth > THRESHOLD) & through_sound).sum() / steps) if steps else 0.0
    if steps and np.percentile(cost[through_sound], GLOBAL_QUANTILE) > GLOBAL_DISTANCE:
        return Alignment(src, reg, cost, (), fraction, True, "the sound differs throughout")
    edits = []
    matched = through_sound & (smooth < LOW_THRESHOLD)
    for start, end in _edit_regions(smooth, src, reg):
        s0, s1 = int(src[start]), int(src[end - 1]) + 1
        r0, r1 = int(reg[start]), int(reg[end - 1]) + 1
        if max(s1 - s0, r1 - r0) < MIN_EDIT_FRAMES:
            continue
        before = _offset(src, reg, matched, start - 1, -1)
        after = _offset(src, reg, matched, end, 1)
        gained = after - before  # regenerated frames minus source frames the edit adds
        if r1 - r0 <= POINT_FRAMES and -gained >= 0.6 * (s1 - s0):
            kind = "delete"
        elif s1 - s0 <= POINT_FRAMES and gained >= 0.6 * (r1 - r0):
            kind = "insert"
        else:
            kind = "replace"
        edits.append(FrameEdit(kind, s0, s1, r0, r1, before, after))
    rate = _tempo(src, reg, matched, edits)
    if abs(rate - 1.0) > MAX_TEMPO_CHANGE:
        return Alignment(src, reg, cost, (), fraction, True, f"the timing differs throughout (x{rate:.2f})")
    return Alignment(src, reg, cost, tuple(edits), fraction, False)


def _tempo(src: np.ndarray, reg: np.ndarray, matched: np.ndarray, edits: list[FrameEdit]) -> float:
    """Regenerated frames per source frame where the two match, between the edits: the median of
    each unedited stretch's fitted slope, weighted by its length (1.0 when nothing is long enough)."""
    cuts = [0] + [x for e in edits for x in (e.src_start, e.src_end)] + [int(src[-1]) + 1]
    slopes, weights = [], []
    for lo, hi in zip(cuts[::2], cuts[1::2]):
        use = matched & (src >= lo) & (src < hi)
        if use.sum() >= TEMPO_FRAMES and np.ptp(src[use]) >= TEMPO_FRAMES:
            slopes.append(float(np.polyfit(src[use], reg[use], 1)[0]))
            weights.append(int(use.sum()))
    if not slopes:
        return 1.0
    order = np.argsort(slopes)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(slopes)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])

"""splice(): a recording and a regenerated version of it -> the recording with only the spans
the regeneration changed replaced (or the regeneration whole when it changed everything).

Steps: the regenerated audio is resampled to the source rate (dsp/convert, the one resampler);
log-mel frames of both (mono mixes) are aligned (align.py); each interior edit's boundaries are
the change points between the alignments either side (boundaries.py), and its seams go to the
quietest point the audio supports there (the middle of a pause when one is there), the regenerated
side following by the offsets, so the two sides of a seam hold the same sound (edits at either end
of the recording: a quiet point near the path's region edges); the output
is joined from source slices, gain-matched regenerated spans and crossfades (join.py). Deletions
take nothing from the regeneration. Very short edits are dropped (wobbles of the regeneration);
many edits, or edits covering most of the recording, make the change global.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.dsp.convert import resample
from ming_edit.errors import AudioError
from ming_edit.io.audio import from_float, to_float
from ming_edit.splice.align import FrameEdit, align
from ming_edit.splice.boundaries import Candidates, candidates
from ming_edit.splice.features import envelope, frame_features
from ming_edit.splice.join import CEILING, Piece, Seams, join

MIN_SECONDS = 0.1
MIN_EDIT_SECONDS = 0.06  # an edit shorter than this on both sides is a wobble of the regeneration, not an edit
SECONDS_PER_EDIT = 4.0  # more than 2 edits + one per this many seconds: changes everywhere, a global change
MAX_EDITED_FRACTION = 0.5  # edits replacing more of the source than this: a global change
OUTWARD_SECONDS = 0.060  # a seam moves at most this far into the unedited side, to a quieter point
INWARD_SECONDS = 0.020  # and at most this far into the edit
PAUSE_SECONDS = 0.150  # or to the middle of a pause reaching that window, followed this much further
ENVELOPE_SECONDS = 0.020  # RMS window of the envelopes seams are placed by
PAUSE_DB = 30.0  # a pause: the envelope this far under the loud level (95th percentile), or twice the floor
QUIET_RATIO = 1.12  # a flat quiet stretch (a pause) is within this of its lowest point; a seam takes its middle
POINT_SIDE_FRAMES = 3  # a replacement side shorter than this (30 ms) is a point: an insertion / deletion
FMAX_HZ = 7600.0  # and never above 0.47 of the lower of the two rates


@dataclass(frozen=True)
class SpliceEdit:
    """One edit, in seconds: source [source_start, source_end) became regenerated
    [regenerated_start, regenerated_end) (equal ends: nothing, i.e. a deletion / an insertion)."""

    kind: str  # "delete" | "replace" | "insert"
    source_start: float
    source_end: float
    regenerated_start: float
    regenerated_end: float

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "source_start": round(self.source_start, 4), "source_end": round(self.source_end, 4),
                "regenerated_start": round(self.regenerated_start, 4), "regenerated_end": round(self.regenerated_end, 4)}


@dataclass(frozen=True)
class Spliced:
    audio: np.ndarray  # [frames, channels] in the source array's type, at the source rate
    sample_rate: int
    is_global: bool
    edits: tuple[SpliceEdit, ...]
    pieces: tuple[Piece, ...]
    kept_fraction: float  # source samples copied bit for bit / source samples
    dissimilar_fraction: float  # of the aligned path through sound
    notes: tuple[str, ...]


class _Quiet:
    """Where a seam is quiet: the source's 20 ms RMS envelope in 1 ms steps (the regenerated side
    follows by the alignment's offsets, so its seams fall in the same pause)."""

    def __init__(self, src_mono: np.ndarray, sample_rate: int) -> None:
        self.env, self.hop = envelope(src_mono, sample_rate, ENVELOPE_SECONDS)
        loud, floor = np.percentile(self.env, [95, 5]) if self.env.size else (0.0, 0.0)
        self.pause_level = max(float(loud) * 10 ** (-PAUSE_DB / 20), 2.0 * float(floor))
        self.outward = round(OUTWARD_SECONDS * sample_rate) // self.hop
        self.inward = round(INWARD_SECONDS * sample_rate) // self.hop
        self.reach = round(PAUSE_SECONDS * sample_rate) // self.hop

    def shift(self, points: list[int], before: int, after: int) -> int:
        """The shift (samples) that puts every source point at its quietest together: the middle
        of a pause (all points below the pause level) that reaches into ``-before`` .. ``after``
        envelope steps (followed up to PAUSE_SECONDS beyond), the one nearest no shift; without
        one, the quietest point there (the middle of a flat quiet stretch)."""
        reach = self.reach
        steps = np.arange(-before - reach, after + reach + 1)
        idx = [np.clip(at // self.hop + steps, 0, self.env.shape[0] - 1) for at in points]
        paused = np.all([self.env[i] <= self.pause_level for i in idx], axis=0)
        total = np.sum([self.env[i] for i in idx], axis=0)
        centre = reach + before
        inside = slice(reach, reach + before + after + 1)
        runs = [(a, b) for a, b in zip(*_edges(paused)) if a < inside.stop and b > inside.start]
        if not runs:
            low = float(total[inside].min())
            flat = total <= QUIET_RATIO * low + 1e-9
            runs = [(a, b) for a, b in zip(*_edges(flat)) if a < inside.stop and b > inside.start]
        a, b = min(runs, key=lambda r: 0 if r[0] <= centre < r[1] else min(abs(r[0] - centre), abs(r[1] - 1 - centre)))
        return int(steps[(a + b - 1) // 2]) * self.hop


    def pick(self, mask: np.ndarray, lo: int, frame_hop: int, spacing: int = 0) -> int | None:
        """The quietest sample position x whose nearest frame boundary (boundary f at (f - 0.5)
        frame hops) ``mask`` allows (boundaries lo .. lo + len - 1); for a deletion, x and
        x + ``spacing`` together. The middle of the flat quiet stretch holding the lowest point;
        None when nothing is allowed."""
        first = max(0, (lo - 1) * frame_hop // self.hop)
        last = min(self.env.shape[0], (lo + mask.shape[0]) * frame_hop // self.hop + 1)
        steps = np.arange(first, last)
        boundary = np.floor(steps * self.hop / frame_hop + 0.5).astype(np.int64) - lo
        ok = (boundary >= 0) & (boundary < mask.shape[0])
        ok[ok] = mask[boundary[ok]]
        steps = steps[ok]
        if steps.size == 0:
            return None
        end = self.env.shape[0] - 1
        total = self.env[steps] + (self.env[np.clip(steps + spacing // self.hop, 0, end)] if spacing else 0.0)
        flat = np.zeros(last - first, dtype=bool)
        flat[steps - first] = total <= QUIET_RATIO * float(total.min()) + 1e-9
        lowest = int(steps[np.argmin(total)]) - first
        a, b = next((a, b) for a, b in zip(*_edges(flat)) if a <= lowest < b)
        return int(first + (a + b - 1) // 2) * self.hop


def _edges(flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _at_change_points(kind: str, found: Candidates, hop: int, n: int, m: int, quiet: _Quiet) -> Seams | None:
    """An interior edit's seams at the quietest of the boundaries the audio supports
    (boundaries.py), the regenerated side following by the re-fitted offsets."""
    before, after = found.offset_before * hop, found.offset_after * hop
    if kind == "insert":
        p = quiet.pick(found.start, found.lo, hop)
        if p is None:
            return None
        r = _clip(p + before, m)
        return Seams("insert", p, p, r, _clip(r + after - before, m))
    if kind == "delete":
        length = before - after
        p = quiet.pick(found.start, found.lo, hop, length)
        if p is None:
            return None
        p = _clip(p, n - length)
        return Seams("delete", p, p + length, _clip(p + before, m), _clip(p + before, m))
    a, b = quiet.pick(found.start, found.lo, hop), quiet.pick(found.end, found.lo, hop)
    if a is None or b is None or b <= a:
        return None
    if b - a < POINT_SIDE_FRAMES * hop and after > before:  # nothing of the source goes: an insertion
        return _at_change_points("insert", found, hop, n, m, quiet)
    if (b + after) - (a + before) < POINT_SIDE_FRAMES * hop and before > after:  # nothing comes in: a deletion
        return _at_change_points("delete", found, hop, n, m, quiet)
    return Seams("replace", a, _clip(b, n), _clip(a + before, m), _clip(b + after, m))


def _seams(edit: FrameEdit, hop: int, n: int, m: int, quiet: _Quiet, found: Candidates | None = None) -> Seams:
    """Frame boundaries -> samples (frame f's boundary is at (f - 0.5) hops), each seam at a quiet
    point of the source near it (the regenerated side follows by the path's offsets).

    Where a region's edges resemble their context (a pause, a shared sound) the edit's place is
    ambiguous, but the unedited sides stay aligned by the offsets, so: a replacement's seams may
    move up to OUTWARD_SECONDS into the unedited side and INWARD_SECONDS into the edit; a deletion
    (of exactly offset_before - offset_after frames) or an insertion (at one source point) sits
    anywhere its region allows, widened by INWARD_SECONDS on each side."""
    def at(frame: float, limit: int) -> int:
        return int(np.clip(round((frame - 0.5) * hop), 0, limit))

    before, after = edit.offset_before * hop, edit.offset_after * hop
    starts = edit.src_start == 0 or edit.reg_start == 0  # the edit begins the recording
    s0 = 0 if starts else at(edit.src_start, n)
    r0 = 0 if starts else _clip(s0 + before, m)
    s1 = at(edit.src_end, n)
    if edit.src_end > n // hop or edit.reg_end > m // hop:  # the edit ends the recording
        return _replace(quiet, s0, n, r0, m, n, m)
    if not starts and found is not None:
        placed = _at_change_points(edit.kind, found, hop, n, m, quiet)
        if placed is not None:
            return placed
    if edit.kind == "delete":
        length = max(before - after, 1)
        lo, hi = sorted((s0, s1 - length))
        p = _clip(_place(quiet, lambda x: [x, x + length], lo, hi), n - length)
        return Seams("delete", p, p + length, _clip(p + before, m), _clip(p + before, m))
    if edit.kind == "insert":
        length = max(after - before, 1)
        p = _clip(_place(quiet, lambda x: [x], min(s0, s1), max(s0, s1)), n)
        r = _clip(p + before, m - length)
        return Seams("insert", p, p, r, r + length)
    return _replace(quiet, s0, s1, r0, s1 + after, n, m)


def _replace(quiet: _Quiet, s0: int, s1: int, r0: int, r1: int, n: int, m: int) -> Seams:
    left = quiet.shift([s0], quiet.outward, quiet.inward) if 0 < s0 else 0
    s0, r0 = _clip(s0 + left, n), _clip(r0 + left, m)
    if s1 >= n or r1 >= m:
        return Seams("replace", s0, n, r0, m)
    right = quiet.shift([s1], quiet.inward, quiet.outward)
    s1, r1 = _clip(s1 + right, n), _clip(r1 + right, m)
    return Seams("replace", s0, max(s1, s0), r0, max(r1, r0))


def _place(quiet: _Quiet, points, lo: int, hi: int) -> int:
    """The quietest position in [lo, hi] widened by INWARD_SECONDS, for the points ``points(x)``."""
    centre = (lo + hi) // 2
    half = (hi - lo) // 2 + quiet.inward * quiet.hop
    steps = half // quiet.hop
    return centre + quiet.shift(points(centre), steps, steps)


def _clip(x: int, limit: int) -> int:
    return int(min(max(x, 0), limit))


def _tail_edit(edit: FrameEdit, n_frames: int, m_frames: int) -> FrameEdit:
    """An edit that reaches the last frame of either side runs to both ends."""
    if edit.src_end >= n_frames - 1 or edit.reg_end >= m_frames - 1:
        return FrameEdit(edit.kind, edit.src_start, n_frames + 1, edit.reg_start, m_frames + 1)
    return edit


def splice(source: np.ndarray, sample_rate: int, regenerated: np.ndarray, regenerated_rate: int, *,
           bounded: bool = True) -> Spliced:
    """Splice ``regenerated`` (float [frames, channels], any rate) into ``source`` ([frames,
    channels], native type as io.audio.read_native gives it). ``bounded``: the output format
    cannot hold samples beyond full scale (integer / lossy), so regenerated pieces are kept under it."""
    if source.shape[1] != regenerated.shape[1]:
        raise AudioError(f"the regenerated audio has {regenerated.shape[1]} channel(s) but the source has "
                         f"{source.shape[1]}; give a regenerated file with the source's channel count")
    for name, audio, rate in (("source", source, sample_rate), ("regenerated", regenerated, regenerated_rate)):
        if audio.shape[0] < MIN_SECONDS * rate:
            raise AudioError(f"the {name} audio is {audio.shape[0] / rate:.3f} s long; splice needs at least "
                             f"{MIN_SECONDS} s")
    regen = resample(np.asarray(regenerated, dtype=np.float64), regenerated_rate, sample_rate)
    n, m = source.shape[0], regen.shape[0]
    src_f = to_float(source)
    src_mono, reg_mono = src_f.mean(axis=1), regen.mean(axis=1)
    fmax = min(FMAX_HZ, 0.47 * min(sample_rate, regenerated_rate))
    fs, fr = frame_features(src_mono, sample_rate, fmax), frame_features(reg_mono, sample_rate, fmax)
    alignment = align(fs, fr)
    if alignment.is_global:
        return _whole(regen, source, sample_rate, alignment.dissimilar_fraction, alignment.reason, bounded)
    quiet = _Quiet(src_mono, sample_rate)
    seams: list[Seams] = []
    for edit in alignment.edits:
        s = _seams(_tail_edit(edit, fs.frames, fr.frames), fs.hop, n, m, quiet, candidates(edit, fs, fr))
        if seams and (s.src_start <= seams[-1].src_end or s.reg_start <= seams[-1].reg_end):  # seams met: one edit
            prev = seams.pop()
            s = Seams("replace", prev.src_start, max(s.src_end, prev.src_end), prev.reg_start, max(s.reg_end, prev.reg_end))
        seams.append(s)
    shortest = round(MIN_EDIT_SECONDS * sample_rate)
    seams = [s for s in seams if max(s.src_end - s.src_start, s.reg_end - s.reg_start) >= shortest]
    edited = sum(s.src_end - s.src_start for s in seams)
    if len(seams) > 2 + n / sample_rate / SECONDS_PER_EDIT:
        return _whole(regen, source, sample_rate, alignment.dissimilar_fraction,
                      f"{len(seams)} separate changes in {n / sample_rate:.1f} s", bounded)
    if edited > MAX_EDITED_FRACTION * n:
        return _whole(regen, source, sample_rate, alignment.dissimilar_fraction,
                      f"the changes cover {100 * edited / n:.0f} % of the recording", bounded)
    joined = join(source, regen, sample_rate, seams, bounded=bounded)
    edits = tuple(SpliceEdit(s.kind, s.src_start / sample_rate, s.src_end / sample_rate,
                             s.reg_start / sample_rate, s.reg_end / sample_rate) for s in seams)
    return Spliced(joined.audio, sample_rate, False, edits, joined.pieces, joined.kept / n,
                   alignment.dissimilar_fraction, joined.notes)


def _whole(regen: np.ndarray, source: np.ndarray, sample_rate: int, dissimilar: float, reason: str,
           bounded: bool) -> Spliced:
    """A global change: the regenerated audio whole, at the source rate and in its sample type."""
    notes: list[str] = [f"global change ({reason}): the regenerated audio is written whole"]
    peak = float(np.abs(regen).max()) if regen.size else 0.0
    if bounded and peak > 1.0:
        notes.append(f"the regenerated audio peaks at {20 * np.log10(peak):+.1f} dBFS; scaled by "
                     f"{20 * np.log10(CEILING / peak):.1f} dB to stay under full scale")
        regen = regen * (CEILING / peak)
    audio = from_float(regen, source.dtype)
    piece = Piece("regenerated", 0, audio.shape[0], 0)
    return Spliced(audio, sample_rate, True, (), (piece,), 0.0, dissimilar, tuple(notes))

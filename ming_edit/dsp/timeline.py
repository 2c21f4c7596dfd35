"""Time edits: cut or keep a range, pad with silence, trim the silence at the ends, shorten long
pauses, fade in / out. Exact to the sample; untouched samples are copied bit for bit.

Every edit but the fades becomes a Timeline: pieces of the source (or silence) laid end to end,
where a join inside the audio is an equal-power crossfade of SEAM_SECONDS centred on the cut
(the removed span keeps its exact length: the overlap takes half from each side). A Timeline
renders any output range from a ``read(start, stop)`` of its source, so the same code serves
the in-memory engine and the streamed pipeline (pipelines/stream_edit.py). Silence is found by
20 ms levels (dsp/levels.py: thresholds between the recording's own noise floor and speech
level, with hysteresis and a hangover), so room tone and background noise count as silence and
word endings are kept; speech is never cut.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ming_edit.dsp.levels import LevelMeter, frame_energy_db, mask_of_levels
from ming_edit.errors import AudioError

SEAM_SECONDS = 0.010  # crossfade at a join inside the audio
TRIM_MARGIN_SECONDS = 0.20  # silence kept before the first and after the last speech
DEFAULT_PAUSE_SECONDS = (1.0, 0.5)  # "remove the long pauses": longer than 1 s -> 0.5 s
DEFAULT_FADE_SECONDS = 1.0
Reader = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class Piece:
    out_start: int
    length: int
    src_start: int | None  # None: silence
    ramp_in: int = 0  # equal-power fade over the first samples (the crossfade with the piece before)
    ramp_out: int = 0


@dataclass(frozen=True)
class Timeline:
    pieces: tuple[Piece, ...]
    frames: int  # output length

    def render(self, read: Reader, start: int, stop: int, channels: int) -> np.ndarray:
        """Output frames [start, stop) from ``read`` (source frames [a, b) -> [b - a, channels])."""
        out = np.zeros((stop - start, channels))
        first = max(0, bisect.bisect_right([p.out_start for p in self.pieces], start) - 2)
        for p in self.pieces[first:]:
            if p.out_start >= stop:
                break
            lo, hi = max(start, p.out_start), min(stop, p.out_start + p.length)
            if hi <= lo or p.src_start is None:
                continue
            segment = read(p.src_start + lo - p.out_start, p.src_start + hi - p.out_start)
            envelope = _envelope(p, lo - p.out_start, hi - p.out_start)
            if envelope is None and not out[lo - start : hi - start].any():
                out[lo - start : hi - start] = segment  # a plain copy: bit for bit
            else:
                out[lo - start : hi - start] += segment if envelope is None else segment * envelope[:, None]
        return out


def _envelope(p: Piece, a: int, b: int) -> np.ndarray | None:
    """Gain of piece samples [a, b), None where it is 1 throughout."""
    if (p.ramp_in == 0 or a >= p.ramp_in) and (p.ramp_out == 0 or b <= p.length - p.ramp_out):
        return None
    idx = np.arange(a, b, dtype=np.float64)
    gain = np.ones(b - a)
    if p.ramp_in:
        rising = idx < p.ramp_in
        gain[rising] = np.sin(0.5 * np.pi * (idx[rising] + 0.5) / p.ramp_in)
    if p.ramp_out:
        tail = idx - (p.length - p.ramp_out)
        falling = tail >= 0
        gain[falling] *= np.cos(0.5 * np.pi * (tail[falling] + 0.5) / p.ramp_out)
    return gain


def _joined(spans: list[tuple[int, int]], frames: int, seam: int) -> Timeline:
    """The source ranges ``spans`` (in order, apart) end to end. Each join is an equal-power
    crossfade of up to ``seam`` samples: half taken from after one range, half from before the
    next, so the output is exactly the ranges' total length."""
    halves = [max(0, min(seam // 2, frames - b0, a1, (b0 - a0) // 2, (b1 - a1) // 2))
              for (a0, b0), (a1, b1) in zip(spans, spans[1:])]
    pieces, out = [], 0
    for index, (a, b) in enumerate(spans):
        h_in = halves[index - 1] if index else 0
        h_out = halves[index] if index < len(halves) else 0
        pieces.append(Piece(out - h_in, (b + h_out) - (a - h_in), a - h_in, ramp_in=2 * h_in, ramp_out=2 * h_out))
        out += b - a
    return Timeline(tuple(pieces), out)


def seconds_to_frames(seconds: float, rate: int) -> int:
    return int(round(seconds * rate))


def _describe(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60.0)
    return f"{int(minutes)}:{secs:06.3f}" if minutes else f"{secs:.3f} s"


def resolve_range(args: dict, frames: int, rate: int, what: str) -> tuple[int, int]:
    """Sample range [a, b) of a cut / keep: {start, end} seconds, end None = to the end, or
    {first} / {last} seconds; refused with the file's duration when it is outside the recording."""
    duration = frames / rate
    if "first" in args:
        start, end = 0.0, float(args["first"])
    elif "last" in args:
        start, end = duration - float(args["last"]), duration
    else:
        start = float(args.get("start", 0.0))
        end = duration if args.get("end") is None else float(args["end"])
    where = f"the recording lasts {_describe(duration)}"
    if start < 0 or start >= duration - 0.5 / rate:
        raise AudioError(f"cannot {what} from {_describe(max(start, 0.0))}: {where}")
    if end > duration + 0.5 / rate:
        raise AudioError(f"cannot {what} up to {_describe(end)}: {where}")
    if end <= start:
        raise AudioError(f"cannot {what} from {_describe(start)} to {_describe(end)}: the end is not after the start")
    return seconds_to_frames(start, rate), min(frames, seconds_to_frames(end, rate))


def cut(frames: int, rate: int, args: dict) -> tuple[Timeline, str]:
    a, b = resolve_range(args, frames, rate, "cut")
    if a == 0 and b == frames:
        raise AudioError("cutting the whole recording would leave nothing")
    spans = [s for s in ((0, a), (b, frames)) if s[1] > s[0]]
    timeline = _joined(spans, frames, seconds_to_frames(SEAM_SECONDS, rate))
    return timeline, f"cut {a / rate:.3f}-{b / rate:.3f} s ({(b - a) / rate:.3f} s removed)"


def keep(frames: int, rate: int, args: dict) -> tuple[Timeline, str]:
    a, b = resolve_range(args, frames, rate, "keep")
    return Timeline((Piece(0, b - a, a),), b - a), f"kept {a / rate:.3f}-{b / rate:.3f} s ({(b - a) / rate:.3f} s)"


def pad(frames: int, rate: int, args: dict) -> tuple[Timeline, str]:
    before, after = seconds_to_frames(float(args.get("start", 0.0)), rate), seconds_to_frames(float(args.get("end", 0.0)), rate)
    pieces = [Piece(0, before, None)] if before else []
    pieces.append(Piece(before, frames, 0))
    if after:
        pieces.append(Piece(before + frames, after, None))
    parts = [f"{before / rate:g} s before" if before else "", f"{after / rate:g} s after" if after else ""]
    return Timeline(tuple(pieces), before + frames + after), "silence added: " + ", ".join(p for p in parts if p)


def trim(frames: int, rate: int, args: dict, levels: np.ndarray, hop: int) -> tuple[Timeline, str]:
    """The silence before the first and after the last speech, down to TRIM_MARGIN_SECONDS."""
    speech = np.flatnonzero(mask_of_levels(levels))
    if len(speech) == 0:
        raise AudioError("no speech found: trimming the silence would leave nothing")
    margin = seconds_to_frames(min(float(args.get("margin", TRIM_MARGIN_SECONDS)), 0.25), rate)
    a = max(0, int(speech[0]) * hop - margin) if args.get("start", True) else 0
    b = min(frames, (int(speech[-1]) + 1) * hop + margin) if args.get("end", True) else frames
    note = f"trimmed {a / rate:.2f} s of silence at the start and {(frames - b) / rate:.2f} s at the end"
    return Timeline((Piece(0, b - a, a),), b - a), note


def shorten_pauses(frames: int, rate: int, args: dict, levels: np.ndarray, hop: int) -> tuple[Timeline, str]:
    """Every pause between speech longer than ``longer_than`` seconds made ``to`` seconds long:
    its middle is removed, its two ends joined by a crossfade inside the pause."""
    longer, to = float(args.get("longer_than", DEFAULT_PAUSE_SECONDS[0])), float(args.get("to", DEFAULT_PAUSE_SECONDS[1]))
    speech = mask_of_levels(levels)
    edges = np.flatnonzero(np.diff(np.r_[1, speech.astype(np.int8), 1]))
    seam = seconds_to_frames(SEAM_SECONDS, rate)
    keep_each = seconds_to_frames(to, rate) // 2 + seam // 2
    spans, position, count, removed = [], 0, 0, 0
    for first, last in zip(edges[::2], edges[1::2]):  # silent runs [first, last) in frames
        if first == 0 or last >= len(speech):
            continue  # leading / trailing silence is "trim"'s, not a pause
        a, b = int(first) * hop, min(frames, int(last) * hop)
        if (b - a) / rate <= longer:
            continue
        spans.append((position, a + keep_each))
        position = b - keep_each
        count += 1
        removed += (b - a) - (2 * keep_each - seam)
    spans.append((position, frames))
    if not count:
        return Timeline((Piece(0, frames, 0),), frames), f"no pause longer than {longer:g} s found: nothing changed"
    timeline = _joined(spans, frames, seam)
    return timeline, f"{count} pause(s) longer than {longer:g} s shortened to {to:g} s ({removed / rate:.2f} s removed)"


def fade_gain(frames: int, rate: int, args: dict) -> Callable[[int, int], np.ndarray]:
    """gain(start, stop) over output positions: a raised-cosine fade in over ``in`` seconds and
    out over ``out`` seconds (exact lengths)."""
    fade_in = seconds_to_frames(float(args.get("in", 0.0)), rate)
    fade_out = seconds_to_frames(float(args.get("out", 0.0)), rate)
    if fade_in + fade_out > frames:
        raise AudioError(f"the fades ({(fade_in + fade_out) / rate:g} s) are longer than the recording "
                         f"({frames / rate:.3f} s)")

    def gain(start: int, stop: int) -> np.ndarray:
        idx = np.arange(start, stop, dtype=np.float64)
        out = np.ones(stop - start)
        if fade_in:
            rising = idx < fade_in
            out[rising] = 0.5 - 0.5 * np.cos(np.pi * (idx[rising] + 0.5) / fade_in)
        if fade_out:
            tail = idx - (frames - fade_out)
            falling = tail >= 0
            out[falling] *= 0.5 + 0.5 * np.cos(np.pi * (tail[falling] + 0.5) / fade_out)
        return out

    return gain


def fade_note(args: dict) -> str:
    parts = [f"in over {float(args['in']):g} s" if args.get("in") else "", f"out over {float(args['out']):g} s" if args.get("out") else ""]
    return "fade " + " and ".join(p for p in parts if p)


TIMELINE_OPS = ("cut", "keep", "pad", "trim", "pauses")
NEEDS_LEVELS = ("trim", "pauses")


def build(op: str, args: dict, frames: int, rate: int, levels: np.ndarray | None = None,
          hop: int = 0) -> tuple[Timeline, str]:
    if op == "cut":
        return cut(frames, rate, args)
    if op == "keep":
        return keep(frames, rate, args)
    if op == "pad":
        return pad(frames, rate, args)
    if op == "trim":
        return trim(frames, rate, args, levels, hop)
    return shorten_pauses(frames, rate, args, levels, hop)


def level_hop(rate: int) -> int:
    """Samples per 20 ms level frame (as dsp/levels.frame_energy_db counts them)."""
    return LevelMeter(rate).hop


def frame_levels(audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """20 ms levels (dB) of the channel mean, and the frame length."""
    return frame_energy_db(audio.mean(axis=1), rate)

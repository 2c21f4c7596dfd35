"""From edits in samples (Seams) to the output: the regenerated spans' level matched to their
neighbourhood, equal-power crossfades at the seams, and the pieces that tile the output. Source
pieces are slices of the source array itself (its own samples, in its own type); only crossfades
and regenerated pieces are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.io.audio import from_float, to_float

CROSSFADE_SECONDS = 0.015  # equal-power, centred on each seam (the issue allows <= 30 ms)
CONTEXT_SECONDS = 1.0  # the neighbourhood whose level a regenerated span is matched to
MAX_GAIN_DB = 12.0
CEILING = 10 ** (-0.1 / 20)  # regenerated pieces in integer outputs stay under -0.1 dBFS


@dataclass(frozen=True)
class Seams:
    """One edit in samples: source [src_start, src_end) is replaced by regenerated
    [reg_start, reg_end) (at the source rate)."""

    kind: str
    src_start: int
    src_end: int
    reg_start: int
    reg_end: int


@dataclass(frozen=True)
class Piece:
    """``length`` output samples from ``out_start``: "source" / "regenerated" samples from
    ``start`` in that signal, or a "crossfade" whose ``start`` is where its source side begins."""

    kind: str  # "source" | "regenerated" | "crossfade"
    out_start: int
    length: int
    start: int

    def to_json(self) -> dict[str, object]:
        return {"from": self.kind, "out_start_sample": self.out_start, "length": self.length,
                "start_sample": self.start}


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0


def neighbourhood_gain(src: np.ndarray, reg: np.ndarray, seams: Seams, sample_rate: int) -> float:
    """Source level / regenerated level over the second before and after the edit (the same words
    in both), as a factor within +-MAX_GAIN_DB; the whole signals' ratio when that is silent."""
    ctx = round(CONTEXT_SECONDS * sample_rate)
    s = np.concatenate([src[max(0, seams.src_start - ctx):seams.src_start], src[seams.src_end:seams.src_end + ctx]])
    r = np.concatenate([reg[max(0, seams.reg_start - ctx):seams.reg_start], reg[seams.reg_end:seams.reg_end + ctx]])
    a, b = rms(s), rms(r)
    if a <= 1e-6 or b <= 1e-6:
        a, b = rms(src), rms(reg)
    gain = a / b if b > 0 else 1.0
    limit = 10 ** (MAX_GAIN_DB / 20)
    return float(np.clip(gain, 1 / limit, limit))


@dataclass(frozen=True)
class Joined:
    audio: np.ndarray  # [frames, channels], the source's type
    pieces: tuple[Piece, ...]
    kept: int  # source samples copied bit for bit
    notes: tuple[str, ...]


def join(source: np.ndarray, regen: np.ndarray, sample_rate: int, edits: list[Seams], *, bounded: bool) -> Joined:
    """The source with each edit's span replaced (``regen``: float64 at the source rate, same
    channels). Segments: source up to the first seam, regenerated spans (gain-matched), source
    between and after; each seam an equal-power crossfade of up to CROSSFADE_SECONDS."""
    n = source.shape[0]
    src_f = to_float(source)
    src_mono, reg_mono = src_f.mean(axis=1), regen.mean(axis=1)
    segments: list[tuple[str, int, int, float]] = []  # (signal, start, end, gain)
    pos = 0
    notes: list[str] = []
    for e in edits:
        segments.append(("source", pos, e.src_start, 1.0))
        if e.reg_end > e.reg_start:
            gain = neighbourhood_gain(src_mono, reg_mono, e, sample_rate)
            peak = float(np.abs(regen[e.reg_start:e.reg_end]).max()) * gain
            if bounded and peak > CEILING:
                notes.append(f"the regenerated span at {e.src_start / sample_rate:.2f} s was lowered by "
                             f"{20 * np.log10(peak / CEILING):.1f} dB to stay under full scale")
                gain *= CEILING / peak
            segments.append(("regenerated", e.reg_start, e.reg_end, gain))
        pos = e.src_end
    segments.append(("source", pos, n, 1.0))
    segments = [s for s in segments if s[2] > s[1]]
    signals = {"source": (src_f, n), "regenerated": (regen, regen.shape[0])}
    half = round(CROSSFADE_SECONDS * sample_rate / 2)
    # the half-width each seam gets: what both sides can give (each segment keeps >= 1 sample)
    halves = []
    for left, right in zip(segments, segments[1:]):
        room = [half, right[1], signals[left[0]][1] - left[2],
                (left[2] - left[1] - 1) // 2, (right[2] - right[1] - 1) // 2]
        halves.append(max(0, min(room)))
    out = np.empty((sum(s[2] - s[1] for s in segments), source.shape[1]), dtype=source.dtype)
    pieces: list[Piece] = []
    at = kept = 0
    for k, (name, start, end, gain) in enumerate(segments):
        cut_in = halves[k - 1] if k > 0 else 0
        cut_out = halves[k] if k < len(halves) else 0
        body_start, body_end = start + cut_in, end - cut_out
        if body_end > body_start:
            length = body_end - body_start
            if name == "source":
                out[at:at + length] = source[body_start:body_end]
                kept += length
            else:
                out[at:at + length] = from_float(regen[body_start:body_end] * gain, source.dtype)
            pieces.append(Piece(name, at, length, body_start))
            at += length
        if cut_out:
            nxt = segments[k + 1]
            a_sig, b_sig = signals[name][0], signals[nxt[0]][0]
            width = 2 * cut_out
            a = a_sig[end - cut_out:end + cut_out] * gain
            b = b_sig[nxt[1] - cut_out:nxt[1] + cut_out] * nxt[3]
            t = (np.arange(width) + 0.5) / width
            mixed = a * np.cos(0.5 * np.pi * t)[:, None] + b * np.sin(0.5 * np.pi * t)[:, None]
            out[at:at + width] = from_float(mixed, source.dtype)
            source_side = end - cut_out if name == "source" else nxt[1] - cut_out
            pieces.append(Piece("crossfade", at, width, source_side))
            at += width
    return Joined(out[:at], tuple(pieces), kept, tuple(notes))

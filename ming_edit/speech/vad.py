"""Where the speech is: an energy VAD with hysteresis, and long recordings split at pauses.

numpy only: used before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ming_edit.dsp.levels import VAD_FRAME_SECONDS, LevelMeter, frame_energy_db, mask_of_levels

__all__ = ["LevelMeter", "Span", "frame_energy_db", "mask_of_levels", "speech_mask", "split_at_pauses", "split_levels"]

# The speech LLM was trained on utterances well under half a minute; longer inputs are split.
MAX_CHUNK_SECONDS = 30.0
MIN_CHUNK_SECONDS = 5.0  # do not cut a chunk shorter than this when a pause allows a longer one
MIN_PAUSE_SECONDS = 0.15  # shorter dips are between syllables, not between phrases


@dataclass(frozen=True)
class Span:
    """A half-open sample range [start, end)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


def speech_mask(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Per-frame speech/non-speech decision with hysteresis (see ``mask_of_levels``)."""
    levels, hop = frame_energy_db(audio, sample_rate)
    return mask_of_levels(levels), hop


def speech_spans(audio: np.ndarray, sample_rate: int) -> list[Span]:
    """Sample ranges of speech, from the frame mask."""
    mask, hop = speech_mask(audio, sample_rate)
    spans: list[Span] = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        spans.append(Span(int(start) * hop, min(int(end) * hop, len(audio))))
    return spans


def split_at_pauses(
    audio: np.ndarray,
    sample_rate: int,
    max_seconds: float = MAX_CHUNK_SECONDS,
    min_seconds: float = MIN_CHUNK_SECONDS,
) -> list[Span]:
    """Cut a recording into chunks no longer than ``max_seconds``, at the longest pause available.

    Recordings that already fit are returned whole (one span), so short inputs reach the model
    unchanged. Within each window the cut goes in the middle of the longest pause that leaves the
    chunk at least ``min_seconds`` long; with no pause at all, at the quietest frame.
    """
    if len(audio) <= int(max_seconds * sample_rate):
        return [Span(0, len(audio))]
    levels, hop = frame_energy_db(audio, sample_rate)
    return split_levels(levels, hop, len(audio), sample_rate, max_seconds, min_seconds)


def split_levels(levels: np.ndarray, hop: int, total: int, sample_rate: int,
                 max_seconds: float = MAX_CHUNK_SECONDS, min_seconds: float = MIN_CHUNK_SECONDS) -> list[Span]:
    """``split_at_pauses`` from the frame levels alone (``total`` samples, ``hop`` per frame)."""
    max_len = int(max_seconds * sample_rate)
    if total <= max_len:
        return [Span(0, total)]
    mask = mask_of_levels(levels)
    min_pause = max(1, int(round(MIN_PAUSE_SECONDS / VAD_FRAME_SECONDS)))
    pauses: list[tuple[int, int]] = []  # (first frame, frame count) of each silent run
    edges = np.flatnonzero(np.diff(np.concatenate([[1], mask.astype(np.int8), [1]])))
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start >= min_pause:
            pauses.append((int(start), int(end - start)))

    chunks: list[Span] = []
    start = 0
    while total - start > max_len:
        lo, hi = start + int(min_seconds * sample_rate), start + max_len
        best: tuple[int, int] | None = None  # (length in frames, cut sample)
        for first, count in pauses:
            cut = (first + count // 2) * hop
            if lo <= cut <= hi and (best is None or count >= best[0]):
                best = (count, cut)
        if best is None:  # no pause: cut at the quietest frame in the second half of the window
            f_lo, f_hi = (start + max_len // 2) // hop, hi // hop
            cut = (f_lo + int(np.argmin(levels[f_lo:f_hi]))) * hop if f_hi > f_lo else hi
        else:
            cut = best[1]
        cut = min(max(cut, start + hop), hi)
        chunks.append(Span(start, cut))
        start = cut
    chunks.append(Span(start, total))
    return chunks


def speech_extent(audio: np.ndarray, sample_rate: int, span: Span) -> list[Span]:
    """Speech regions inside ``span``, in absolute samples (the whole span if none is detected)."""
    inner = speech_spans(audio[span.start : span.end], sample_rate)
    if not inner:
        return [span]
    return [Span(span.start + s.start, span.start + s.end) for s in inner]


def is_silent(audio: np.ndarray, sample_rate: int, threshold_db: float = -50.0) -> bool:
    """True when the loudest 20 ms stretch stays under ``threshold_db`` (dBFS RMS)."""
    if audio.size == 0:
        return True
    levels, _ = frame_energy_db(audio, sample_rate)
    return float(levels.max()) < threshold_db

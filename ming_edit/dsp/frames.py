"""Random access to a signal's frames, so measurements need not hold the whole signal.

A ``FrameReader`` is an array in memory (``ArrayReader``) or anything that can decode a range of
frames again (a file, a scratch file, a chain of streamed steps). Reads outside the signal
return zeros, which is what the filters and the true-peak meter assume there.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ming_edit.errors import AudioError

CLUSTER_FRAMES = 1 << 18  # the longest span one read serves
MERGE_GAP = 1 << 13  # windows closer than this share a read (a read costs more than decoding 8k frames)


class FrameReader(Protocol):
    frames: int
    channels: int

    def read(self, start: int, stop: int) -> np.ndarray:
        """float64 [stop - start, channels]; zeros outside [0, frames)."""
        ...


def zero_padded(read_inside: Callable[[int, int], np.ndarray], frames: int, channels: int,
                start: int, stop: int) -> np.ndarray:
    """``read_inside(lo, hi)`` (0 <= lo <= hi <= frames) widened with zeros to [start, stop)."""
    lo, hi = max(0, start), min(frames, stop)
    if lo == start and hi == stop:
        return read_inside(lo, hi)
    out = np.zeros((stop - start, channels))
    if hi > lo:
        out[lo - start : hi - start] = read_inside(lo, hi)
    return out


class ArrayReader:
    """A float array [frames, channels] in memory; reads inside it are views."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio
        self.frames, self.channels = audio.shape

    def read(self, start: int, stop: int) -> np.ndarray:
        return zero_padded(lambda lo, hi: self.audio[lo:hi], self.frames, self.channels, start, stop)


def as_block(block: np.ndarray, channels: int, what: str = "a streamed step") -> np.ndarray:
    """``block`` as float64 [frames, channels]; AudioError naming ``what`` for any other shape."""
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[1] != channels:
        raise AudioError(f"{what}: expected blocks [frames, {channels}], got shape {block.shape}")
    return block.astype(np.float64, copy=False)


def as_reader(audio: np.ndarray | FrameReader) -> FrameReader:
    return ArrayReader(audio) if isinstance(audio, np.ndarray) else audio


def windows(reader: FrameReader, starts: np.ndarray, width: int) -> np.ndarray:
    """float32 [channels, len(starts), width]: the frames from each start (zeros outside the
    signal). Nearby windows share one read, so scattered blocks of a file cost few seeks."""
    out = np.zeros((reader.channels, len(starts), width), np.float32)
    if len(starts) == 0:
        return out
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    # a new read where the next window starts far away, or the span grows long
    cut = np.flatnonzero(np.diff(sorted_starts) > max(2 * width, MERGE_GAP)) + 1
    begin = 0
    for end in [*cut.tolist(), len(order)]:
        while begin < end:
            span_end = int(np.searchsorted(sorted_starts[begin:end], sorted_starts[begin] + CLUSTER_FRAMES)) + begin
            piece = np.arange(begin, max(span_end, begin + 1))
            lo, hi = int(sorted_starts[piece[0]]), int(sorted_starts[piece[-1]]) + width
            data = reader.read(lo, hi)
            offsets = sorted_starts[piece] - lo
            for ch in range(reader.channels):
                out[ch, order[piece]] = sliding_window_view(data[:, ch], width)[offsets]
            begin = piece[-1] + 1
    return out

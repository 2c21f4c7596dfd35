"""The sources a streamed edit reads (pipelines/stream_edit.py): the input file, raw float32
scratch, frames computed on demand from a FrameReader, steps computed in order, and the Chain of
pointwise steps over any of them. Each yields float64 [frames, channels] blocks; ``frames`` is the
length once known.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Callable, Iterator

import numpy as np

from ming_edit.dsp import timeline as timeline_edits
from ming_edit.dsp.engine import gentle_mix
from ming_edit.dsp.frames import FrameReader, zero_padded
from ming_edit.errors import AudioError
from ming_edit.io import audio as audio_in

BLOCK = audio_in.BLOCK_FRAMES
Step = Callable[[np.ndarray], np.ndarray]


class Input:
    """The input file. Its length is the decoded one, known once a whole read has finished.
    Short ranges (the true-peak meter's scattered blocks) share one open file."""

    def __init__(self, info: audio_in.AudioInfo, stack: ExitStack) -> None:
        self.info, self.frames, self.stack = info, None, stack
        self.ranges: audio_in.RangeReader | None = None

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        if stop is not None and stop - start <= BLOCK:
            if self.ranges is None:
                self.ranges = self.stack.enter_context(audio_in.RangeReader(self.info))
            yield self.ranges.read(start, stop)
            return
        count = 0
        for block in audio_in.read_blocks(self.info, start, stop):  # finite; whole reads checked complete
            count += block.shape[0]
            yield block
        if start == 0 and stop is None:
            self.frames = count


class Scratch:
    """Raw float32 frames a sox step wrote, or silence (``path`` None)."""

    def __init__(self, path: os.PathLike | None, frames: int, channels: int, release: Callable[[], None]) -> None:
        self.path, self.frames, self.channels, self.release = path, frames, channels, release

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = self.frames if stop is None else stop
        if self.path is None:
            for pos in range(start, stop, BLOCK):
                yield np.zeros((min(BLOCK, stop - pos), self.channels))
            return
        with open(self.path, "rb") as f:
            f.seek(start * self.channels * 4)
            for pos in range(start, stop, BLOCK):
                raw = np.empty((min(BLOCK, stop - pos), self.channels), dtype="<f4")
                if f.readinto(raw) != raw.nbytes:
                    raise AudioError(f"the scratch file {self.path} was cut short while editing")
                yield raw.astype(np.float64)


class ChainReader:
    """A chain as a FrameReader (random access to its frames, zeros outside)."""

    def __init__(self, chain: Chain, frames: int) -> None:
        self.chain, self.frames, self.channels = chain, frames, chain.channels

    def read(self, start: int, stop: int) -> np.ndarray:
        def inside(lo: int, hi: int) -> np.ndarray:
            blocks = list(self.chain.blocks(lo, hi)) if hi > lo else []
            got = np.concatenate(blocks) if blocks else np.zeros((0, self.channels))
            if got.shape[0] != hi - lo:
                raise AudioError(f"the input changed while it was being edited (frames {lo}-{hi} could not be read)")
            return got
        return zero_padded(inside, self.frames, self.channels, start, stop)


class Computed:
    """Frames a FrameReader computes on demand (a loudness-normalised signal)."""

    def __init__(self, reader: FrameReader) -> None:
        self.reader, self.frames = reader, reader.frames

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = self.frames if stop is None else stop
        for pos in range(start, stop, BLOCK):
            yield self.reader.read(pos, min(stop, pos + BLOCK))


class InOrder:
    """A chain through a step computed in order each time it is read whole (a denoiser:
    ``process`` maps the chain's blocks to the step's blocks)."""

    def __init__(self, chain: Chain, process: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]],
                 frames: int | None = None) -> None:
        self.chain, self.process = chain, process
        self.frames = frames if frames is not None else chain.frames

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        if start != 0 or stop is not None:  # pipelines never ask: such a step before a ranged one is materialised
            raise AudioError("internal: a denoised stream is read in order only")
        count = 0
        for block in self.process(self.chain.blocks()):
            count += block.shape[0]
            yield block
        self.frames = count


def gently(wet: Iterator[np.ndarray], dry: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The classic denoiser's "gently" mix (dsp/engine.gentle_mix), over two streams in step."""
    buffer = np.zeros((0, 0))
    for block in wet:
        while buffer.shape[0] < block.shape[0]:
            more = next(dry)
            buffer = more if buffer.size == 0 else np.concatenate([buffer, more])
        yield gentle_mix(buffer[: block.shape[0]], block)
        buffer = buffer[block.shape[0] :]


class TimeEdited:
    """A chain through a time edit (dsp/timeline.py), as a FrameReader: a Timeline rendered from
    the chain's frames, or the chain times a fade's gain."""

    def __init__(self, reader: ChainReader, timeline: timeline_edits.Timeline | None = None,
                 gain: Callable[[int, int], np.ndarray] | None = None) -> None:
        self.reader, self.timeline, self.gain = reader, timeline, gain
        self.frames = timeline.frames if timeline is not None else reader.frames
        self.channels = reader.channels

    def _inside(self, start: int, stop: int) -> np.ndarray:
        if self.timeline is not None:
            return self.timeline.render(self.reader.read, start, stop, self.channels)
        return self.reader.read(start, stop) * self.gain(start, stop)[:, None]

    def read(self, start: int, stop: int) -> np.ndarray:
        return zero_padded(self._inside, self.frames, self.channels, start, stop)


class Chain:
    """A source and the pointwise steps applied to each of its blocks."""

    def __init__(self, source: Input | Scratch, rate: int, channels: int, steps: tuple[Step, ...] = ()) -> None:
        self.source, self.rate, self.channels, self.steps = source, rate, channels, steps

    @property
    def frames(self) -> int | None:
        return self.source.frames

    def then(self, step: Step, channels: int | None = None) -> Chain:
        return Chain(self.source, self.rate, channels or self.channels, self.steps + (step,))

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        for block in self.source.blocks(start, stop):
            for step in self.steps:
                block = step(block)
            yield block

"""STFT framing for the denoiser, over a signal that arrives in blocks.

Periodic Hann frames, 75 % overlap. The padded signal is frame - hop zeros, the signal, then
frame - hop zeros and up to hop - 1 more so its length is a multiple of hop: every signal sample
lies in exactly 4 frames, and frame t covers padded samples [t hop, t hop + frame).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ming_edit.dsp.frames import as_block
from ming_edit.errors import AudioError


class Stft:
    """Frame geometry and window: ~``frame_s`` frames (a multiple of 4 samples), hop a quarter."""

    def __init__(self, sample_rate: int, frame_s: float) -> None:
        self.sample_rate = sample_rate
        self.frame = max(16, 4 * round(frame_s * sample_rate / 4))
        self.hop = self.frame // 4
        self.bins = self.frame // 2 + 1
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.frame) / self.frame)
        # sum of analysis x synthesis windows over the 4 frames covering any sample (constant)
        self.ola_norm = float((self.window**2).reshape(4, self.hop).sum(axis=0).mean())

    def spectra(self, frames: np.ndarray) -> np.ndarray:
        """Spectra [count, bins] of frames [count, frame]."""
        return np.fft.rfft(frames * self.window, axis=1)


class FrameFeed:
    """The frames of a signal fed as blocks [frames, channels], read by frame index.

    ``feed`` blocks, ``end()`` after the last; frames below ``ready`` can be read with
    ``frames(first, count)`` until ``release`` lets their samples go. The samples live in one
    buffer that is compacted (released samples dropped) or grown when a block does not fit."""

    def __init__(self, stft: Stft, channels: int) -> None:
        self.stft, self.channels = stft, channels
        self.length = 0  # signal frames fed
        self.ended = False
        self._buf = np.zeros((channels, stft.frame - stft.hop))  # channel-major; starts with the pad
        self._fill = self._buf.shape[1]  # samples held in _buf
        self._origin = 0  # padded sample index of _buf[:, 0]
        self._released = 0  # padded samples below this are no longer read

    def feed(self, block: np.ndarray) -> np.ndarray:
        """Copy in ``block`` [frames, channels]; returns it as float64."""
        block = as_block(block, self.channels, "denoise")
        if self.ended:
            raise AudioError("denoise: a block came after the last one")
        self.length += block.shape[0]
        self._append(block.T)
        return block

    def end(self) -> None:
        """Append the trailing pad: every frame becomes ready."""
        pad = self.stft.frame - self.stft.hop
        self._append(np.zeros((self.channels, pad + (-(self.length + 2 * pad)) % self.stft.hop)))
        self.ended = True

    @property
    def ready(self) -> int:
        """Frames whose samples have all been fed."""
        return max(0, (self._origin + self._fill - self.stft.frame) // self.stft.hop + 1)

    def frames(self, first: int, count: int) -> np.ndarray:
        """Frames first..first+count-1 (not released, below ``ready``), [channels, count, frame]:
        a read-only view, valid until the next ``feed``."""
        hop, frame = self.stft.hop, self.stft.frame
        start = first * hop - self._origin
        span = self._buf[:, start : start + (count - 1) * hop + frame]
        return sliding_window_view(span, frame, axis=1)[:, ::hop]

    def release(self, first: int) -> None:
        """Frames below ``first`` will not be read again."""
        self._released = max(self._released, first * self.stft.hop)

    def _append(self, samples: np.ndarray) -> None:
        n = samples.shape[1]
        if self._fill + n > self._buf.shape[1]:
            drop = min(self._released - self._origin, self._fill)
            live = self._fill - drop
            if self._buf.shape[1] < 2 * live + n:  # grow; the free space left keeps compaction rare
                grown = np.empty((self.channels, 2 * live + n + (1 << 16)))
                grown[:, :live] = self._buf[:, drop : self._fill]
                self._buf = grown
            else:
                self._buf[:, :live] = self._buf[:, drop : self._fill]  # numpy copies overlaps safely
            self._origin += drop
            self._fill = live
        self._buf[:, self._fill : self._fill + n] = samples
        self._fill += n

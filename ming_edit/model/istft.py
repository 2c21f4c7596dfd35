"""ISTFT head of the MingTok-Audio decoder: hidden states -> waveform, whole or streamed.

Per frame the head predicts ``n_fft/2 + 1`` log-magnitudes and as many phases; the spectrum
``min(exp(logmag), 100) * (cos p + i sin p)`` goes through ``irfft(n=n_fft)``, is multiplied by a
periodic Hann window and overlap-added with the hop. "same" padding drops ``pad = (n_fft - hop)//2``
samples at each end, and every sample is divided by the overlap-added squared window.

Streaming keeps the unnormalised overlap-add sum and window envelope of the last ``n_fft - hop``
samples (they still receive contributions from frames not yet seen) and emits the rest, so the
concatenated stream equals the whole-utterance output up to float summation order.
All ISTFT arithmetic is float32 whatever the module dtype (there is no bfloat16 FFT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ming_edit.errors import MingEditError

MAX_MAGNITUDE = 100.0  # upstream clips exp(log-magnitude) here to keep the spectrum bounded


class WindowedOverlapAdd(nn.Module):
    """irfft frames -> windowed overlap-add. Holds the persistent ``window`` buffer of the checkpoint."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.pad = (n_fft - hop_length) // 2  # "same" padding at each end
        self.overlap = n_fft - hop_length  # samples a frame spills into the following frames
        self.register_buffer("window", torch.hann_window(n_fft), persistent=True)

    def windowed_frames(self, spec: torch.Tensor) -> torch.Tensor:
        """[B, n_fft/2+1, T] complex -> [B, n_fft, T] windowed time-domain frames."""
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=1, norm="backward")
        return frames * self.window.float()[None, :, None]

    def overlap_add(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, n_fft, T] -> (audio sum [B, (T-1)*hop + n_fft], envelope sum [(T-1)*hop + n_fft])."""
        num_frames = frames.shape[-1]
        length = (num_frames - 1) * self.hop_length + self.n_fft
        fold = dict(output_size=(1, length), kernel_size=(1, self.n_fft), stride=(1, self.hop_length))
        audio = F.fold(frames, **fold)[:, 0, 0, :]
        window_sq = self.window.float().square()[None, :, None].expand(1, self.n_fft, num_frames)
        envelope = F.fold(window_sq, **fold)[0, 0, 0, :]
        return audio, envelope

    def whole(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex spectrum [B, bins, T] -> waveform [B, (T-1)*hop + n_fft - 2*pad] ('same' padding)."""
        audio, envelope = self.overlap_add(self.windowed_frames(spec))
        end = audio.shape[-1] - self.pad
        return audio[:, self.pad:end] / envelope[self.pad:end]


class ISTFTHead(nn.Module):
    """Linear projection to log-magnitude/phase, then ISTFT. Keys: ``out.*``, ``istft.window``."""

    def __init__(self, dim: int, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = WindowedOverlapAdd(n_fft, hop_length)

    def spectrum(self, hidden: torch.Tensor) -> torch.Tensor:
        """[B, T, dim] -> complex64 spectrum [B, n_fft/2+1, T]."""
        pred = self.out(hidden).float().transpose(1, 2)
        log_mag, phase = pred.chunk(2, dim=1)
        magnitude = torch.exp(log_mag).clamp(max=MAX_MAGNITUDE)
        return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """[B, T, dim] -> float32 waveform [B, T*hop] (hop 320, n_fft 1280)."""
        return self.istft.whole(self.spectrum(hidden))

    def stream(self) -> "ISTFTStream":
        return ISTFTStream(self)


class ISTFTStream:
    """Chunked ISTFT whose concatenated output equals ``ISTFTHead.forward`` on the whole sequence.

    For chunks of at least two frames this reproduces upstream's per-call sample counts exactly:
    the first call loses ``pad`` samples at its start, every non-final call withholds its last
    ``n_fft - hop`` samples, the final call flushes them minus ``pad``. Unlike upstream it also
    accepts a one-frame (or empty) first chunk: samples still owed to the start padding are
    dropped from later calls instead.
    """

    def __init__(self, head: ISTFTHead) -> None:
        self.head = head
        self.ola = head.istft
        self.tail_audio: torch.Tensor | None = None  # unnormalised sums of the withheld samples
        self.tail_envelope: torch.Tensor | None = None
        self.to_drop = self.ola.pad  # start-padding samples not yet discarded
        self.finished = False

    def push(self, hidden: torch.Tensor, last: bool = False) -> torch.Tensor:
        """[B, T, dim] hidden states of the next T frames -> float32 waveform chunk [B, n]."""
        if self.finished:
            raise MingEditError("decoder stream already finished (last chunk was pushed)")
        if hidden.shape[1] > 0:
            audio, envelope = self.ola.overlap_add(self.ola.windowed_frames(self.head.spectrum(hidden)))
            if self.tail_audio is not None:
                keep = self.tail_audio.shape[-1]
                audio[:, :keep] += self.tail_audio
                envelope[:keep] += self.tail_envelope
        elif self.tail_audio is not None:
            audio, envelope = self.tail_audio, self.tail_envelope
        else:  # nothing decoded yet and nothing new
            audio = hidden.new_zeros((hidden.shape[0], 0), dtype=torch.float32)
            envelope = audio.new_zeros((0,))
        if last:
            end = max(audio.shape[-1] - self.ola.pad, 0)
            self.finished = True
        else:
            end = max(audio.shape[-1] - self.ola.overlap, 0)
            self.tail_audio, self.tail_envelope = audio[:, end:], envelope[end:]
        drop = min(self.to_drop, end)
        self.to_drop -= drop
        return audio[:, drop:end] / envelope[drop:end]

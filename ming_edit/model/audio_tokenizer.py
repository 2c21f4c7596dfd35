"""MingTok-Audio encoder and waveform decoder (the continuous audio tokenizer of Ming-UniAudio).

Encoder (prefix ``audio.encoder.``): waveform -> 320-sample frames -> fc1 (no bias) -> fc2 -> causal
Qwen2 transformer -> fc3 -> [mean | pre-softplus scale] of a diagonal Gaussian posterior over
``latent_dim`` channels per 20 ms frame. ``encode_latent`` samples that posterior, as upstream does.

Decoder (prefix ``audio.decoder.``; claims ``fc1``, ``decoder.*``, ``head.*``): latent -> fc1 -> causal
Qwen2 transformer -> ISTFT head -> waveform, for a whole utterance or streamed chunk by chunk.
The semantic path of the same checkpoint prefix lives in ``semantic.py``; ``fc3`` is training-only.

Both transformers are causal, so frames never see the future: in a zero-padded batch the frames of
a shorter item are unaffected by its padding (only the ISTFT overlap of its last 960 samples is).
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Qwen2Config, Qwen2Model
from transformers.cache_utils import DynamicCache
from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

from ming_edit.errors import AudioError, MingEditError
from ming_edit.model.config import MingConfig

# transformers 5.x renamed Qwen2Model's `past_key_values` to `cache` (the old name warns, then goes)
_CACHE_KWARG = "cache" if "cache" in inspect.signature(Qwen2Model.forward).parameters else "past_key_values"
from ming_edit.model.istft import ISTFTHead, ISTFTStream
from ming_edit.model.noise import NoiseSource

STD_FLOOR = 1e-4  # posterior std = softplus(scale) + STD_FLOOR (Oobleck diagonal Gaussian)
_ATTENTION_KEYS = ("attn_implementation", "_attn_implementation")


def qwen2_backbone(kwargs: dict[str, Any]) -> Qwen2Model:
    """A Qwen2Model from the checkpoint's backbone kwargs, with PyTorch SDPA attention."""
    own = {k: v for k, v in kwargs.items() if k not in _ATTENTION_KEYS}
    if own.get("use_sliding_window") and own.get("sliding_window") is not None:
        # Upstream (transformers 4.52, SDPA) applies the sliding-window mask to every layer,
        # ignoring max_window_layers; newer transformers would only slide layers >= it.
        own["max_window_layers"] = 0
        own.pop("layer_types", None)
    config = Qwen2Config(**own, attn_implementation="sdpa")
    return Qwen2Model(config)


def rebuild_rotary(backbone: Qwen2Model, device: torch.device | str) -> None:
    """Recompute the rotary inverse frequencies (non-persistent buffers, left empty by meta init)."""
    with torch.device("cpu"):
        fresh = Qwen2RotaryEmbedding(backbone.config)
    backbone.rotary_emb = fresh.to(device)


def _as_batch(waveform: torch.Tensor) -> torch.Tensor:
    """Accept [N] or [B, N]; reject empty or non-finite audio with a clear error."""
    if waveform.dim() == 1:
        waveform = waveform[None]
    if waveform.dim() != 2:
        raise AudioError(f"expected a waveform of shape [batch, samples], got {tuple(waveform.shape)}")
    if waveform.shape[-1] == 0 or waveform.shape[0] == 0:
        raise AudioError("cannot encode empty audio (0 samples)")
    if not torch.isfinite(waveform).all():
        raise AudioError("audio contains NaN or infinite samples")
    return waveform


class AudioEncoder(nn.Module):
    """waveform [B, N] -> posterior over latents [B, ceil(N/320), latent_dim]."""

    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        audio = config.audio
        self.frame_size = audio.enc_input_dim
        self.hop_size = audio.hop_size
        self.latent_dim = audio.latent_dim
        self.encoder = qwen2_backbone(audio.enc_backbone)
        hidden = self.encoder.config.hidden_size
        self.fc1 = nn.Linear(self.frame_size, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 2 * self.latent_dim)
        self.norm = nn.LayerNorm(hidden)  # in the checkpoint but never applied (as upstream)

    def materialize_buffers(self, device: torch.device | str) -> None:
        rebuild_rotary(self.encoder, device)

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """[B, N] -> [B, ceil(N/hop), frame_size]: zero-pad the end, cut non-overlapping frames.

        Audio shorter than one frame is padded up to one frame (one latent frame out).
        """
        waveform = _as_batch(waveform)
        num_frames = -(-waveform.shape[-1] // self.hop_size)
        padded_len = (num_frames - 1) * self.hop_size + self.frame_size
        padded = F.pad(waveform, (0, padded_len - waveform.shape[-1]))
        return padded.unfold(-1, self.frame_size, self.hop_size)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Raw encoder output [B, T, 2 * latent_dim] = [mean | pre-softplus scale], module dtype."""
        x = self.frames(waveform).to(self.fc1.weight.dtype)
        x = self.fc2(self.fc1(x))
        x = self.encoder(inputs_embeds=x, use_cache=False).last_hidden_state
        return self.fc3(x)

    def posterior(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std), each float32 [B, T, latent_dim]; std = softplus(scale) + 1e-4."""
        mean, scale = self(waveform).float().chunk(2, dim=-1)
        return mean, F.softplus(scale) + STD_FLOOR

    def frame_counts(self, waveform: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None) -> torch.Tensor:
        """ceil(length / frame_size) per item as int64 (upstream divides by input_dim)."""
        waveform = _as_batch(waveform)
        batch, samples = waveform.shape
        if lengths is None:
            lengths = torch.full((batch,), samples, dtype=torch.int64)
        lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1).to(waveform.device)
        if lengths.numel() != batch:
            raise AudioError(f"got {lengths.numel()} lengths for a batch of {batch} waveforms")
        if bool((lengths <= 0).any()) or bool((lengths > samples).any()):
            raise AudioError(f"waveform lengths must be within 1..{samples}, got {lengths.tolist()}")
        return (lengths + self.frame_size - 1) // self.frame_size

    def encode_latent(
        self, waveform: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None, noise: NoiseSource
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample the posterior: (latent float32 [B, T, latent_dim], frame_num int64 [B]).

        latent = mean + std * eps with eps = ``noise.randn((B, latent_dim, T))`` drawn channel-first,
        one draw per call, exactly as upstream. The batch is encoded as given (items zero-padded
        to the longest); ``frame_num`` says how many leading frames of each item are real.
        """
        frame_num = self.frame_counts(waveform, lengths)
        mean, std = self.posterior(waveform)
        batch, frames, channels = mean.shape
        eps = noise.randn((batch, channels, frames), dtype=torch.float32, device=mean.device)
        return mean + std * eps.transpose(1, 2), frame_num


class WaveformDecoder(nn.Module):
    """latent [B, T, latent_dim] -> waveform [B, 1, T * hop]; prefix ``audio.decoder.``."""

    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        audio = config.audio
        self.hop_length = audio.dec_output_dim
        self.decoder = qwen2_backbone(audio.dec_backbone)
        hidden = self.decoder.config.hidden_size
        self.fc1 = nn.Linear(audio.latent_dim, hidden)
        self.head = ISTFTHead(hidden, n_fft=4 * self.hop_length, hop_length=self.hop_length)

    def materialize_buffers(self, device: torch.device | str) -> None:
        rebuild_rotary(self.decoder, device)

    def hidden_states(self, latent: torch.Tensor, cache: DynamicCache | None = None) -> torch.Tensor:
        x = self.fc1(latent.to(self.fc1.weight.dtype))
        out = self.decoder(inputs_embeds=x, use_cache=cache is not None, **{_CACHE_KWARG: cache})
        return out.last_hidden_state

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Whole-utterance decode: float32 waveform [B, 1, T * hop] (upstream ``decode(use_cache=False)``)."""
        if latent.dim() != 3:
            raise MingEditError(f"expected latents of shape [batch, frames, dim], got {tuple(latent.shape)}")
        if latent.shape[1] == 0:
            return latent.new_zeros((latent.shape[0], 1, 0), dtype=torch.float32)
        return self.head(self.hidden_states(latent)).unsqueeze(1)

    def stream(self) -> "DecoderStream":
        """A fresh streaming decode (own transformer KV cache and ISTFT overlap buffers)."""
        return DecoderStream(self)


class DecoderStream:
    """Chunked decode: ``push(latent_chunk, last)`` returns the samples that are final so far.

    With chunks of >= 2 frames the per-call sample counts are upstream's: first call
    T*hop - 480, middle calls T*hop, final call T*hop + 480 (a single call: T*hop). The
    concatenation of all pushes equals ``WaveformDecoder.forward`` on the concatenated latents.
    """

    def __init__(self, decoder: WaveformDecoder) -> None:
        self.decoder = decoder
        self.cache = DynamicCache(config=decoder.decoder.config)
        self.istft: ISTFTStream = decoder.head.stream()
        self.frames_seen = 0

    @property
    def finished(self) -> bool:
        return self.istft.finished

    def push(self, latent: torch.Tensor, last: bool = False) -> torch.Tensor:
        """latent chunk [B, T, latent_dim] (T may be 0) -> float32 waveform chunk [B, 1, n]."""
        if self.finished:
            raise MingEditError("decoder stream already finished (last chunk was pushed)")
        if latent.dim() != 3:
            raise MingEditError(f"expected latents of shape [batch, frames, dim], got {tuple(latent.shape)}")
        if latent.shape[1] > 0:
            hidden = self.decoder.hidden_states(latent, self.cache)
            self.frames_seen += latent.shape[1]
        else:
            hidden = latent.new_zeros((latent.shape[0], 0, self.decoder.head.out.in_features))
        return self.istft.push(hidden, last=last).unsqueeze(1)

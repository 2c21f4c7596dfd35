"""Audio -> LLM input embeddings, shared by the ASR, edit and TTS loops.

waveform --(encoder, posterior sample)--> latent --(semantic module)--> unified emb
         --(LinearPooling per patch)--> one LLM embedding per patch --> spliced into the prompt.

Also the prompt-side helpers every loop needs: the audio splice + audio mask (upstream
prompt_wrap_navit / build_modality_mask) and decode-step position ids (get_rope_index deltas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ming_edit.errors import AudioError, MingEditError
from ming_edit.model.noise import NoiseSource

# upstream encode_audio_segments hard-codes 5 frames per ASR patch, whatever the config says
ASR_PATCH_SIZE = 5


def encode_latent(
    stack: Any, waveform: torch.Tensor, lengths: torch.Tensor, noise: NoiseSource
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior *sample* of the tokenizer encoder: ([B, T, latent_dim], frame counts [B])."""
    waveform = waveform.to(device=stack.device, dtype=torch.float32)  # the encoder casts per frame
    latent, frame_num = stack.audio_encoder.encode_latent(waveform, lengths.to(stack.device), noise)
    return latent, frame_num.to(torch.long)


def cut_to_patches(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Drop the trailing frames [B, T, C] that do not fill a whole patch (upstream's cut_len)."""
    keep = x.shape[1] - x.shape[1] % patch_size
    return x[:, :keep]


@dataclass
class EncodedAudio:
    """An input audio turned into LLM embeddings."""

    latent: torch.Tensor  # [B, T, latent_dim] sampled latent (cut to whole patches unless ASR)
    frame_num: torch.Tensor  # [B] real frames per item
    embeds: torch.Tensor  # [B, n_patches, H] projector outputs
    feat_lens: torch.Tensor  # [B, 1] real patches per item (frame_num // patch)
    semantic_cache: Any = None  # semantic-module KV cache holding the audio (edit / TTS only)


def encode_for_asr(stack: Any, waveform: torch.Tensor, lengths: torch.Tensor, noise: NoiseSource) -> EncodedAudio:
    """upstream encode_audio_segments: semantic module over every frame, then patches of 5."""
    latent, frame_num = encode_latent(stack, waveform, lengths, noise)
    unified = stack.semantic(latent)
    embeds = stack.projector.pool(unified, ASR_PATCH_SIZE)
    return EncodedAudio(latent, frame_num, embeds, (frame_num // ASR_PATCH_SIZE).view(-1, 1))


def encode_for_generation(
    stack: Any, waveform: torch.Tensor, lengths: torch.Tensor, patch_size: int, noise: NoiseSource
) -> EncodedAudio:
    """Edit / TTS prompt audio: latent cut to whole patches, then the semantic module with a KV
    cache that the generated patches will continue."""
    latent, frame_num = encode_latent(stack, waveform, lengths, noise)
    latent = cut_to_patches(latent, patch_size)
    cache = stack.semantic.new_cache()
    unified = stack.semantic(latent, cache=cache)
    embeds = stack.projector.pool(unified, patch_size)
    return EncodedAudio(latent, frame_num, embeds, (frame_num // patch_size).view(-1, 1), cache)


def patch_embedding(stack: Any, patch: torch.Tensor, semantic_cache: Any) -> torch.Tensor:
    """A generated latent patch [B, P, D] -> the LLM input for the next step [B, 1, H]."""
    unified = stack.semantic(patch, cache=semantic_cache)
    return stack.projector.pool(unified, patch.shape[1])


def splice_audio(
    embeds: torch.Tensor,
    placeholder_loc_lens: torch.Tensor,
    feats: torch.Tensor,
    feat_lens: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Write audio embeddings over the <audioPatch> placeholders.

    placeholder_loc_lens [B, N, 2] = (start, length) per placeholder (length <= 0 ends the list),
    feats [B, sum(L), H] holds each row's features back to back, feat_lens [B, N] their counts.
    A feature run longer than its placeholder is truncated; a shorter one leaves the remaining
    placeholder embeddings as they are. The returned audio mask covers every placeholder position
    (it routes tokens through the audio gate when the LLM has multi_gate).
    """
    embeds = embeds.clone()
    audio_mask = torch.zeros(embeds.shape[:2], dtype=torch.bool, device=embeds.device)
    loc = placeholder_loc_lens.tolist()
    lens = feat_lens.reshape(feat_lens.shape[0], -1).tolist()
    for row, placeholders in enumerate(loc):
        offset = 0
        for j, (start, length) in enumerate(placeholders):
            if length <= 0:
                break
            available = int(lens[row][j])
            used = min(available, length)
            embeds[row, start : start + used] = feats[row, offset : offset + used].to(embeds.dtype)
            audio_mask[row, start : start + length] = True
            offset += available
    return embeds, audio_mask


def step_positions(cache_len: int, rope_deltas: torch.Tensor, step_len: int = 1) -> torch.Tensor:
    """Position ids [3, B, step_len] of the tokens appended after ``cache_len`` cached ones."""
    base = torch.arange(step_len, device=rope_deltas.device).view(1, -1) + cache_len
    pos = base + rope_deltas.view(-1, 1)
    return pos.unsqueeze(0).expand(3, -1, -1)


def stack_tokenizer(stack: Any) -> Any:
    """The stack's text tokenizer, read from its checkpoint directory the first time it is needed."""
    if getattr(stack, "text_tokenizer", None) is None:
        from ming_edit.model.text_tokenizer import TextTokenizer

        stack.text_tokenizer = TextTokenizer.from_dir(stack.path)
    return stack.text_tokenizer


def mono_batch(waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One mono waveform [N] or [1, N] -> ([1, N], lengths [1])."""
    if waveform.dim() == 1:
        waveform = waveform[None]
    if waveform.dim() != 2 or waveform.shape[0] != 1:
        raise AudioError(f"expected one mono waveform [1, samples], got shape {tuple(waveform.shape)}")
    if waveform.shape[1] == 0:
        raise AudioError("the input audio is empty")
    return waveform, torch.tensor([waveform.shape[1]], dtype=torch.long)


class ContextTooLongError(MingEditError):
    """The prompt plus what the task will generate does not fit the LLM's position range."""


def check_context(stack: Any, prompt_len: int, to_generate: int, *, task: str, hint: str,
                  enforce: bool = True) -> None:
    """Refuse, before any heavy work, a request whose positions exceed ``max_position_embeddings``.

    Beyond that range the rotary positions were never trained, so the output would be garbage
    rather than an error; ``hint`` names the long-form path for the task. Upstream has no such
    check (its 3D rope extrapolates), so conformance runs pass ``enforce=False``.
    """
    if not enforce:
        return
    limit = int(stack.config.llm.max_position_embeddings)
    needed = int(prompt_len) + int(to_generate)
    if needed > limit:
        raise ContextTooLongError(
            f"{task} needs {needed} positions ({prompt_len} prompt + {to_generate} generated), more than "
            f"the model's context of {limit}; {hint}"
        )

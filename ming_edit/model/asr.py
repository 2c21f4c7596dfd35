"""Speech recognition: greedy decoding of text after an audio prompt (upstream ``generate``).

The first LLM call consumes the spliced prompt embeddings (+ the audio mask for multi_gate);
each later call embeds the token just chosen and reuses the KV cache. Several waveforms can be
transcribed together: waveforms are right-padded (the tokenizer encoder and the semantic module
are causal, so padding never reaches a real frame), prompts are left-padded with an attention
mask, and every row's positions count its real tokens only - the same math as one-by-one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch

from ming_edit.errors import AudioError, MingEditError
from ming_edit.model.embedding import check_context, encode_for_asr, splice_audio, step_positions
from ming_edit.model.noise import NoiseSource
from ming_edit.model.rope import positions_from_attention_mask


class AudioPrompt(Protocol):
    """What the prompt builders return for one audio: [1, L] ids / mask, [1, N, 2] placeholders."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    audio_placeholder_loc_lens: torch.Tensor


@dataclass
class PromptBatch:
    input_ids: torch.Tensor  # [B, L] left-padded
    attention_mask: torch.Tensor  # [B, L] 0 on padding
    audio_placeholder_loc_lens: torch.Tensor  # [B, N, 2], shifted by each row's padding


@dataclass
class ASROutput:
    sequences: torch.Tensor  # [B, L + n] prompt ids (as batched) then the new tokens
    new_tokens: torch.Tensor  # [B, n]; after a row's EOS the pad id, as HF generate
    token_ids: list[list[int]]  # per row: new tokens up to (not including) the first EOS
    step_logits: torch.Tensor | None  # [B, n, vocab] float32 logits of each step (keep_logits)


def collate_waveforms(waveforms: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[N_i] or [1, N_i] mono waveforms -> (right-zero-padded [B, N_max], lengths [B])."""
    rows = []
    for w in waveforms:
        w = w.reshape(-1) if w.dim() == 1 or (w.dim() == 2 and w.shape[0] == 1) else None
        if w is None:
            raise AudioError("transcription expects mono waveforms of shape [samples] or [1, samples]")
        if w.numel() == 0:
            raise AudioError("cannot transcribe an empty waveform")
        rows.append(w)
    lengths = torch.tensor([r.numel() for r in rows], dtype=torch.long)
    batch = rows[0].new_zeros((len(rows), int(lengths.max())))
    for i, r in enumerate(rows):
        batch[i, : r.numel()] = r
    return batch, lengths


def collate_prompts(prompts: Sequence[AudioPrompt], pad_id: int) -> PromptBatch:
    """Left-pad prompts of different lengths; placeholder starts move with their row."""
    lengths = [int(p.input_ids.shape[-1]) for p in prompts]
    width = max(lengths)
    n_slots = max(int(p.audio_placeholder_loc_lens.shape[1]) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    loc = torch.zeros((len(prompts), n_slots, 2), dtype=torch.long)
    for i, p in enumerate(prompts):
        pad = width - lengths[i]
        ids[i, pad:] = p.input_ids.reshape(-1).cpu()
        mask[i, pad:] = p.attention_mask.reshape(-1).cpu()
        slots = p.audio_placeholder_loc_lens.reshape(-1, 2).cpu().clone()
        slots[:, 0] += pad
        loc[i, : slots.shape[0]] = slots
    return PromptBatch(ids, mask, loc)


def _as_lists(waveform, prompt) -> tuple[list[torch.Tensor], list[AudioPrompt]]:
    if isinstance(waveform, torch.Tensor):
        waves = [waveform] if waveform.dim() == 1 or waveform.shape[0] == 1 else list(waveform)
    else:
        waves = list(waveform)
    prompts = [prompt] if not isinstance(prompt, (list, tuple)) else list(prompt)
    if len(prompts) == 1 and len(waves) > 1:
        prompts = prompts * len(waves)
    if len(prompts) != len(waves) or not waves:
        raise MingEditError(f"got {len(waves)} waveforms but {len(prompts)} prompts")
    return waves, prompts


@torch.inference_mode()
def transcribe_ids(
    stack: Any,
    waveform: torch.Tensor | Sequence[torch.Tensor],
    prompt: AudioPrompt | Sequence[AudioPrompt],
    *,
    max_new_tokens: int,
    eos_ids: Sequence[int] | None = None,
    noise: NoiseSource,
    keep_logits: bool = False,
    enforce_context: bool = True,
) -> ASROutput:
    """Greedy ASR decoding of one waveform [1, N] (16 kHz float) or a batch of waveforms.

    ``waveform``: a [1, N] / [N] tensor, a [B, N] tensor of equal-length items, or a list of
    waveforms of any lengths; ``prompt``: one prompt (shared) or one per waveform.
    ``eos_ids`` default to the LLM config's eos_token_id. One noise draw [B, latent_dim, T_max]
    (the posterior sample), as upstream does for the batch.
    """
    if max_new_tokens < 1:
        raise MingEditError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    llm_cfg = stack.config.llm
    if eos_ids is None:
        eos_ids = [] if llm_cfg.eos_token_id is None else [int(llm_cfg.eos_token_id)]
    pad_id = int(llm_cfg.pad_token_id if llm_cfg.pad_token_id is not None else (list(eos_ids) or [0])[0])
    waves, prompts = _as_lists(waveform, prompt)
    wave_batch, lengths = collate_waveforms(waves)
    batch = collate_prompts(prompts, pad_id)
    device = stack.device

    # max_new_tokens is only a cap: the prompt plus one answer token must fit
    check_context(stack, batch.input_ids.shape[1], 1, task="transcription",
                  hint="`ming-edit transcribe` splits long recordings at pauses; use it, or cut the audio",
                  enforce=enforce_context)
    audio = encode_for_asr(stack, wave_batch, lengths, noise)
    embeds = stack.llm.embed(batch.input_ids.to(device))
    embeds, audio_mask = splice_audio(embeds, batch.audio_placeholder_loc_lens, audio.embeds, audio.feat_lens)
    attention = batch.attention_mask.to(device)
    position_ids, rope_deltas = positions_from_attention_mask(attention)
    padded = not bool(attention.all())

    cache = stack.llm.new_cache()
    out = stack.llm(embeds, position_ids=position_ids, attention_mask=attention if padded else None,
                    audio_mask=audio_mask, cache=cache, logits_last_only=True)
    eos = torch.tensor(sorted(set(eos_ids)), dtype=torch.long, device=device)
    unfinished = torch.ones(len(waves), dtype=torch.bool, device=device)
    chosen: list[torch.Tensor] = []
    logits_seen: list[torch.Tensor] = []
    while True:
        logits = out.logits[:, -1]
        if keep_logits:
            logits_seen.append(logits)
        token = logits.argmax(-1)
        token = torch.where(unfinished, token, torch.full_like(token, pad_id))
        chosen.append(token)
        if eos.numel():
            unfinished &= ~torch.isin(token, eos)
        if len(chosen) >= max_new_tokens or not bool(unfinished.any()):
            break
        if padded:
            attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=1)
        out = stack.llm(stack.llm.embed(token[:, None]), position_ids=step_positions(cache.length, rope_deltas),
                        attention_mask=attention if padded else None, cache=cache, logits_last_only=True)

    new_tokens = torch.stack(chosen, dim=1).cpu()
    eos_set = set(int(e) for e in eos_ids)
    token_ids = []
    for row in new_tokens.tolist():
        cut = next((i for i, t in enumerate(row) if t in eos_set), len(row))
        token_ids.append(row[:cut])
    return ASROutput(
        sequences=torch.cat([batch.input_ids, new_tokens], dim=1),
        new_tokens=new_tokens,
        token_ids=token_ids,
        step_logits=torch.stack(logits_seen, dim=1).cpu() if keep_logits else None,
    )

"""Public entry points of the Ming-UniAudio generation loops.

* :func:`transcribe_ids` - ASR greedy decoding (model/asr.py), batched over waveforms.
* :func:`generate_edit` - speech edit: CoT text then audio patches (model/edit_loop.py).
* :func:`generate_tts` - TTS / voice clone with streaming decode (model/tts.py).

Shared pieces: model/embedding.py (audio -> LLM embeddings, splice, positions) and
model/audio_steps.py (flow head -> stop head -> semantic module -> projector per patch).
Every random draw goes through the ``noise`` argument, in upstream's order.
"""

from __future__ import annotations

from ming_edit.model.asr import ASROutput, PromptBatch, collate_prompts, collate_waveforms, transcribe_ids
from ming_edit.model.edit_loop import EditOutput, NoEditAudioError, default_max_steps, generate_edit
from ming_edit.model.embedding import ASR_PATCH_SIZE
from ming_edit.model.tts import (
    MIN_TTS_PATCHES,
    TTSOutput,
    generate_tts,
    patch_budget,
    upstream_patch_budget,
)

__all__ = [
    "ASROutput",
    "ASR_PATCH_SIZE",
    "EditOutput",
    "MIN_TTS_PATCHES",
    "NoEditAudioError",
    "PromptBatch",
    "TTSOutput",
    "collate_prompts",
    "collate_waveforms",
    "default_max_steps",
    "generate_edit",
    "generate_tts",
    "patch_budget",
    "transcribe_ids",
    "upstream_patch_budget",
]

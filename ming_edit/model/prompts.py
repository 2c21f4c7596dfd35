"""Prompt ids for ASR, contextual ASR, speech edit (+CoT) and TTS, exactly as upstream builds them.

Understanding / edit prompts follow upstream's processor: the chat template renders
``<role>HUMAN</role>`` + the message parts in order (an audio part becomes ``<AUDIO>``) +
``<role>ASSISTANT</role>``; ``<AUDIO>`` is expanded to ``<audio>`` + n x ``<audioPatch>`` + ``</audio>``
with n = ceil(samples / hop) // patch_size, and the whole string is tokenized at once. The demo then
appends the ids of ``f"{lang}\\t"`` (forced language) or ``"<answer>"`` (edit with chain of thought).

The TTS prompt follows ``sample_tokens``: separately tokenized pieces, ``<audio>`` and one
``<audioPatch>`` per whole prompt patch, no ``</audio>``.

The ASR / TTS instruction strings are the ones of upstream's demo notebook (cookbooks/demo.ipynb);
the edit instructions come from the one table of trained phrasings, ops/model_phrasing.py.

User-supplied pieces (hotwords, forced language, the edit body between ``<prompt>`` and
``</prompt>``, TTS text and reference transcript) are refused with a UsageError when they contain a
control-token string of the tokenizer (text_tokenizer.refuse_control_tokens): the pipelines check
before loading the model, these builders check again so no caller can skip it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ming_edit.model.config import HOP_SAMPLES
from ming_edit.model.text_tokenizer import (
    AUDIO_PLACEHOLDER,
    PROMPT_END,
    PROMPT_START,
    TextTokenizer,
    check_asr_text,
    check_tts_text,
    refuse_control_tokens,
)

USER_PREFIX = "<role>HUMAN</role>"
ASSISTANT_PREFIX = "<role>ASSISTANT</role>"
ASR_PATCH_SIZE = 5  # upstream's processor config; encode_audio_segments always pools 5 frames

# ---- instruction texts (upstream demo) ----------------------------------------------------------
ASR_INSTRUCTION = "Please recognize the language of this speech and transcribe it. Format: oral."
HOTWORDS_LEAD = " This audio may contains the following words or phrases:"  # sic, as upstream
TTS_INSTRUCTION = "Please translate the text to speech.\n"
# Dialect names the demo forces ASR with (`lang=`); any language name works the same way.
DEMO_ASR_LANGUAGES = ("川渝", "湖南", "闽南", "上海", "Canton")

@dataclass(frozen=True)
class PromptIds:
    """One prompt, batch of 1, in the layout upstream's processor returns (all int64)."""

    input_ids: torch.Tensor  # [1, L]
    attention_mask: torch.Tensor  # [1, L], all ones
    audio_placeholder_loc_lens: torch.Tensor  # [1, 1, 2]: [[[index of <audio> + 1, n_patches]]]
    waveform_length: torch.Tensor | None  # [1] samples of the audio (None for TTS)

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])

    @property
    def audio_start(self) -> int:
        """Index of the first <audioPatch> position."""
        return int(self.audio_placeholder_loc_lens[0, 0, 0])

    @property
    def n_audio_patches(self) -> int:
        return int(self.audio_placeholder_loc_lens[0, 0, 1])


def frame_count(num_samples: int, hop: int = HOP_SAMPLES) -> int:
    """Audio tokenizer frames for ``num_samples`` (the last partial frame is zero-padded)."""
    return math.ceil(int(num_samples) / hop)


def audio_patch_count(num_samples: int, patch_size: int = ASR_PATCH_SIZE, hop: int = HOP_SAMPLES) -> int:
    """Placeholder count of upstream's audio processor: ceil(samples / hop) // patch_size."""
    if patch_size < 1:
        raise ValueError(f"patch_size must be >= 1, got {patch_size}")
    return frame_count(num_samples, hop) // patch_size


def render_chat(text: str, audio_first: bool = False) -> str:
    """Upstream's processor chat template for one HUMAN turn with one text and one audio part."""
    body = AUDIO_PLACEHOLDER + text if audio_first else text + AUDIO_PLACEHOLDER
    return USER_PREFIX + body + ASSISTANT_PREFIX


def expand_audio(rendered: str, n_patches: int) -> str:
    """Replace the <AUDIO> placeholder by <audio>, n x <audioPatch>, </audio> (processor behaviour)."""
    audio = "<audio>" + "<audioPatch>" * n_patches + "</audio>"
    if AUDIO_PLACEHOLDER in rendered:
        return rendered.replace(AUDIO_PLACEHOLDER, audio)
    return rendered + audio + "\n"


def _as_prompt(ids: Sequence[int], loc: int, n_patches: int, num_samples: int | None) -> PromptIds:
    input_ids = torch.tensor([list(ids)], dtype=torch.int64)
    return PromptIds(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        audio_placeholder_loc_lens=torch.tensor([[[loc, n_patches]]], dtype=torch.int64),
        waveform_length=None if num_samples is None else torch.tensor([int(num_samples)], dtype=torch.int64),
    )


def understanding_prompt(
    tokenizer: TextTokenizer,
    text: str,
    num_samples: int,
    *,
    audio_first: bool = False,
    patch_size: int = ASR_PATCH_SIZE,
    append_text: str | None = None,
    hop: int = HOP_SAMPLES,
) -> PromptIds:
    """Generic processor path: chat template, placeholder expansion, one tokenization, then the
    demo's optional suffix (``append_text`` tokenized on its own and concatenated)."""
    n_patches = audio_patch_count(num_samples, patch_size, hop)
    ids = tokenizer.encode(expand_audio(render_chat(text, audio_first), n_patches))
    audio_start = tokenizer.special.audio_start
    if audio_start not in ids:
        raise ValueError("the rendered prompt has no <audio> token")
    loc = ids.index(audio_start) + 1
    if append_text:
        ids = ids + tokenizer.encode(append_text)
    return _as_prompt(ids, loc, n_patches, num_samples)


def hotword_instruction(hotwords: Sequence[str], instruction: str = ASR_INSTRUCTION) -> str:
    """The demo's contextual-ASR instruction: the hotwords joined by ',' after a fixed sentence."""
    words = [w.strip() for w in hotwords if w.strip()]
    if not words:
        return instruction
    return instruction + HOTWORDS_LEAD + ",".join(words)


def asr_prompt(
    tokenizer: TextTokenizer,
    num_samples: int,
    *,
    language: str | None = None,
    hotwords: Sequence[str] = (),
    instruction: str = ASR_INSTRUCTION,
) -> PromptIds:
    """Transcription prompt (demo ``speech_understanding``); ``language`` forces the output language
    or dialect by appending ``f"{language}\\t"``; ``hotwords`` makes it contextual ASR."""
    check_asr_text(tokenizer, language, hotwords)
    text = hotword_instruction(hotwords, instruction)
    suffix = f"{language}\t" if language else None
    return understanding_prompt(tokenizer, text, num_samples, audio_first=False,
                                patch_size=ASR_PATCH_SIZE, append_text=suffix)


def edit_prompt(
    tokenizer: TextTokenizer,
    num_samples: int,
    instruction: str,
    *,
    use_cot: bool = True,
    patch_size: int = ASR_PATCH_SIZE,
) -> PromptIds:
    """Edit prompt (demo ``speech_edit``): audio first, then the ``<prompt>...</prompt>`` text
    (built by ops/model_phrasing.py); CoT appends ``<answer>``."""
    body = instruction.removeprefix(PROMPT_START).removesuffix(PROMPT_END)
    refuse_control_tokens(tokenizer, body, "the edit instruction")
    return understanding_prompt(tokenizer, instruction, num_samples, audio_first=True,
                                patch_size=patch_size, append_text="<answer>" if use_cot else None)


def tts_prompt(
    tokenizer: TextTokenizer,
    text: str,
    prompt_text: str,
    prompt_frames: int,
    *,
    patch_size: int = ASR_PATCH_SIZE,
) -> PromptIds:
    """TTS / voice-clone prompt as ``sample_tokens`` builds it from ``generate_tts`` arguments.

    ``prompt_frames`` is the frame count of the prompt audio's latent (ceil(samples / hop)); trailing
    frames that do not fill a patch are dropped, as upstream cuts them from the latent.
    """
    check_tts_text(tokenizer, text, prompt_text)
    n_patches = int(prompt_frames) // patch_size
    head = (
        tokenizer.encode(USER_PREFIX)
        + tokenizer.encode(TTS_INSTRUCTION + prompt_text)
        + tokenizer.encode(text)
        + tokenizer.encode(ASSISTANT_PREFIX)
    )
    special = tokenizer.special
    ids = head + [special.audio_start] + [special.audio_patch] * n_patches
    return _as_prompt(ids, len(head) + 1, n_patches, None)

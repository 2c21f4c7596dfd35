"""Golden runners for prompt assembly: processor-style prompts (ASR / contextual ASR / edit) and TTS."""

from __future__ import annotations

import torch

from ming_edit.dev.conformance.golden import GoldenCase
from ming_edit.dev.conformance.registry import outputs, runner
from ming_edit.model.prompts import ASR_PATCH_SIZE, frame_count, tts_prompt, understanding_prompt


def _tokenizer(stack):
    if stack.text_tokenizer is None:
        raise RuntimeError(f"{stack.path}: no text tokenizer loaded")
    return stack.text_tokenizer


@runner("prompt")
def run_prompt(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    """Processor path: params text, audio_first, processor_patch_size, optional append_text."""
    params = case.params
    num_samples = int(case.input("waveform").shape[-1])
    prompt = understanding_prompt(
        _tokenizer(stack),
        params["text"],
        num_samples,
        audio_first=bool(params.get("audio_first", False)),
        patch_size=int(params.get("processor_patch_size", ASR_PATCH_SIZE)),
        append_text=params.get("append_text"),
        hop=stack.config.audio.hop_size,
    )
    return outputs(prompt, "input_ids", "attention_mask", "audio_placeholder_loc_lens", "waveform_length")


@runner("prompt_tts")
def run_prompt_tts(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    """sample_tokens path: params text, prompt_text, patch_size; frames from the prompt waveform."""
    params = case.params
    frames = frame_count(int(case.input("prompt_waveform").shape[-1]), stack.config.audio.hop_size)
    prompt = tts_prompt(
        _tokenizer(stack),
        params["text"],
        params["prompt_text"],
        frames,
        patch_size=int(params.get("patch_size", ASR_PATCH_SIZE)),
    )
    return {"input_ids": prompt.input_ids}

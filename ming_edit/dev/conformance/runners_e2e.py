"""Golden runners for the end-to-end generation loops: e2e_asr, e2e_edit, e2e_tts."""

from __future__ import annotations

import torch

from ming_edit.dev.conformance.golden import GoldenCase
from ming_edit.dev.conformance.registry import outputs, runner
from ming_edit.model.asr import PromptBatch, transcribe_ids
from ming_edit.model.edit_loop import generate_edit
from ming_edit.model.tts import generate_tts


def _prompt(case: GoldenCase) -> PromptBatch:
    return PromptBatch(
        input_ids=case.input("input_ids"),
        attention_mask=case.input("attention_mask"),
        audio_placeholder_loc_lens=case.input("audio_placeholder_loc_lens"),
    )


def _waveform(case: GoldenCase, name: str = "waveform") -> torch.Tensor:
    wave = case.input(name)
    if "waveform_length" in case.spec["inputs"]:
        wave = wave[..., : int(case.input("waveform_length").reshape(-1)[0])]
    return wave


@runner("e2e_asr")
def run_e2e_asr(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    p = case.params
    out = transcribe_ids(stack, _waveform(case), _prompt(case), max_new_tokens=int(p["max_new_tokens"]),
                         eos_ids=p.get("eos_token_id"), noise=case.noise(), keep_logits=True, enforce_context=False)
    return outputs(out, "sequences", "new_tokens", "step_logits")


@runner("e2e_edit")
def run_e2e_edit(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    p = case.params
    out = generate_edit(stack, _waveform(case), _prompt(case), patch_size=int(p["patch_size"]), cfg=float(p["cfg"]),
                        noise=case.noise(), record=True, enforce_context=False)
    return outputs(out, "text_token_ids", "audio_latents", "speech", "step_logits", "step_hidden", "stop_logits")


@runner("e2e_tts")
def run_e2e_tts(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    p = case.params
    out = generate_tts(stack, p["text"], case.input("prompt_waveform"), p["prompt_text"],
                       patch_size=int(p["patch_size"]), lang=p["lang"], cfg=float(p["cfg"]),
                       noise=case.noise(), flush_at_budget=False, enforce_context=False)
    return outputs(out, "prompt_input_ids", "latents", "speech", "step_hidden", "stop_logits")

"""Golden runners for the LLM area: Bailing MoE LLM (full / KV-cache), projector, stop head."""

from __future__ import annotations

import torch

from ming_edit.dev.conformance.golden import GoldenCase
from ming_edit.dev.conformance.registry import runner


def _device_input(stack, case: GoldenCase, name: str) -> torch.Tensor:
    tensor = case.input(name).to(stack.device)
    return tensor.to(stack.dtype) if tensor.is_floating_point() else tensor


@runner("llm_full")
def run_llm_full(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    out = stack.llm(
        _device_input(stack, case, "inputs_embeds"),
        position_ids=_device_input(stack, case, "position_ids"),
        attention_mask=_device_input(stack, case, "attention_mask"),
        audio_mask=_device_input(stack, case, "audio_mask").bool(),
        cache=stack.llm.new_cache(),
        output_hidden_states=True,
    )
    results = {"logits": out.logits, "last_hidden": out.last_hidden}
    for name in case.spec["outputs"]:
        if name.startswith("hidden_"):
            results[name] = out.hidden_states[int(name.split("_")[1])]
    return {k: v.float().cpu() for k, v in results.items()}


@runner("llm_incremental")
def run_llm_incremental(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    """Prefix in one pass (with audio_mask), then one token at a time from the KV cache
    (position = cached length, no audio_mask), as upstream's decode steps do."""
    embeds = _device_input(stack, case, "inputs_embeds")
    positions = _device_input(stack, case, "position_ids")
    audio_mask = _device_input(stack, case, "audio_mask").bool()
    prefix_len = int(case.params["prefix_len"])
    llm = stack.llm
    cache = llm.new_cache()
    prefix = llm(
        embeds[:, :prefix_len],
        position_ids=positions[..., :prefix_len],
        audio_mask=audio_mask[:, :prefix_len],
        cache=cache,
    )
    steps = []
    for i in range(prefix_len, embeds.shape[1]):
        step = llm(embeds[:, i : i + 1], attention_mask=torch.ones(embeds.shape[0], 1), cache=cache)
        steps.append(step.logits)
    return {"prefix_logits": prefix.logits.float().cpu(), "step_logits": torch.cat(steps, dim=1).float().cpu()}


@runner("projector")
def run_projector(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    """unified_emb [B, T, D] cut to whole patches and reshaped to [n, P, D] as upstream does."""
    unified = _device_input(stack, case, "unified_emb")
    patch = int(case.params["patch_size"])
    n = unified.shape[1] // patch
    frames = unified[:, : n * patch].reshape(-1, patch, unified.shape[-1])
    return {"llm_embeds": stack.projector(frames).float().cpu()}


@runner("stop_head")
def run_stop_head(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    hidden = _device_input(stack, case, "hidden")
    return {
        "logits": stack.stop_head(hidden).float().cpu(),
        "prob_stop": stack.stop_head.prob_stop(hidden).float().cpu(),
    }

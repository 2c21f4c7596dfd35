"""The edit model over one file: the plan in its trained phrasing, the chain of thought reported
before any audio exists, generation, then back to the input's rate and channels and written.

Word edits (delete / insert / substitute) run with the CoT (`<answer>` appended, as the demo's
use_cot=True), acoustic ones without; ops/model_phrasing.py holds that rule and the phrasings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ming_edit.errors import AudioError
from ming_edit.io.writer import write_checked
from ming_edit.model import session
from ming_edit.model.config import HOP_SAMPLES
from ming_edit.model.hub import resolve_model_dir
from ming_edit.ops.model_phrasing import model_prompt, render_cot
from ming_edit.options import CotCallback, EditOptions, EditResult, ModelRun, ProgressCallback

DEFAULT_CFG = 2.0  # upstream generate_edit


def regenerate(
    result: EditResult,
    fmt: str,
    subtype: str,
    options: EditOptions,
    *,
    on_cot: CotCallback | None = None,
    on_progress: ProgressCallback | None = None,
    noise: Any = None,
    cfg: float = DEFAULT_CFG,
    max_steps: int | None = None,
) -> EditResult:
    """Run the edit model on ``result.input`` and write ``result.output`` atomically.

    ``on_cot(raw, rendered)`` is called as soon as the CoT text is known, before audio is generated.
    ``noise`` replaces the seeded noise source (replaying recorded draws). Raises ModelNeededError
    when no checkpoint can be found, NoEditAudioError when the model produces no audio within the
    step budget.
    """
    prompt_text, use_cot = model_prompt(result.plan.operations)
    mono16k, rate, channels, duration_in = session.load_for_model(result.input)
    model_dir = resolve_model_dir(options.model.model, "edit")
    patch = session.patch_size(model_dir)
    if len(mono16k) < patch * HOP_SAMPLES:  # before the (large) model is loaded
        raise AudioError(f"{result.input}: too short for the edit model ({duration_in:.3f} s)")
    stack = session.open_stack(options.model, "edit")
    noise = noise if noise is not None else session.make_noise(options.model.seed)

    from ming_edit.model.edit_loop import generate_edit
    from ming_edit.model.prompts import edit_prompt

    prompt = edit_prompt(stack.text_tokenizer, len(mono16k), prompt_text, use_cot=use_cot, patch_size=patch)
    seen: dict[str, str] = {}

    def on_text(cot: str) -> None:
        seen["raw"] = cot
        if on_cot is not None:
            on_cot(cot, render_cot(cot))

    if on_progress is not None:
        on_progress("editing with the model", 0, None)
    with session.oom_guard():
        out = generate_edit(stack, session.waveform_tensor(mono16k, stack.device), prompt, patch_size=patch,
                            cfg=cfg, noise=noise, max_steps=max_steps, on_text=on_text)
    samples = session.from_model_rate(out.speech.reshape(-1).numpy(), rate, channels)
    note, clip_gain_db = write_checked(result.output, samples, rate, fmt=fmt, subtype=subtype,
                                       no_limit=options.no_limit, what="the generated audio", kbps=options.bitrate)
    raw = seen.get("raw", out.cot_text)
    run = ModelRun(prompt=prompt_text, used_cot=use_cot, text_token_ids=out.text_token_ids.reshape(-1).tolist(),
                   audio_latents=out.audio_latents, stopped=out.stopped)
    return replace(result, duration_in=duration_in, duration_out=samples.shape[0] / rate,
                   notes=result.notes + ((note,) if note else ()), cot=render_cot(raw) if "raw" in seen else None,
                   cot_raw=raw or None, model_run=run, clip_gain_db=clip_gain_db)

"""The edit model on one clip: the plan in its trained phrasing, the chain of thought reported
before any audio exists, then generation (16 kHz mono in, 16 kHz mono out).

Word edits (delete / insert / substitute) run with the CoT (`<answer>` appended, as the demo's
use_cot=True), acoustic ones without; ops/model_phrasing.py holds that rule and the phrasings.
pipelines/model_edit.py runs this on each window of a recording and splices the result back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ming_edit.model import session
from ming_edit.ops.model_phrasing import model_prompt, render_cot
from ming_edit.ops.operation import Operation
from ming_edit.options import CotCallback, ModelRun

DEFAULT_CFG = 2.0  # upstream generate_edit


@dataclass(frozen=True)
class RegeneratedClip:
    mono16k: np.ndarray  # the model's whole output clip
    cot: str | None  # the CoT with the edited span shown as [MASK] (word edits)
    cot_raw: str | None
    run: ModelRun


def regenerate_clip(
    stack: Any,
    patch: int,
    mono16k: np.ndarray,
    operations: Sequence[Operation],
    *,
    noise: Any,
    on_cot: CotCallback | None = None,
    cfg: float = DEFAULT_CFG,
    max_steps: int | None = None,
) -> RegeneratedClip:
    """Run the loaded edit ``stack`` on one clip. ``on_cot(raw, rendered)`` is called as soon as
    the CoT text is known, before audio is generated. Raises NoEditAudioError when the model
    produces no audio within the step budget."""
    from ming_edit.model.edit_loop import generate_edit
    from ming_edit.model.prompts import edit_prompt

    prompt_text, use_cot = model_prompt(tuple(operations))
    prompt = edit_prompt(stack.text_tokenizer, len(mono16k), prompt_text, use_cot=use_cot, patch_size=patch)
    seen: dict[str, str] = {}

    def on_text(cot: str) -> None:
        seen["raw"] = cot
        if on_cot is not None:
            on_cot(cot, render_cot(cot))

    with session.oom_guard():
        out = generate_edit(stack, session.waveform_tensor(mono16k, stack.device), prompt, patch_size=patch,
                            cfg=cfg, noise=noise, max_steps=max_steps, on_text=on_text)
    raw = seen.get("raw", out.cot_text)
    run = ModelRun(prompt=prompt_text, used_cot=use_cot, text_token_ids=out.text_token_ids.reshape(-1).tolist(),
                   audio_latents=out.audio_latents, stopped=out.stopped)
    return RegeneratedClip(out.speech.reshape(-1).numpy(), render_cot(raw) if "raw" in seen else None,
                           raw or None, run)

"""Model-driven edits (delete/insert/substitute words, emotion, dialect, add sound, free-form).

(INTERFACE STUB, owned by the model-commands work.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass
class ModelEditResult:
    cot_raw: str  # the model's chain-of-thought target text, with <edit>...</edit> spans
    cot_rendered: str  # the same with each edit span shown as [MASK]
    output: Path
    duration_in: float
    duration_out: float


def edit_with_model(
    input_path: Path,
    instruction: str,
    output_path: Path,
    *,
    model: str | None = None,
    device: str = "auto",
    dtype: str | None = None,
    seed: int | None = None,
    on_cot: Callable[[str, str], None] | None = None,
) -> ModelEditResult:
    """Run the edit model on ``input_path`` and write ``output_path`` atomically.

    ``on_cot(raw, rendered)`` is called as soon as the CoT text is known, before audio is generated.
    Raises ModelNeededError when no checkpoint can be found.
    """
    from ming_edit.registry import resolve_model_dir

    resolve_model_dir(model, "edit")
    raise NotImplementedError("model edit path not implemented yet")

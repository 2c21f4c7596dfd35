"""Model discovery: --model DIR, the MING_EDIT_MODEL environment variable, or the Hugging Face cache.

(INTERFACE STUB, owned by the model-commands work; the edit command already calls it.)
"""

from __future__ import annotations

import os
from pathlib import Path

from ming_edit.errors import ModelNeededError

MODEL_ENV = "MING_EDIT_MODEL"


def resolve_model_dir(explicit: str | os.PathLike | None, role: str = "edit") -> Path:
    """Return the checkpoint directory to use for ``role`` ("asr", "tts", "edit", "tokenizer"),
    or raise ModelNeededError with one line naming the model and the three ways to provide it."""
    candidate = explicit or os.environ.get(MODEL_ENV)
    if candidate:
        return Path(candidate)
    raise ModelNeededError(
        f"this needs the Ming-UniAudio {role} model: pass --model DIR, set {MODEL_ENV}=DIR, "
        "or run `ming-edit models pull`"
    )

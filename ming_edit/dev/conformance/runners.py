"""Every golden-case runner, by the ``runner`` field of cases.json (one module per component area)."""

from __future__ import annotations

import torch

from ming_edit.dev.conformance import (  # noqa: F401 - importing registers each area's runners
    runners_e2e,
    runners_flow,
    runners_llm,
    runners_prompts,
    runners_tokenizer,
)
from ming_edit.dev.conformance.golden import GoldenCase
from ming_edit.dev.conformance.registry import RUNNERS, Runner

__all__ = ["RUNNERS", "all_runners", "run_case"]


def all_runners() -> dict[str, Runner]:
    return RUNNERS


def run_case(stack, case: GoldenCase) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    fn = RUNNERS.get(case.runner)
    if fn is None:
        raise KeyError(f"no runner for {case.runner!r}")
    with torch.inference_mode():
        return fn(stack, case)

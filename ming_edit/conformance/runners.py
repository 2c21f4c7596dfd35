"""Registry of golden-case runners, keyed by the ``runner`` field of cases.json.

A runner takes (stack, case) and returns {output name: tensor} for the outputs it produced.
Runner modules (runners_<area>.py) register themselves with @runner("name").
"""

from __future__ import annotations

from typing import Callable

import torch

from ming_edit.conformance.golden import GoldenCase

Runner = Callable[..., dict[str, torch.Tensor]]
RUNNERS: dict[str, Runner] = {}

RUNNER_MODULES = (
    "ming_edit.conformance.runners_tokenizer",
    "ming_edit.conformance.runners_llm",
    "ming_edit.conformance.runners_flow",
    "ming_edit.conformance.runners_prompts",
    "ming_edit.conformance.runners_e2e",
)


def runner(name: str) -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        RUNNERS[name] = fn
        return fn

    return register


def all_runners() -> dict[str, Runner]:
    import importlib

    for module in RUNNER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
    return RUNNERS


def run_case(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    fn = all_runners().get(case.runner)
    if fn is None:
        raise KeyError(f"no runner for {case.runner!r}")
    with torch.inference_mode():
        return fn(stack, case)

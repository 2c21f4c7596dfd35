"""The runner registry: ``@runner("name")`` records a function under the ``runner`` field of cases.json.

A runner takes (stack, case) and returns {output name: tensor} for the outputs it produced.
"""

from __future__ import annotations

from typing import Callable

import torch

Runner = Callable[..., dict[str, torch.Tensor]]
RUNNERS: dict[str, Runner] = {}


def runner(name: str) -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        RUNNERS[name] = fn
        return fn

    return register


def outputs(result: object, *names: str) -> dict[str, torch.Tensor]:
    """{name: result.name} for the outputs a runner reports."""
    return {name: getattr(result, name) for name in names}

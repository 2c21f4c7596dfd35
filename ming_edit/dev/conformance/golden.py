"""Reading a golden fixture set (cases.json + cases.safetensors) and comparing outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ming_edit.model.noise import ReplayNoise


@dataclass
class GoldenCase:
    spec: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def runner(self) -> str:
        return self.spec.get("runner", self.spec["name"])

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.get("params") or {}

    def input(self, name: str) -> torch.Tensor:
        return self.tensors[self.spec["inputs"][name]["tensor"]]

    def expected(self, name: str) -> torch.Tensor:
        return self.tensors[self.spec["outputs"][name]["tensor"]]

    def noise(self) -> ReplayNoise:
        keys = (self.spec.get("noise") or {}).get("tensors") or []
        return ReplayNoise([self.tensors[k] for k in keys])


@dataclass
class OutputCheck:
    case: str
    output: str
    max_abs_err: float
    atol: float
    rtol: float
    exact: bool
    passed: bool


class GoldenSet:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.meta = json.loads((self.directory / "cases.json").read_text(encoding="utf-8"))
        self.tensors = load_file(str(self.directory / "cases.safetensors"))

    def cases(self) -> list[GoldenCase]:
        return [GoldenCase(spec, self.tensors) for spec in self.meta["cases"]]

    def case(self, name: str) -> GoldenCase:
        for spec in self.meta["cases"]:
            if spec["name"] == name:
                return GoldenCase(spec, self.tensors)
        raise KeyError(name)


def check_output(case: GoldenCase, name: str, actual: torch.Tensor) -> OutputCheck:
    out = case.spec["outputs"][name]
    expected = case.expected(name)
    actual = actual.detach().cpu()
    exact = bool(out.get("exact")) or not expected.is_floating_point()
    atol, rtol = float(out.get("atol", 0.0)), float(out.get("rtol", 0.0))
    if tuple(actual.shape) != tuple(expected.shape):
        return OutputCheck(case.name, name, float("inf"), atol, rtol, exact, False)
    if exact:
        equal = torch.equal(actual.to(expected.dtype), expected)
        return OutputCheck(case.name, name, 0.0 if equal else float("inf"), 0.0, 0.0, True, equal)
    diff = (actual.double() - expected.double()).abs()
    bound = atol + rtol * expected.double().abs()
    err = float(diff.max()) if diff.numel() else 0.0
    ok = bool(torch.all(diff <= bound)) and bool(torch.isfinite(actual).all())
    return OutputCheck(case.name, name, err, atol, rtol, False, ok)

"""Run a whole golden fixture set against our stack: the library side of `ming-edit dev conformance`.

A fixture directory holds a checkpoint (config.json, weights, tokenizer files) next to cases.json /
cases.safetensors, like tests/golden. Every case goes through its registered runner; a case without a
runner, or whose runner raises, fails with the error message instead of aborting the run.

With ``quantize="int8" | "int4"`` the LLM is loaded quantised and the cases that run it are judged
by dev/conformance/quantized.py (relative error and greedy-token agreement against the float32
goldens, with the looser tolerances documented there); every other case keeps its recorded tolerance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ming_edit.dev.conformance.golden import GoldenCase, GoldenSet, OutputCheck, check_output
from ming_edit.dev.conformance.runners import all_runners, run_case
from ming_edit.errors import CheckpointError

CASES_FILE = "cases.json"
TENSORS_FILE = "cases.safetensors"


@dataclass
class ConformanceCheck(OutputCheck):
    """An OutputCheck plus why it failed when the runner did not produce the output."""

    error: str | None = None
    seconds: float = 0.0
    rel_err: float | None = None  # quantised runs: relative L2 error against float32
    rel_tol: float | None = None
    agreement: float | None = None  # quantised runs: share of greedy tokens equal to float32's
    status: str | None = None  # quantised runs of LLM cases: pass, FAIL or diverged (see quantized.py)


def load_fixture_set(directory: str | Path) -> GoldenSet:
    """The fixture set in ``directory``, or CheckpointError naming what is missing."""
    root = Path(directory)
    if not root.is_dir():
        raise CheckpointError(f"{root}: fixture directory does not exist")
    for name in (CASES_FILE, TENSORS_FILE):
        if not (root / name).is_file():
            raise CheckpointError(f"{root}: no {name} (not a golden fixture directory)")
    try:
        return GoldenSet(root)
    except (ValueError, KeyError, OSError, RuntimeError) as err:
        raise CheckpointError(f"{root}: unreadable fixture set ({type(err).__name__}: {err})") from None


def _failed(case: GoldenCase, output: str, error: str, seconds: float) -> ConformanceCheck:
    spec = case.spec["outputs"][output]
    return ConformanceCheck(case.name, output, float("inf"), float(spec.get("atol", 0.0)),
                            float(spec.get("rtol", 0.0)), bool(spec.get("exact")), False, error, seconds)


def _quantized_checks(case: GoldenCase, produced: dict[str, torch.Tensor], mode: str,
                      seconds: float) -> list[ConformanceCheck]:
    from ming_edit.dev.conformance.quantized import judge_case

    expected = {name: case.expected(name) for name in case.spec["outputs"]}
    judged = {r.output: r for r in judge_case(case.runner, produced, expected, mode)}
    checks = []
    for name in case.spec["outputs"]:
        r = judged.get(name)
        if r is None:
            checks.append(_failed(case, name, "runner did not return this output", seconds))
            continue
        got, want = produced[name].detach().cpu(), expected[name]
        max_abs = float((got.double() - want.double()).abs().max()) if got.shape == want.shape and got.numel() else float("inf")
        checks.append(ConformanceCheck(case.name, name, max_abs, 0.0, 0.0, not want.is_floating_point(), r.passed,
                                       r.note if r.status == "FAIL" else None, seconds, r.rel_err, r.rel_tol,
                                       r.agreement, r.status if r.note is None or r.status == "FAIL" else f"{r.status}: {r.note}"))
    return checks


def check_case(stack, case: GoldenCase) -> list[ConformanceCheck]:
    """Run one case and compare every recorded output (a quantised stack's LLM cases: quantized.py)."""
    start = time.perf_counter()
    try:
        if case.runner not in all_runners():
            raise LookupError(f"no runner registered for {case.runner!r}")
        produced = run_case(stack, case)
    except Exception as err:  # a failing case must not stop the report
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        return [_failed(case, name, message, time.perf_counter() - start) for name in case.spec["outputs"]]
    seconds = time.perf_counter() - start
    mode = getattr(stack, "quantize", "none")
    if mode != "none":
        from ming_edit.dev.conformance.quantized import LLM_RUNNERS

        if case.runner in LLM_RUNNERS:
            return _quantized_checks(case, produced, mode, seconds)
    checks = []
    for name in case.spec["outputs"]:
        if name not in produced:
            checks.append(_failed(case, name, "runner did not return this output", seconds))
            continue
        c = check_output(case, name, produced[name])
        error = None
        if not c.passed and c.max_abs_err == float("inf"):
            got = tuple(produced[name].shape)
            want = tuple(case.spec["outputs"][name].get("shape", case.expected(name).shape))
            error = f"shape {got}, expected {want}" if got != tuple(want) else "values differ"
        checks.append(ConformanceCheck(c.case, c.output, c.max_abs_err, c.atol, c.rtol, c.exact, c.passed,
                                       error, seconds))
    return checks


def run_conformance(
    directory: str | Path,
    *,
    cases: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
    quantize: str = "none",
) -> list[ConformanceCheck]:
    """Load the checkpoint in ``directory`` (every component it has, float32; the LLM's linear
    layers quantised when ``quantize`` is int8 / int4) and check every case of the fixture set
    there (or only ``cases``). Raises CheckpointError for a bad directory."""
    from ming_edit.model.loader import load_stack

    fixtures = load_fixture_set(directory)
    selected = fixtures.cases()
    if cases:
        known = {c.name for c in selected}
        unknown = [n for n in cases if n not in known]
        if unknown:
            raise CheckpointError(f"{directory}: no such cases: {', '.join(unknown)}")
        selected = [c for c in selected if c.name in set(cases)]
    stack = load_stack(directory, "all", device=device, dtype=torch.float32, quantize=quantize)
    results: list[ConformanceCheck] = []
    for case in selected:
        results.extend(check_case(stack, case))
    return results

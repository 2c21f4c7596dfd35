"""Run a Plan on one file: choose the engine (exact DSP or the speech model), apply, write.

No torch at import time: the DSP engine is numpy + the sox binary, and the model path is imported only when
a plan needs it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ming_edit import audio_io
from ming_edit.errors import AudioError, UsageError
from ming_edit.plan import DSP_OPS, Plan, parse_instruction

ENGINES = ("auto", "dsp", "model")
CotCallback = Callable[[str, str], None]


@dataclass
class EditOptions:
    engine: str = "auto"
    model: str | None = None
    device: str = "auto"
    dtype: str | None = None
    seed: int | None = None
    overwrite: bool = False
    dry_run: bool = False
    subtype: str | None = None
    no_limit: bool = False
    sample_rate: int | None = None  # output rate (default: the input's)
    channels: int | None = None  # output channel count (default: the input's)


@dataclass
class EditResult:
    input: Path
    output: Path
    engine: str
    plan: Plan
    duration_in: float | None = None
    duration_out: float | None = None
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    cot: str | None = None
    cot_raw: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": str(self.input),
            "output": str(self.output),
            "engine": self.engine,
            "operations": self.plan.to_json(),
            "duration_in": _round(self.duration_in),
            "duration_out": _round(self.duration_out),
            "notes": list(self.notes),
        }
        if self.dry_run:
            out["dry_run"] = True
        if self.cot is not None:
            out["cot"] = self.cot
        if self.cot_raw is not None:
            out["cot_raw"] = self.cot_raw
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# ---- planning and routing --------------------------------------------------------------------
def make_plan(instruction: str, engine: str = "auto") -> Plan:
    """Parse ``instruction`` and check it fits ``engine``; DSP arguments are range-checked."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'; use auto, dsp or model")
    plan = parse_instruction(instruction, allow_freeform=engine == "model")
    if engine == "dsp":
        needs_model = [o.op for o in plan.operations if o.engine == "model"]
        if needs_model:
            raise UsageError(
                f"'{needs_model[0]}' needs the speech model, but --engine dsp was given; the DSP "
                f"engine does {', '.join(DSP_OPS)} (use --engine auto or model)"
            )
    dsp_ops = [o for o in plan.operations if o.op in DSP_OPS]
    if dsp_ops:
        from ming_edit.dsp import validate_operation

        for op in dsp_ops:
            validate_operation(op)
    return plan


def route(plan: Plan, engine: str = "auto") -> str:
    return "model" if engine == "model" else plan.engine


def default_output_path(input_path: Path) -> Path:
    """NAME.EXT -> NAME.edited.EXT next to the input."""
    return input_path.with_name(f"{input_path.stem}.edited{input_path.suffix}")


def check_output_path(input_path: Path, output_path: Path, *, overwrite: bool, allow_new_folder: bool = False) -> None:
    """Refuse an output that is the input, sits in a missing folder, is a folder, or exists."""
    if output_path.resolve() == input_path.resolve() or (
        output_path.exists() and os.path.samefile(output_path, input_path)
    ):
        raise UsageError(f"the output would overwrite the input {input_path}; choose another -o (inputs are never modified)")
    parent = output_path.parent
    if not parent.is_dir() and not (allow_new_folder and not parent.exists()):
        raise UsageError(f"output folder does not exist: {parent}")
    if output_path.is_dir():
        raise UsageError(f"output {output_path} is a folder; give a file name (or pass a folder as input)")
    if output_path.exists() and not overwrite:
        raise UsageError(f"{output_path} already exists; pass --overwrite to replace it")


def predicted_duration(plan: Plan, duration_in: float) -> float | None:
    """Output duration of a DSP plan (only speed changes length); None when the model decides."""
    if plan.engine != "dsp":
        return None
    rate = math.prod(float(o.args["factor"]) for o in plan.operations if o.op == "speed")
    return duration_in / rate


# ---- one file --------------------------------------------------------------------------------
def edit_file(
    input_path: Path,
    plan: Plan,
    output_path: Path | None = None,
    options: EditOptions | None = None,
    *,
    on_cot: CotCallback | None = None,
    allow_new_folder: bool = False,
) -> EditResult:
    """Apply ``plan`` to ``input_path`` and write ``output_path`` (default NAME.edited.EXT).

    ``allow_new_folder``: the output's folder may not exist yet (a batch dry run creates nothing).
    """
    options = options or EditOptions()
    output_path = output_path or default_output_path(input_path)
    engine = route(plan, options.engine)
    info = audio_io.probe(input_path)
    check_output_path(input_path, output_path, overwrite=options.overwrite, allow_new_folder=allow_new_folder)
    fmt = audio_io.output_format(output_path, info)
    subtype = audio_io.choose_subtype(fmt, info, options.subtype)
    result = EditResult(input_path, output_path, engine, plan, duration_in=info.duration)
    if options.dry_run:
        result.dry_run = True
        result.duration_out = predicted_duration(plan, info.duration) if engine == "dsp" else None
        return result
    if engine == "model":
        if options.sample_rate or options.channels:
            raise UsageError("--sample-rate/--channels apply to DSP edits; model edits keep the input's format")
        return _edit_with_model(result, options, on_cot)
    return _edit_with_dsp(result, fmt, subtype, options)


def _edit_with_dsp(result: EditResult, fmt: str, subtype: str, options: EditOptions) -> EditResult:
    from ming_edit.dsp import apply_operations

    audio, info = audio_io.read_audio(result.input)
    result.duration_in = info.duration  # decoded length (a lossy file's header may differ a little)
    if any(o.op == "loudness" for o in result.plan.operations) and not audio.any():
        raise AudioError(f"{result.input} is silent (every sample is zero); there is no loudness to normalise")
    processed = apply_operations(audio, info.sample_rate, result.plan.operations)
    del audio  # keep peak memory to a few copies on long files
    edited = processed.audio
    if edited.ndim == 1:
        edited = edited[:, None]
    result.notes.extend(processed.notes)
    rate = info.sample_rate
    if options.channels and options.channels != edited.shape[1]:
        from ming_edit.dsp.convert import remix

        result.notes.append(f"channels {edited.shape[1]} -> {options.channels}")
        edited = remix(edited, options.channels)
    if options.sample_rate and options.sample_rate != rate:
        from ming_edit.dsp.convert import resample

        result.notes.append(f"sample rate {rate} -> {options.sample_rate} Hz")
        edited, rate = resample(edited, rate, options.sample_rate), options.sample_rate
    if edited.shape[0] == 0:  # e.g. a one-sample clip made 4x faster: never write an empty file
        raise AudioError(f"{result.input} is too short for this edit: nothing would be left of it")
    audio_io.check_finite(edited, rate, Path("the edited audio"))
    edited, note = audio_io.protect_from_clipping(edited, subtype, no_limit=options.no_limit)
    if note:
        result.notes.append(note)
    audio_io.write_audio_atomic(result.output, edited, rate, fmt=fmt, subtype=subtype)
    result.duration_out = edited.shape[0] / rate
    return result


def _edit_with_model(result: EditResult, options: EditOptions, on_cot: CotCallback | None) -> EditResult:
    from ming_edit.model_edit import edit_with_model

    cot_seen: list[str] = []

    def cot(raw: str, rendered: str) -> None:
        cot_seen.append(rendered)
        if on_cot is not None:
            on_cot(raw, rendered)

    ops = result.plan.operations
    outcome = edit_with_model(
        result.input,
        result.plan.model_instruction(),
        result.output,
        # one step: hand over the parsed operation so the prompt uses the trained template directly
        operation=ops[0] if len(ops) == 1 else None,
        model=options.model,
        device=options.device,
        dtype=options.dtype,
        seed=options.seed,
        on_cot=cot,
        no_limit=options.no_limit,
    )
    result.duration_in = outcome.duration_in
    result.duration_out = outcome.duration_out
    result.notes.extend(outcome.notes)
    result.cot = outcome.cot_rendered if outcome.cot_rendered else (cot_seen[-1] if cot_seen else None)
    result.cot_raw = outcome.cot_raw or None
    return result

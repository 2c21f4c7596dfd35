"""Edit one file: parse and route the plan (exact DSP engine or the edit model), apply, write.

No torch at import time: the DSP engine is numpy + the sox binary, and the model path
(pipelines/regenerate.py) is imported only when a plan needs it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ming_edit.errors import AudioError, UsageError
from ming_edit.io import audio as audio_in
from ming_edit.io import files, formats
from ming_edit.io.writer import write_checked
from ming_edit.ops.operation import DEFAULT_LUFS, DEFAULT_TRUE_PEAK, DSP_OPS, FORMAT_OPS, Operation, Plan
from ming_edit.ops.parser import parse_instruction
from ming_edit.options import CotCallback, EditOptions, EditResult, ProgressCallback


def make_plan(instruction: str, engine: str = "auto") -> Plan:
    """Parse ``instruction`` and check it fits ``engine``; DSP arguments are range-checked."""
    if engine not in ("auto", "dsp", "model"):
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


def predicted_duration(plan: Plan, duration_in: float) -> float | None:
    """Output duration of a DSP plan; None when the model decides or it depends on the audio
    (trimming silence, shortening pauses)."""
    if plan.engine != "dsp":
        return None
    duration: float | None = duration_in
    for op in plan.operations:
        a = op.args
        if duration is None or op.op in ("trim", "pauses"):  # these depend on where the silence is
            return None
        if op.op == "speed":
            duration = float(a["duration"]) if "duration" in a else duration / float(a["factor"])
        elif op.op == "pad":
            duration += float(a.get("start", 0.0)) + float(a.get("end", 0.0))
        elif op.op in ("cut", "keep"):
            if "first" in a or "last" in a:
                span = min(duration, float(a.get("first", a.get("last", 0.0))))
            else:
                end = duration if a.get("end") is None else min(duration, float(a["end"]))
                span = max(0.0, end - float(a.get("start", 0.0)))
            duration = span if op.op == "keep" else duration - span
    return duration


def _output_for(plan: Plan, input_path: Path, output_path: Path | None) -> Path:
    """The -o path, or NAME.edited.EXT; "convert to mp3" picks EXT and must agree with -o."""
    named = [o.args["to"] for o in plan.operations if o.op == "convert" and "to" in o.args]
    if output_path is None:
        default = files.default_output_path(input_path)
        return default.with_suffix(f".{named[-1]}") if named else default
    if named and output_path.suffix.lower() != f".{named[-1]}":
        raise UsageError(f'the instruction converts to {named[-1]} but -o {output_path} names another format')
    return output_path


def edit_file(
    input_path: Path,
    plan: Plan,
    output_path: Path | None = None,
    options: EditOptions = EditOptions(),
    *,
    on_cot: CotCallback | None = None,
    on_progress: ProgressCallback | None = None,
    allow_new_folder: bool = False,
    measure_dry_run: bool = True,
) -> EditResult:
    """Apply ``plan`` to ``input_path`` and write ``output_path`` (default NAME.edited.EXT).

    ``allow_new_folder``: the output's folder may not exist yet (a batch dry run creates nothing).
    ``measure_dry_run``: a DSP dry run measures the figures the plan depends on (current loudness,
    peaks; pipelines/info.plan_figures), one read of the file; folders skip it.
    """
    input_path = Path(input_path)
    output_path = _output_for(plan, input_path, Path(output_path) if output_path is not None else None)
    engine = route(plan, options.engine)
    info = audio_in.probe(input_path)
    plan, denoiser_notes = resolve_denoiser(plan, options.denoiser)
    files.check_output_path(input_path, output_path, overwrite=options.overwrite, allow_new_folder=allow_new_folder)
    fmt = formats.output_format(output_path, info)
    subtype = formats.choose_subtype(output_path, fmt, info, options.subtype)
    channels, sample_rate = conversion_targets(plan, options)
    formats.encoder_settings(subtype, channels or info.channels, sample_rate or info.sample_rate,
                             options.bitrate)  # refuse a bad --bitrate before any work
    result = EditResult(input_path, output_path, engine, plan, duration_in=info.duration, notes=tuple(denoiser_notes))
    if engine == "model":
        if options.sample_rate or options.channels or any(o.op in ("channels", "resample") for o in plan.operations):
            raise UsageError("channel and sample-rate changes apply to DSP edits; model edits keep the input's format")
        stages = engine_stages(plan) if options.engine == "auto" else [plan]
        if options.dry_run and len(stages) > 1:
            return replace(result, dry_run=True)
        if len(stages) > 1:
            return _edit_in_stages(result, stages, fmt, subtype, options, on_cot, on_progress)
        from ming_edit.pipelines.model_edit import edit_with_model

        return edit_with_model(result, fmt, subtype, options, on_cot=on_cot, on_progress=on_progress)
    if options.dry_run:
        result = replace(result, dry_run=True, duration_out=predicted_duration(plan, info.duration))
        if not measure_dry_run:
            return result
        from ming_edit.pipelines.info import plan_figures

        figures, lines = plan_figures(input_path, plan.operations)
        return replace(result, measured=figures, notes=result.notes + tuple(lines))
    return _edit_with_dsp(result, fmt, subtype, options, on_progress)


def resolve_denoiser(plan: Plan, choice: str) -> tuple[Plan, list[str]]:
    """The plan with each denoise step's method decided: --denoiser auto takes DeepFilterNet3
    when its package is installed (else the classic MMSE-LSA denoiser, with a note)."""
    if not any(o.op == "denoise" and "method" not in o.args for o in plan.operations):
        return plan, []
    notes: list[str] = []
    method = "classic"
    if choice != "classic":
        from ming_edit.dsp import deepfilter

        if choice == "deepfilter":
            deepfilter.load_runtime()  # missing or broken: one line naming the package and --denoiser classic
            method = "deepfilter"
        elif deepfilter.available():
            method = "deepfilter"
        else:
            notes.append(f"DeepFilterNet3 is not available (pip install {deepfilter.PACKAGE}): denoised with the "
                         "classic MMSE-LSA denoiser")
    ops = tuple(Operation("denoise", {**o.args, "method": method}) if o.op == "denoise" and "method" not in o.args
                else o for o in plan.operations)
    return Plan(plan.instruction, ops), notes


def engine_stages(plan: Plan) -> list[Plan]:
    """The plan cut into runs of consecutive steps on the same engine, in the written order."""
    stages: list[list] = []
    for op in plan.operations:
        if stages and stages[-1][0].engine == op.engine:
            stages[-1].append(op)
        else:
            stages.append([op])
    return [Plan(plan.instruction, tuple(ops)) for ops in stages]


def _edit_in_stages(result: EditResult, stages: list[Plan], fmt: str, subtype: str, options: EditOptions,
                    on_cot: CotCallback | None, on_progress: ProgressCallback | None) -> EditResult:
    """Each stage on its own engine (DSP steps exact, model steps windowed and spliced), through
    lossless intermediates in a hidden folder beside the output (removed however it ends)."""
    import tempfile

    from ming_edit.pipelines.model_edit import edit_with_model

    notes: list[str] = []
    last: EditResult | None = None
    with tempfile.TemporaryDirectory(dir=result.output.parent, prefix=".ming-edit-") as tmp:
        source = result.input
        for index, stage in enumerate(stages):
            final = index == len(stages) - 1
            target = result.output if final else Path(tmp) / f"stage{index}.wav"
            step = replace(result, input=source, output=target, plan=stage, engine=stage.engine)
            step_fmt, step_subtype = (fmt, subtype) if final else ("WAV", "DOUBLE")
            if stage.engine == "model":
                last = edit_with_model(step, step_fmt, step_subtype, replace(options, subtype=None),
                                       on_cot=on_cot, on_progress=on_progress)
            else:
                last = _edit_with_dsp(step, step_fmt, step_subtype, options, on_progress)
            notes += last.notes
            source = target
    return replace(last, input=result.input, output=result.output, plan=result.plan, engine="model",
                   duration_in=result.duration_in, notes=tuple(notes))


def _edit_with_dsp(result: EditResult, fmt: str, subtype: str, options: EditOptions,
                   on_progress: ProgressCallback | None = None) -> EditResult:
    """Plans whose steps all stream (pipelines/stream_edit.can_stream) run block by block in
    constant memory; the others (denoise; loudness into a lossy file) are decoded whole."""
    from ming_edit.pipelines.stream_edit import can_stream, edit_streamed

    if can_stream(result.plan, subtype):
        return edit_streamed(result, fmt, subtype, options, *conversion_targets(result.plan, options), on_progress)
    from ming_edit.dsp import apply_operations

    audio, info = audio_in.read_audio(result.input)
    ops = tuple(o for o in result.plan.operations if o.op not in FORMAT_OPS)
    # format conversions first: loudness and peaks are then measured on what is written
    channels, sample_rate = conversion_targets(result.plan, options)
    audio, rate, notes = _convert(audio, info.sample_rate, channels, sample_rate)
    notes = list(result.notes) + notes
    processed = apply_operations(audio, rate, ops)
    del audio  # keep peak memory to a few copies on long files
    edited = processed.audio if processed.audio.ndim == 2 else processed.audio[:, None]
    notes += processed.notes
    if edited.shape[0] == 0:  # e.g. a one-sample clip made 4x faster: never write an empty file
        raise AudioError(f"{result.input} is too short for this edit: nothing would be left of it")
    loudness = [o for o in ops if o.op == "loudness"]
    if loudness and subtype in formats.LOSSY_SUBTYPES and ops[-1].op == "loudness":
        from ming_edit.dsp.loudness.normalize import fit_decoded
        from ming_edit.io.writer import round_trip

        args = loudness[-1].args
        edited, note = fit_decoded(
            edited, rate, float(args.get("lufs", DEFAULT_LUFS)), float(args.get("true_peak_db", DEFAULT_TRUE_PEAK)),
            lambda a: round_trip(a, rate, fmt=fmt, subtype=subtype, kbps=options.bitrate))
        notes += [note] if note else []
    note, clip_gain_db = write_checked(result.output, edited, rate, fmt=fmt, subtype=subtype,
                                       no_limit=options.no_limit, what="the edited audio", kbps=options.bitrate)
    notes += [note] if note else []
    # decoded length (a lossy file's header may differ a little)
    return replace(result, duration_in=info.duration, duration_out=edited.shape[0] / rate, notes=tuple(notes),
                   clip_gain_db=clip_gain_db)


def conversion_targets(plan: Plan, options: EditOptions) -> tuple[int | None, int | None]:
    """(channels, sample rate) the output must have: from --channels / --sample-rate or the plan's
    format steps ("make it mono", "resample to 48 kHz"); the two disagreeing is a usage error."""
    wanted = {"channels": options.channels, "sample_rate": options.sample_rate}
    for op in plan.operations:
        for key in ("channels", "sample_rate"):
            value = op.args.get(key) if op.op in FORMAT_OPS else None
            if value is None:
                continue
            if wanted[key] not in (None, value):
                raise UsageError(f"the instruction asks for {key.replace('_', ' ')} {value} but the options say {wanted[key]}")
            wanted[key] = value
    return wanted["channels"], wanted["sample_rate"]


def _convert(audio: np.ndarray, rate: int, channels: int | None, sample_rate: int | None) -> tuple[np.ndarray, int, list[str]]:
    """Channel and sample-rate changes applied to the decoded input."""
    notes: list[str] = []
    if channels and channels != audio.shape[1]:
        from ming_edit.dsp.convert import remix

        notes.append(f"channels {audio.shape[1]} -> {channels}")
        audio = remix(audio, channels)
    if sample_rate and sample_rate != rate:
        from ming_edit.dsp.convert import resample

        notes.append(f"sample rate {rate} -> {sample_rate} Hz")
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return audio, rate, notes

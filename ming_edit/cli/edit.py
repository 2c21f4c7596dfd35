"""`ming-edit edit IN "instruction"`: one file or a folder, DSP or model, human or JSON output."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ming_edit.cli import params
from ming_edit.errors import AudioError
from ming_edit.ops.operation import Plan
from ming_edit.options import CotCallback, EditOptions

EDIT_EPILOG = (
    "Instructions (English or Chinese, several steps in order): "
    "'normalize for podcasts' (-16 LUFS, -1 dBTP); 'normalize to -14 LUFS'; 'turn it down 6 dB'; "
    "'half the volume'; 'make it 20% faster'; 'adjust the speed to 0.7'; 'raise the pitch by two "
    "semitones'; 'denoise and normalize to -16 LUFS'; '把音量调到0.5'; '先降噪再把音量调到0.8'. "
    "Model edits: \"delete the word 'um'\", \"replace 'cat' with 'dog'\", \"insert 'really' after 'is'\", "
    "'make it sound happy', 'convert to Cantonese', 'add rain sound in the background'. "
    "Exit codes: 0 ok, 1 bad audio / failed files, 2 usage, 3 model needed, 130 interrupted, 143 terminated."
)


class Engine(str, Enum):
    auto = "auto"
    dsp = "dsp"
    model = "model"


class Denoiser(str, Enum):
    auto = "auto"
    deepfilter = "deepfilter"
    classic = "classic"


def edit_command(
    input: Path = typer.Argument(..., help="Audio file, or a folder of audio files.", show_default=False),
    instruction: str = typer.Argument(..., help="What to do, e.g. \"normalize for podcasts\".", show_default=False),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (default NAME.edited.EXT), or folder for a folder input (default DIR.edited)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; write nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (nothing else)."),
    overwrite: bool = params.OVERWRITE,
    engine: Engine = typer.Option(Engine.auto, "--engine", case_sensitive=False, help="auto: DSP when the instruction allows it, else the model."),
    model: Optional[Path] = params.MODEL,
    device: str = params.DEVICE,
    dtype: Optional[str] = params.DTYPE,
    quantize: Optional[str] = params.QUANTIZE,
    offload: Optional[str] = params.OFFLOAD,
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (model edits)."),
    recursive: bool = typer.Option(False, "-r", "--recursive", help="Folder input: include subfolders (mirrored under the output folder)."),
    subtype: Optional[str] = typer.Option(None, "--subtype", help="Output sample format, e.g. PCM_16, PCM_24, FLOAT (default: keep the input's)."),
    no_limit: bool = typer.Option(False, "--no-limit", help="Refuse instead of scaling when the result would clip."),
    sample_rate: Optional[int] = typer.Option(None, "--sample-rate", help="Output sample rate in Hz (default: keep the input's; DSP edits)."),
    channels: Optional[int] = typer.Option(None, "--channels", help="Output channels: 1 downmixes, N copies mono (default: keep the input's; DSP edits)."),
    bitrate: Optional[int] = typer.Option(None, "--bitrate", metavar="KBPS", help="mp3 / opus output bitrate (default: mp3 128 mono, 192 stereo; opus 64 mono, 96 stereo)."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Folder input: leave outputs that already exist alone (re-running a batch)."),
    transcript: Optional[Path] = typer.Option(None, "--transcript", metavar="FILE", help="Model word edits: the `ming-edit transcribe -f json` output that locates the words (default: transcribe the windows with the model)."),
    occurrence: Optional[int] = typer.Option(None, "--occurrence", metavar="N", help="Model word edits: edit only the N-th occurrence of the words (default: every one)."),
    keep_going: bool = typer.Option(False, "--keep-going", help="Model edits: a window the model fails on is left as it was, exit 0 (default: exit 1, the rest written)."),
    whole_clip: bool = typer.Option(False, "--whole-clip", help="Model edits: write the model's whole output, as upstream does, instead of splicing the edit into the original."),
    denoiser: Denoiser = typer.Option(Denoiser.auto, "--denoiser", case_sensitive=False, help="Denoise steps: auto (DeepFilterNet3 when installed, else classic), deepfilter, classic (MMSE-LSA)."),
) -> None:
    """Edit a recording (or a folder of them) as the instruction says."""
    from ming_edit.cli import render
    from ming_edit.dsp.convert import validate_conversion
    from ming_edit.pipelines.edit import edit_file, make_plan

    model_options = params.model_options(model, device, dtype, seed, quantize, offload)
    plan = make_plan(instruction, engine.value)
    validate_conversion(sample_rate, channels)
    options = EditOptions(
        engine=engine.value, overwrite=overwrite, dry_run=dry_run, subtype=subtype, no_limit=no_limit,
        sample_rate=sample_rate, channels=channels, bitrate=bitrate, skip_existing=skip_existing, model=model_options,
        transcript=transcript, occurrence=occurrence, keep_going=keep_going, whole_clip=whole_clip,
        denoiser=denoiser.value,
    )
    on_cot = render.cot_printer(json_out)
    if input.is_dir():
        _edit_folder(input, plan, output, options, recursive=recursive, json_out=json_out, on_cot=on_cot)
        return
    from ming_edit.pipelines.model_edit import WindowsFailedError

    failed: WindowsFailedError | None = None
    with render.task_progress() as on_progress:
        try:
            result = edit_file(input, plan, output, options, on_cot=on_cot, on_progress=on_progress)
        except WindowsFailedError as err:  # written, but some windows kept: report it, then exit 1
            result, failed = err.result, err
    if json_out:
        render.emit_json(result.to_json())
    else:
        render.print_result(result)
    if failed is not None:
        raise failed


def _edit_folder(input_dir: Path, plan: Plan, output: Optional[Path], options: EditOptions, *, recursive: bool,
                 json_out: bool, on_cot: CotCallback) -> None:
    from ming_edit.cli import render
    from ming_edit.pipelines.batch import run_batch

    show_bar = sys.stderr.isatty() and not options.dry_run
    with render.batch_progress(show_bar) as (on_start, on_done):
        result = run_batch(input_dir, plan, output, options, recursive=recursive, on_start=on_start, on_done=on_done, on_cot=on_cot)
    if json_out:
        render.emit_json(result.to_json())
        render.batch_notes(result)
        for failure in result.failed:
            render.err(f"FAILED {failure.input}: {failure.error}")
    else:
        render.print_batch_summary(result, options.dry_run)
    if result.failed:
        total = len(result.done) + len(result.failed)
        raise AudioError(f"{len(result.failed)} of {total} files failed")

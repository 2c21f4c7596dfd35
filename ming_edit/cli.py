"""The `ming-edit` command line (Typer). Thin: parse, call the library, render.

Startup stays light: no torch, no scipy, no rich at import; each command imports what it needs.
A MingEditError anywhere becomes one line `ming-edit: error: ...` on stderr and its exit code.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from ming_edit import __version__
from ming_edit.errors import MingEditError, UsageError

PROG = "ming-edit"


def error_line(err: BaseException) -> str:
    return f"{PROG}: error: " + " ".join(str(err).split())


try:  # recent typer vendors click as typer._click; older releases use click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException, NoArgsIsHelpError


def usage_error_line(err: Any) -> str:
    """A click usage error (unknown option, missing argument, bad value) as one line."""
    message = " ".join(err.format_message().split()).replace("Value error, ", "")  # pydantic's prefix
    line = f"{PROG}: error: {message}"
    ctx = getattr(err, "ctx", None)
    if ctx is not None:
        line += f" (see '{ctx.command_path} --help')"
    return line


class MingGroup(TyperGroup):
    """Turns user-facing errors raised by any command into one line + exit code (no traceback)."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Like click's standalone mode, but usage errors are one line (`ming-edit: error: ...`)
        instead of typer's multi-line box, so scripts and logs see the same format as our errors."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:  # bare `ming-edit` / `ming-edit models`: the help was shown
            if err.format_message().strip():
                err.show()
            sys.exit(err.exit_code)
        except ClickException as err:
            sys.stderr.write(usage_error_line(err) + "\n")
            sys.exit(err.exit_code)
        except typer.Abort:
            sys.stderr.write(f"{PROG}: interrupted\n")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MingEditError as err:
            sys.stderr.write(error_line(err) + "\n")
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            sys.stderr.write(f"{PROG}: interrupted\n")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=MingGroup,
    name=PROG,
    help="Edit speech recordings from plain-language instructions: exact DSP edits "
    "(volume, loudness, speed, pitch, denoise) and the Ming-UniAudio model (words, emotion, dialect).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Edit speech recordings from plain-language instructions."""


class Engine(str, Enum):
    auto = "auto"
    dsp = "dsp"
    model = "model"


EDIT_EPILOG = (
    "Instructions (English or Chinese, several steps in order): "
    "'normalize for podcasts' (-16 LUFS, -1 dBTP); 'normalize to -14 LUFS'; 'turn it down 6 dB'; "
    "'half the volume'; 'make it 20% faster'; 'adjust the speed to 0.7'; 'raise the pitch by two "
    "semitones'; 'denoise and normalize to -16 LUFS'; '把音量调到0.5'; '先降噪再把音量调到0.8'. "
    "Model edits: \"delete the word 'um'\", \"replace 'cat' with 'dog'\", \"insert 'really' after 'is'\", "
    "'make it sound happy', 'convert to Cantonese', 'add rain sound in the background'. "
    "Exit codes: 0 ok, 1 bad audio / failed files, 2 usage, 3 model needed, 130 interrupted."
)
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
_DTYPES = ("auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16")


@app.command(epilog=EDIT_EPILOG)
def edit(
    input: Path = typer.Argument(..., help="Audio file, or a folder of audio files.", show_default=False),
    instruction: str = typer.Argument(..., help="What to do, e.g. \"normalize for podcasts\".", show_default=False),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (default NAME.edited.EXT), or folder for a folder input (default DIR.edited)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; write nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (nothing else)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
    engine: Engine = typer.Option(Engine.auto, "--engine", case_sensitive=False, help="auto: DSP when the instruction allows it, else the model."),
    model: Optional[str] = typer.Option(None, "--model", metavar="DIR", help="Model checkpoint directory (default $MING_EDIT_MODEL)."),
    device: str = typer.Option("auto", "--device", help="auto, cuda, cuda:N or cpu (model edits)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="auto, fp32, bf16 or fp16 (model edits)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (model edits)."),
    recursive: bool = typer.Option(False, "-r", "--recursive", help="Folder input: include subfolders (mirrored under the output folder)."),
    subtype: Optional[str] = typer.Option(None, "--subtype", help="Output sample format, e.g. PCM_16, PCM_24, FLOAT (default: keep the input's)."),
    no_limit: bool = typer.Option(False, "--no-limit", help="Refuse instead of scaling when the result would clip."),
    sample_rate: Optional[int] = typer.Option(None, "--sample-rate", help="Output sample rate in Hz (default: keep the input's; DSP edits)."),
    channels: Optional[int] = typer.Option(None, "--channels", help="Output channels: 1 downmixes, N copies mono (default: keep the input's; DSP edits)."),
) -> None:
    """Edit a recording (or a folder of them) as the instruction says."""
    from ming_edit import render
    from ming_edit.edit import EditOptions, edit_file, make_plan

    if not _DEVICE.match(device):
        raise UsageError(f"unknown device '{device}'; use auto, cpu, cuda or cuda:N")
    if dtype is not None and dtype.lower() not in _DTYPES:
        raise UsageError(f"unknown dtype '{dtype}'; use auto, fp32, bf16 or fp16")
    plan = make_plan(instruction, engine.value)
    from ming_edit.dsp.convert import validate_conversion

    validate_conversion(sample_rate, channels)
    options = EditOptions(
        engine=engine.value, model=model, device=device, dtype=dtype, seed=seed, overwrite=overwrite,
        dry_run=dry_run, subtype=subtype, no_limit=no_limit, sample_rate=sample_rate, channels=channels,
    )
    on_cot = render.cot_printer(json_out)
    if input.is_dir():
        _edit_folder(input, plan, output, options, recursive=recursive, json_out=json_out, on_cot=on_cot)
        return
    result = edit_file(input, plan, output, options, on_cot=on_cot)
    if json_out:
        render.emit_json(result.to_json())
    else:
        render.print_result(result)


def _edit_folder(input_dir: Path, plan: Any, output: Optional[Path], options: Any, *, recursive: bool, json_out: bool, on_cot: Any) -> None:
    from ming_edit import render
    from ming_edit.batch import run_batch

    show_bar = sys.stderr.isatty() and not options.dry_run
    with render.batch_progress(show_bar) as (on_start, on_done):
        result = run_batch(input_dir, plan, output, options, recursive=recursive, on_start=on_start, on_done=on_done, on_cot=on_cot)
    if json_out:
        render.emit_json(result.to_json())
        for failure in result.failed:
            render.err(f"FAILED {failure.input}: {failure.error}")
    else:
        render.print_batch_summary(result.done, result.failed, result.output_dir, options.dry_run)
    if result.failed:
        total = len(result.done) + len(result.failed)
        render.err(error_line(RuntimeError(f"{len(result.failed)} of {total} files failed")))
        raise typer.Exit(1)


def _register_optional_commands(root: typer.Typer) -> None:
    """Command groups written alongside this one; tolerated as absent only while being written."""
    try:
        from ming_edit.commands.dev import app as dev_app
    except ModuleNotFoundError as err:
        if err.name != "ming_edit.commands.dev":
            raise
    else:
        root.add_typer(dev_app, name="dev")
    try:
        from ming_edit.commands import speech
    except ModuleNotFoundError as err:
        if err.name != "ming_edit.commands.speech":
            raise
    else:
        speech.register(root)


_register_optional_commands(app)


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name=PROG)
    except MingEditError as err:  # raised outside a command (e.g. while completing)
        sys.stderr.write(error_line(err) + "\n")
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()

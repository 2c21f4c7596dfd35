"""`ming-edit transcribe | speak | clone | models ...`: thin Typer wrappers over the library.

No torch import here: the library modules load the model stack inside their functions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, NoReturn, Optional, TypeVar

import typer

from ming_edit.errors import MingEditError

T = TypeVar("T")

MODEL_HELP = "checkpoint directory (default: $MING_EDIT_MODEL, then the Hugging Face cache)"
DEVICE_HELP = "auto, cuda, cuda:N or cpu"
DTYPE_HELP = "auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16"


def _fail(err: MingEditError) -> NoReturn:
    typer.echo("ming-edit: error: " + " ".join(str(err).split()), err=True)
    raise typer.Exit(err.exit_code)


def _run(fn: Callable[[], T]) -> T:
    """Run a library call; a user-facing error becomes one line on stderr and its exit code."""
    try:
        return fn()
    except MingEditError as err:
        _fail(err)


def transcribe_command(
    inputs: list[Path] = typer.Argument(..., help="audio files or folders"),
    context: Optional[Path] = typer.Option(None, "--context", help="hotword file: one term per line (or comma-separated)"),
    lang: Optional[str] = typer.Option(None, "--lang", help="force the language/dialect, e.g. English, Chinese, Canton, 川渝"),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="txt, json, srt or vtt (default: from -o, else txt)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="output file (one input) or folder (several)"),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    dtype: Optional[str] = typer.Option(None, "--dtype", help=DTYPE_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for the tokenizer's posterior sample"),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="chunks of a long file decoded together"),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=1, help="token limit per chunk"),
    with_tokens: bool = typer.Option(False, "--with-tokens", hidden=True, help="json: include token ids"),
) -> None:
    """Transcribe speech to text (txt/json/srt/vtt); long recordings are split at pauses."""
    from ming_edit import transcribe

    def go() -> None:
        transcribe.run_transcribe_command(
            inputs, output=output, fmt=fmt, context=context, lang=lang, model=model, device=device,
            dtype=dtype, seed=seed, batch_size=batch_size, max_new_tokens=max_new_tokens, with_tokens=with_tokens,
        )

    _run(go)


# options speak and clone share (typer only reads these declarations, so one can serve both)
OUTPUT_OPTION = typer.Option(..., "-o", "--output", help="output audio file (.wav, .flac, .ogg, ...)")
SAMPLE_RATE_OPTION = typer.Option(16000, "--sample-rate", min=8000, max=192000, help="output sample rate")
PAUSE_OPTION = typer.Option(0.3, "--pause", min=0.0, max=5.0, help="silence between sentences, seconds")
MODEL_OPTION = typer.Option(None, "--model", help=MODEL_HELP)
DEVICE_OPTION = typer.Option("auto", "--device", help=DEVICE_HELP)
DTYPE_OPTION = typer.Option(None, "--dtype", help=DTYPE_HELP)
SEED_OPTION = typer.Option(None, "--seed", help="seed for the flow sampler")
OVERWRITE_OPTION = typer.Option(False, "--overwrite", help="replace an existing output file")


def speak_command(
    text: str = typer.Argument(..., help="text to speak ('-' reads standard input)"),
    output: Path = OUTPUT_OPTION,
    voice: Optional[Path] = typer.Option(None, "--voice", help="reference clip of the voice to use"),
    voice_text: Optional[str] = typer.Option(None, "--voice-text", help="transcript of --voice (default: transcribe it)"),
    sample_rate: int = SAMPLE_RATE_OPTION,
    pause: float = PAUSE_OPTION,
    model: Optional[Path] = MODEL_OPTION,
    device: str = DEVICE_OPTION,
    dtype: Optional[str] = DTYPE_OPTION,
    seed: Optional[int] = SEED_OPTION,
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Text to speech, in the built-in voice or the voice of --voice."""
    from ming_edit import speak

    if text == "-":
        text = sys.stdin.read()
    result = _run(lambda: speak.speak(
        text, output, voice=voice, voice_text=voice_text, sample_rate=sample_rate, pause=pause,
        model=model, device=device, dtype=dtype, seed=seed, overwrite=overwrite,
    ))
    _report(result)


def clone_command(
    reference: Path = typer.Argument(..., help="reference clip of the voice to clone (a few seconds of speech)"),
    text: str = typer.Argument(..., help="text to speak ('-' reads standard input)"),
    output: Path = OUTPUT_OPTION,
    ref_text: Optional[str] = typer.Option(None, "--ref-text", help="transcript of the reference (default: transcribe it)"),
    sample_rate: int = SAMPLE_RATE_OPTION,
    pause: float = PAUSE_OPTION,
    model: Optional[Path] = MODEL_OPTION,
    device: str = DEVICE_OPTION,
    dtype: Optional[str] = DTYPE_OPTION,
    seed: Optional[int] = SEED_OPTION,
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Zero-shot voice cloning: speak TEXT in the voice of REFERENCE."""
    from ming_edit import speak

    if text == "-":
        text = sys.stdin.read()
    result = _run(lambda: speak.clone(
        reference, text, output, ref_text=ref_text, sample_rate=sample_rate, pause=pause,
        model=model, device=device, dtype=dtype, seed=seed, overwrite=overwrite,
    ))
    if result.reference_text_transcribed:
        typer.echo(f"reference transcript: {result.reference_text}", err=True)
    _report(result)


def _report(result: "speak.SpeakResult") -> None:  # noqa: F821 - imported lazily
    if result.clipped_samples:
        typer.echo(f"note: {result.clipped_samples} generated samples exceeded full scale and were clipped", err=True)
    typer.echo(f"wrote {result.output} ({result.duration:.2f} s, {result.sentences} sentence(s))", err=True)


# ----- models -----

models_app = typer.Typer(help="List, locate and download the model checkpoints.", no_args_is_help=True)


@models_app.command("list")
def models_list() -> None:
    """Known checkpoints, their role and size, and whether a local copy was found."""
    from rich.console import Console
    from rich.table import Table

    from ming_edit import registry

    table = Table(title="Ming-UniAudio checkpoints")
    for column in ("name", "repo", "role", "size", "VRAM", "local"):
        table.add_column(column)
    for entry in registry.load_registry():
        found = registry.find_in_cache(entry)
        if found is not None:
            size = f"{registry.directory_size(found) / 1e9:.1f} GB"
            local = str(found)
        else:
            size, local = f"~{entry.size_gb:g} GB", "no"
        table.add_row(entry.name, entry.repo_id, ",".join(entry.roles), size, f"~{entry.vram_gb:g} GB", local)
    console = Console()
    if not console.is_terminal:  # piped: no wrapping, so scripts can grep whole names and paths
        console = Console(width=400)
    console.print(table)
    import os

    if os.environ.get(registry.MODEL_ENV):
        console.print(f"{registry.MODEL_ENV}={os.environ[registry.MODEL_ENV]} (used for every role)")


@models_app.command("path")
def models_path(name: str = typer.Argument(..., help="model name or repo id (see `models list`)")) -> None:
    """Print the local directory of a downloaded checkpoint."""
    from ming_edit import registry

    entry = _run(lambda: registry.get_entry(name))
    found = registry.find_in_cache(entry)
    if found is None:
        _fail(MingEditError(f"{entry.repo_id} is not in the Hugging Face cache; run `ming-edit models pull {entry.name}`"))
    typer.echo(str(found))


@models_app.command("pull")
def models_pull(name: str = typer.Argument(..., help="model name or repo id (see `models list`)")) -> None:
    """Download a checkpoint into the Hugging Face cache."""
    from ming_edit import registry

    path = _run(lambda: registry.pull(name))
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add transcribe, speak, clone and the `models` group to the main app."""
    app.command("transcribe")(transcribe_command)
    app.command("speak")(speak_command)
    app.command("clone")(clone_command)
    app.add_typer(models_app, name="models")


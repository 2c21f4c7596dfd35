"""`ming-edit transcribe | speak | clone`: thin Typer wrappers over the pipelines.

No torch import here: the pipelines load the model stack inside their functions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ming_edit.cli import params, render
from ming_edit.errors import AudioError


def transcribe_command(
    inputs: list[Path] = typer.Argument(..., help="Audio files or folders."),
    context: Optional[Path] = typer.Option(None, "--context", help="Hotword file: one term per line (or comma-separated)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Force the language/dialect, e.g. English, Chinese, Canton, 川渝."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Format: txt, json, srt or vtt (default: from -o, else txt)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (one input) or folder (several)."),
    model: Optional[Path] = params.MODEL,
    device: str = params.DEVICE,
    dtype: Optional[str] = params.DTYPE,
    quantize: Optional[str] = params.QUANTIZE,
    offload: Optional[str] = params.OFFLOAD,
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the tokenizer's posterior sample."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Chunks of a long file decoded together."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", min=1, help="Token limit per chunk."),
    with_tokens: bool = typer.Option(False, "--with-tokens", hidden=True, help="JSON: include token ids."),
) -> None:
    """Transcribe speech to text (txt/json/srt/vtt); long recordings are split at pauses."""
    from ming_edit.options import TranscribeOptions
    from ming_edit.pipelines.transcribe import output_format, read_hotwords, transcribe_inputs
    from ming_edit.speech.subtitles import Transcript, render as render_transcripts

    model_options = params.model_options(model, device, dtype, seed, quantize, offload)
    fmt = output_format(fmt, output)
    hotwords = tuple(read_hotwords(context)) if context is not None else ()
    options = TranscribeOptions(fmt=fmt, lang=lang, hotwords=hotwords, batch_size=batch_size,
                                max_new_tokens=max_new_tokens, with_tokens=with_tokens)
    several = len(inputs) > 1 or any(p.is_dir() for p in inputs)
    stream_txt = output is None and fmt == "txt"

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def on_file(path: Path) -> None:
        if stream_txt and several:
            write(f"==> {path} <==\n")

    def on_transcript(transcript: Transcript) -> None:
        if output is None and fmt not in ("txt", "json"):
            write(render_transcripts([transcript], fmt, with_tokens))

    with render.task_progress() as on_progress:
        report = transcribe_inputs(
            inputs, output, options, model_options,
            on_file=on_file, on_cue=(lambda cue: write(cue.text.strip() + "\n")) if stream_txt else None,
            on_transcript=on_transcript, on_skip=lambda path, error, stage: render.err(f"ming-edit: {stage} {path}: {error}"),
            on_progress=on_progress,
        )
    if output is None and fmt == "json":
        write(render_transcripts(list(report.transcripts), "json", with_tokens))
    if report.failures:
        names = ", ".join(str(f.input) for f in report.failures)
        total = len(report.failures) + len(report.transcripts)
        raise AudioError(f"{len(report.failures)} of {total} files failed: {names}")


def speak_command(
    text: str = typer.Argument(..., help="Text to speak ('-' reads standard input)."),
    output: Path = params.SPEECH_OUTPUT,
    voice: Optional[Path] = typer.Option(None, "--voice", help="Reference clip of the voice to use."),
    voice_text: Optional[str] = typer.Option(None, "--voice-text", help="Transcript of --voice (default: transcribe it)."),
    sample_rate: Optional[int] = params.SAMPLE_RATE,
    pause: float = params.PAUSE,
    model: Optional[Path] = params.MODEL,
    device: str = params.DEVICE,
    dtype: Optional[str] = params.DTYPE,
    quantize: Optional[str] = params.QUANTIZE,
    offload: Optional[str] = params.OFFLOAD,
    seed: Optional[int] = params.FLOW_SEED,
    overwrite: bool = params.OVERWRITE,
) -> None:
    """Text to speech, in the built-in voice or the voice of --voice."""
    from ming_edit.options import SpeakOptions
    from ming_edit.pipelines.speak import speak

    model_options = params.model_options(model, device, dtype, seed, quantize, offload)
    options = SpeakOptions(sample_rate=sample_rate, pause=pause, overwrite=overwrite)
    with render.task_progress() as on_progress:
        result = speak(_read_text(text), output, voice=voice, voice_text=voice_text, options=options,
                       model=model_options, on_progress=on_progress)
    render.print_speech(result)


def clone_command(
    reference: Path = typer.Argument(..., help="Reference clip of the voice to clone (a few seconds of speech)."),
    text: str = typer.Argument(..., help="Text to speak ('-' reads standard input)."),
    output: Path = params.SPEECH_OUTPUT,
    ref_text: Optional[str] = typer.Option(None, "--ref-text", help="Transcript of the reference (default: transcribe it)."),
    sample_rate: Optional[int] = params.SAMPLE_RATE,
    pause: float = params.PAUSE,
    model: Optional[Path] = params.MODEL,
    device: str = params.DEVICE,
    dtype: Optional[str] = params.DTYPE,
    quantize: Optional[str] = params.QUANTIZE,
    offload: Optional[str] = params.OFFLOAD,
    seed: Optional[int] = params.FLOW_SEED,
    overwrite: bool = params.OVERWRITE,
) -> None:
    """Zero-shot voice cloning: speak TEXT in the voice of REFERENCE."""
    from ming_edit.options import SpeakOptions
    from ming_edit.pipelines.speak import clone

    model_options = params.model_options(model, device, dtype, seed, quantize, offload)
    options = SpeakOptions(sample_rate=sample_rate, pause=pause, overwrite=overwrite)
    with render.task_progress() as on_progress:
        result = clone(reference, _read_text(text), output, ref_text=ref_text, options=options,
                       model=model_options, on_progress=on_progress)
    render.print_speech(result)


def _read_text(text: str) -> str:
    """TEXT, or standard input for '-' (read no further than the longest text speak accepts, with
    room for whitespace: a huge pipe is refused by that limit without being held in memory)."""
    from ming_edit.pipelines.speak import MAX_TEXT_CHARS

    return sys.stdin.read(4 * MAX_TEXT_CHARS + 1) if text == "-" else text

"""`ming-edit splice SOURCE REGENERATED -o OUT`: keep the recording, take only what the
regeneration changed. Thin: parse, call pipelines/splice, render (numpy loads inside the command)."""

from __future__ import annotations

from pathlib import Path

import typer

from ming_edit.cli import params

SPLICE_EPILOG = (
    "REGENERATED is a re-synthesis of the whole of SOURCE (e.g. the edit model's output, any rate). "
    "The output is SOURCE with only the spans REGENERATED changed replaced, deleted or inserted; "
    "everything else is SOURCE's own samples. A regeneration that differs everywhere (emotion, "
    "dialect, another speaker) is written whole and reported as global. "
    "Exit codes: 0 ok, 1 unreadable / invalid audio, 2 usage (output refused), 130 interrupted, 143 terminated."
)


def splice_command(
    source: Path = typer.Argument(..., help="The original recording.", show_default=False),
    regenerated: Path = typer.Argument(..., help="A regenerated version of the whole recording.", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Output audio file (the source's rate, channels and sample format)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (nothing else)."),
    overwrite: bool = params.OVERWRITE,
) -> None:
    """Splice the spans a regeneration changed into the original recording."""
    from ming_edit.cli import render
    from ming_edit.pipelines.splice import splice_files

    report = splice_files(source, regenerated, output, overwrite=overwrite)
    for note in report.notes:
        render.err(f"note: {note}")
    if json_out:
        render.emit_json(report.to_json())
        return
    for line in render.splice_lines(report):
        render.out(line)

"""`ming-edit info FILE... [--json]`: loudness, peaks, noise floor and format of recordings.
Thin: parse, call pipelines/info, render (numpy and rich load inside the command)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import typer

INFO_EPILOG = (
    "Integrated loudness (BS.1770-4), loudness range (EBU Tech 3342), maximum momentary (400 ms) and "
    "short-term (3 s) loudness, true peak, sample peak, noise floor, share of pauses, clipped samples. "
    "Folders are walked recursively. --json prints one object for one file, a list for several files "
    "or a folder; silent levels are null. "
    "Exit codes: 0 ok, 1 a file that cannot be read, a missing path, a folder with no audio "
    "(several files: the others are still reported), 130 interrupted, 143 terminated."
)


def _fmt(value: float, unit: str = "", digits: int = 1) -> str:
    """A level for people: -inf reads 'silent'."""
    if not math.isfinite(value):
        return "-inf" if not unit else "silent"
    return f"{value:.{digits}f}" + (f" {unit}" if unit else "")


def _block(item: Any) -> list[str]:
    a = item.loudness
    return [
        f"{item.path}",
        f"  duration        {a.duration:.3f} s ({a.sample_rate} Hz, {a.channels} ch, {item.format} {item.subtype})",
        f"  integrated      {_fmt(a.integrated_lufs, 'LUFS')}",
        f"  loudness range  {a.lra_lu:.1f} LU",
        f"  momentary max   {_fmt(a.momentary_max_lufs, 'LUFS')}",
        f"  short-term max  {_fmt(a.short_term_max_lufs, 'LUFS')}",
        f"  true peak       {_fmt(a.true_peak_dbtp, 'dBTP')}",
        f"  sample peak     {_fmt(a.sample_peak_dbfs, 'dBFS')}",
        f"  noise floor     {_fmt(a.noise_floor_dbfs, 'dBFS')} (pauses {100 * a.pause_share:.0f}% of the time)",
        f"  clipped         {a.clipped_samples} samples",
    ]


def _table(items: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("file", "duration s", "Hz", "ch", "LUFS", "LRA", "M max", "S max", "dBTP", "dBFS",
                 "floor dBFS", "pauses", "clipped"):
        table.add_column(name, justify="left" if name == "file" else "right", no_wrap=True)
    for item in items:
        a = item.loudness
        table.add_row(str(item.path), f"{a.duration:.2f}", str(a.sample_rate), str(a.channels),
                      _fmt(a.integrated_lufs), f"{a.lra_lu:.1f}", _fmt(a.momentary_max_lufs),
                      _fmt(a.short_term_max_lufs), _fmt(a.true_peak_dbtp), _fmt(a.sample_peak_dbfs),
                      _fmt(a.noise_floor_dbfs), f"{100 * a.pause_share:.0f}%", str(a.clipped_samples))
    console = Console(soft_wrap=True) if sys.stdout.isatty() else Console(width=400, soft_wrap=True)
    console.print(table)


def info_command(
    inputs: list[Path] = typer.Argument(..., metavar="FILE", help="Audio files or folders (walked recursively).", show_default=False),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout: one object per file, a list for several."),
) -> None:
    """Measure loudness (LUFS, LRA), peaks (dBTP, dBFS), noise floor and format of recordings."""
    from ming_edit.cli import render
    from ming_edit.pipelines.info import info_files

    with render.task_progress() as progress:
        report = info_files(inputs, on_frames=lambda done, total: progress("analysing", done, total))
    for failure in report.failed:
        render.err(render.error_line(f"{failure.input}: {failure.error}" if str(failure.input) not in failure.error
                                     else failure.error))
    if json_out:
        objects = [item.to_json() for item in report.files]
        render.out(json.dumps(objects if report.several else objects[0], ensure_ascii=False, allow_nan=False))
    elif report.several and len(report.files) > 1:
        _table(list(report.files))
    else:
        for item in report.files:
            for line in _block(item):
                render.out(line)
    if report.failed:
        raise typer.Exit(1)

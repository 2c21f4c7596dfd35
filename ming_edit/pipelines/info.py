"""`ming-edit info`: what a recording measures, file by file (library only: results, no prints).

One sequential read of each file (io/audio.read_blocks) feeds dsp/loudness/analysis.Analyzer:
loudness, LRA, true and sample peak, clipped samples, noise floor and pauses, all in that one pass
(definitions there). Memory is constant in the file's length but for per-100 ms and per-20 ms
arrays (an hour: 36,000 + 180,000 floats). -inf levels (silence) are null in JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ming_edit.dsp.loudness.analysis import Analysis, Analyzer, clip_level
from ming_edit.errors import AudioError
from ming_edit.io import audio as audio_in
from ming_edit.io import files
from ming_edit.options import Failure

# the JSON keys of one file, in order (the documented schema)
JSON_KEYS = ("file", "duration", "sample_rate", "channels", "format", "subtype", "integrated_lufs", "lra_lu",
             "momentary_max_lufs", "short_term_max_lufs", "true_peak_dbtp", "sample_peak_dbfs",
             "noise_floor_dbfs", "pause_share", "clipped_samples")


def _level(value: float) -> float | None:
    """A level for JSON: -inf (silence) is null; 3 decimals."""
    return round(value, 3) if math.isfinite(value) else None


@dataclass(frozen=True)
class FileInfo:
    """One analysed file: its header facts and its measurements."""

    path: Path
    format: str
    subtype: str
    loudness: Analysis

    @property
    def duration(self) -> float:
        return self.loudness.duration

    def to_json(self) -> dict[str, Any]:
        a = self.loudness
        return {
            "file": str(self.path), "duration": round(a.duration, 6), "sample_rate": a.sample_rate,
            "channels": a.channels, "format": self.format, "subtype": self.subtype,
            "integrated_lufs": _level(a.integrated_lufs), "lra_lu": round(a.lra_lu, 3),
            "momentary_max_lufs": _level(a.momentary_max_lufs), "short_term_max_lufs": _level(a.short_term_max_lufs),
            "true_peak_dbtp": _level(a.true_peak_dbtp), "sample_peak_dbfs": _level(a.sample_peak_dbfs),
            "noise_floor_dbfs": _level(a.noise_floor_dbfs), "pause_share": round(a.pause_share, 4),
            "clipped_samples": a.clipped_samples,
        }


@dataclass(frozen=True)
class InfoReport:
    files: tuple[FileInfo, ...]
    failed: tuple[Failure, ...] = ()
    several: bool = False  # several inputs or a folder: the JSON is a list


def analyse_file(path: Path, on_frames: Callable[[int, int], None] | None = None) -> FileInfo:
    """Measure one file (``on_frames(done, total)`` sees the progress of the sequential read)."""
    info = audio_in.probe(path)
    analyzer = Analyzer(info.sample_rate, info.channels, info.frames, clip_level(info.subtype))
    done = 0
    try:
        for block in audio_in.read_blocks(info):
            analyzer.feed(block)
            done += block.shape[0]
            if on_frames is not None:
                on_frames(done, info.frames)
        return FileInfo(info.path, info.format, info.subtype, analyzer.finish())
    finally:
        analyzer.close()


def info_files(inputs: Sequence[Path], on_file: Callable[[Path, int, int], None] | None = None,
               on_frames: Callable[[int, int], None] | None = None) -> InfoReport:
    """The `info` task. Folders are walked recursively (io/files.expand_inputs: audio by
    extension); a folder with no audio, or a path that does not exist, is refused before any
    file is read (AudioError, exit 1). One file: its error is raised. Several: a file that
    cannot be read is reported in ``failed`` and the rest are measured."""
    found = files.expand_inputs(inputs)
    several = len(found) > 1 or any(Path(i).is_dir() for i in inputs)
    if not several:
        return InfoReport((analyse_file(found[0][0], on_frames),))
    done: list[FileInfo] = []
    failed: list[Failure] = []
    for index, (path, _) in enumerate(found):
        if on_file is not None:
            on_file(path, index, len(found))
        try:
            done.append(analyse_file(path, on_frames))
        except AudioError as err:
            failed.append(Failure(path, str(err)))
    return InfoReport(tuple(done), tuple(failed), several=True)


MEASURED_OPS = ("loudness", "peak", "volume")  # steps whose outcome depends on the input's levels


def plan_figures(path: Path, operations: Sequence[Any]) -> tuple[dict[str, Any], list[str]]:
    """What `edit --dry-run` can show beside a plan: the input's figures its steps depend on, as
    (JSON object, human lines). Loudness: integrated LUFS and true peak, and the gain the target
    asks for; peak: the sample (or true) peak and the gain; volume: where the sample peak lands;
    speed to a duration and time edits: the duration. Measured on the input as it is (a step after
    another one acts on that step's output; format steps barely move these figures). Reads the file
    once when a level is needed (an hour of 48 kHz stereo: ~15 s), else only its header."""
    ops = [o for o in operations if getattr(o, "engine", "dsp") == "dsp"]
    info = audio_in.probe(path)
    figures: dict[str, Any] = {"duration": round(info.duration, 6)}
    lines: list[str] = []
    if any(o.op in ("speed", "cut", "keep", "pad", "trim", "pauses", "fade") for o in ops):
        lines.append(f"measured: duration {info.duration:.3f} s")
    if not any(o.op in MEASURED_OPS for o in ops):
        return figures, lines
    a = analyse_file(path).loudness
    figures.update(FileInfo(info.path, info.format, info.subtype, a).to_json())
    figures.pop("file", None)
    for o in ops:
        if o.op == "loudness":
            gain = o.args["lufs"] - a.integrated_lufs
            lines.append(f"measured: integrated {_text(a.integrated_lufs, 'LUFS')}, true peak "
                         f"{_text(a.true_peak_dbtp, 'dBTP')}" + (
                             f": {gain:+.1f} dB to reach {o.args['lufs']:g} LUFS (peaks would reach "
                             f"{a.true_peak_dbtp + gain:+.1f} dBTP before the {o.args['true_peak_db']:g} dBTP limiter)"
                             if math.isfinite(gain) else ": silent, nothing to normalise"))
        elif o.op == "peak":
            level = a.true_peak_dbtp if o.args.get("true_peak") else a.sample_peak_dbfs
            unit = "dBTP" if o.args.get("true_peak") else "dBFS"
            kind = "true peak" if o.args.get("true_peak") else "sample peak"
            gain = o.args["peak_db"] - level
            lines.append(f"measured: {kind} {_text(level, unit)}"
                         + (f": a gain of {gain:+.2f} dB" if math.isfinite(gain) else ": silent"))
        elif o.op == "volume" and o.args.get("factor", 0) > 0 and math.isfinite(a.sample_peak_dbfs):
            after = a.sample_peak_dbfs + 20 * math.log10(o.args["factor"])
            clip = " (over full scale: the clipping rule applies)" if after > 0 else ""
            lines.append(f"measured: sample peak {_text(a.sample_peak_dbfs, 'dBFS')} -> {after:+.1f} dBFS{clip}")
    return figures, lines


def _text(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}" if math.isfinite(value) else "silent"

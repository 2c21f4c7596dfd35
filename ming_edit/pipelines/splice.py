"""`ming-edit splice SOURCE REGENERATED -o OUT`: write SOURCE with only the spans that
REGENERATED (a re-synthesis of the whole clip, e.g. by the edit model) actually changed.

Library only: reads both files, calls splice/splicer.splice, writes through the one atomic writer
and returns a SpliceReport. The output keeps the source's rate, channels and sample format; when
the output's container holds the source's own sample format, every "source" piece is the
source's samples bit for bit (read and written in their stored type).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ming_edit.errors import AudioError, UsageError
from ming_edit.io import audio as audio_in
from ming_edit.io import files, formats
from ming_edit.io.writer import write_audio
from ming_edit.splice.join import Piece
from ming_edit.splice.splicer import MIN_SECONDS, SpliceEdit, splice


@dataclass(frozen=True)
class SpliceReport:
    source: Path
    regenerated: Path
    output: Path
    sample_rate: int
    is_global: bool
    kept_fraction: float
    edits: tuple[SpliceEdit, ...]
    pieces: tuple[Piece, ...]
    duration_in: float
    duration_out: float
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source), "regenerated": str(self.regenerated), "output": str(self.output),
            "sample_rate": self.sample_rate, "global": self.is_global, "kept_fraction": round(self.kept_fraction, 4),
            "edits": [e.to_json() for e in self.edits], "pieces": [p.to_json() for p in self.pieces],
        }


def _check_output(source: Path, regenerated: Path, output: Path, *, overwrite: bool) -> None:
    for name, path in (("source", source), ("regenerated", regenerated)):
        try:
            files.check_output_path(path, output, overwrite=overwrite)
        except UsageError as err:
            if "overwrite the input" in str(err):
                raise UsageError(f"-o {output} is the {name} file; choose another output (inputs are never modified)") from None
            raise


def splice_files(source: Path, regenerated: Path, output: Path, *, overwrite: bool = False) -> SpliceReport:
    """Splice ``regenerated`` into ``source`` and write ``output`` (see the module note)."""
    source, regenerated, output = Path(source), Path(regenerated), Path(output)
    src_info = audio_in.probe(source)
    reg_info = audio_in.probe(regenerated)
    _check_output(source, regenerated, output, overwrite=overwrite)
    fmt = formats.output_format(output, src_info)
    subtype = formats.choose_subtype(output, fmt, src_info)
    for name, info in (("source", src_info), ("regenerated", reg_info)):
        if info.duration < MIN_SECONDS:
            raise AudioError(f"{info.path} is {info.duration:.3f} s long; splice needs at least {MIN_SECONDS} s of {name} audio")
    if reg_info.channels != src_info.channels:
        raise AudioError(f"{regenerated} has {reg_info.channels} channel(s) but the source {source} has "
                         f"{src_info.channels}; give a regenerated file with the source's channel count")
    formats.encoder_settings(subtype, src_info.channels, src_info.sample_rate)
    src, src_info = audio_in.read_native(source)
    reg, reg_info = audio_in.read_audio(regenerated)
    result = splice(src, src_info.sample_rate, reg, reg_info.sample_rate, bounded=formats.is_bounded(subtype))
    notes = list(result.notes)
    bit_exact = subtype == src_info.subtype and src_info.subtype in audio_in.NATIVE_DTYPES
    out = result.audio
    if not bit_exact:
        out = audio_in.to_float(out)
        if result.kept_fraction > 0 and subtype != src_info.subtype:
            notes.append(f"the output holds {subtype} samples and the source {src_info.subtype}: the kept source "
                         "samples are converted, not copied bit for bit")
        elif result.kept_fraction > 0 and subtype in formats.LOSSY_SUBTYPES:
            notes.append(f"the output is encoded again ({subtype}): the kept source samples are close to the "
                         "source's, not bit for bit (write .wav or .flac to keep them exactly)")
    write_audio(output, out, src_info.sample_rate, fmt=fmt, subtype=subtype)
    return SpliceReport(source, regenerated, output, src_info.sample_rate, result.is_global, result.kept_fraction,
                        result.edits, result.pieces, src_info.duration, out.shape[0] / src_info.sample_rate,
                        tuple(notes))

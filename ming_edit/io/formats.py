"""Output format rules: the container an extension asks for, the sample format an output keeps,
and what happens to peaks beyond full scale (scaled with a note, or refused; never clipped silently)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ming_edit.errors import AudioError, UsageError
from ming_edit.io.audio import AudioInfo

# Extensions read as audio (folder walks) and the container each one writes.
EXTENSION_FORMATS = {
    ".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".opus": "OGG",
    ".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF", ".aifc": "AIFF", ".au": "AU", ".caf": "CAF",
    ".w64": "W64", ".rf64": "RF64",
}
EXTENSION_SUBTYPES = {".opus": "OPUS"}  # an extension that also fixes the codec
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
LOSSY_SUBTYPES = ("VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III")
CLIP_CEILING_DB = -0.1


def is_audio_path(path: Path) -> bool:
    return path.suffix.lower() in EXTENSION_FORMATS


def output_format(path: Path, source: AudioInfo | None = None) -> str:
    """The container an output path asks for (by extension). A WAVE_FORMAT_EXTENSIBLE source
    written to .wav stays WAVEX, which keeps its channel layout (5.1, quad...)."""
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted({e for e in EXTENSION_FORMATS if e != ".wave"}))
        if not path.suffix:
            raise UsageError(f"output {path} has no extension; name the file with one of {known}")
        raise UsageError(f"cannot write '{path.suffix}' files; use one of {known}")
    if fmt == "WAV" and source is not None and source.format == "WAVEX":
        return "WAVEX"
    return fmt


def choose_subtype(path: Path, fmt: str, source: AudioInfo, requested: str | None = None) -> str:
    """Keep the input's sample format when the output container allows it; otherwise the closest
    one (float or 24-bit sources go to 24-bit PCM, e.g. FLOAT WAV -> FLAC PCM_24)."""
    if requested:
        subtype = requested.upper()
        if subtype not in sf.available_subtypes(fmt) or not sf.check_format(fmt, subtype):
            allowed = ", ".join(sf.available_subtypes(fmt))
            raise UsageError(f"{fmt} files cannot hold {subtype} samples; choose one of {allowed}")
        return subtype
    fixed = EXTENSION_SUBTYPES.get(path.suffix.lower())
    if fixed is not None:
        return fixed
    lossy = source.subtype in LOSSY_SUBTYPES
    candidates = [] if lossy and fmt != source.format else [source.subtype]
    if source.subtype in FLOAT_SUBTYPES + ("PCM_32", "PCM_24"):
        candidates.append("PCM_24")
    if source.subtype in ("PCM_S8", "PCM_U8"):  # WAV stores 8-bit unsigned, FLAC/AIFF signed
        candidates += ["PCM_U8", "PCM_S8"]
    for subtype in candidates:
        if sf.check_format(fmt, subtype):
            return subtype
    return sf.default_subtype(fmt)


def generated_format(path: Path) -> tuple[str, str]:
    """(container, sample format) for generated speech: 16-bit PCM where the container has it."""
    fmt = output_format(path)
    fixed = EXTENSION_SUBTYPES.get(path.suffix.lower())
    if fixed is not None:
        return fmt, fixed
    return fmt, "PCM_16" if sf.check_format(fmt, "PCM_16") else sf.default_subtype(fmt)


# Lossy encoders: podcast defaults (kbps) by channel count, and each codec's range.
DEFAULT_KBPS = {"MPEG_LAYER_III": {1: 128, 2: 192}, "OPUS": {1: 64, 2: 96}}
OPUS_KBPS_PER_CHANNEL = (6, 256)


def _mp3_range(sample_rate: int) -> tuple[int, int]:
    """Bitrates of MPEG-1 (>= 32 kHz), MPEG-2 (16-24 kHz) and MPEG-2.5 (8-12 kHz) layer III."""
    return (32, 320) if sample_rate >= 32000 else (8, 160) if sample_rate >= 16000 else (8, 64)


def encoder_settings(subtype: str, channels: int, sample_rate: int, kbps: int | None = None) -> dict[str, object]:
    """soundfile keyword arguments that make an MP3 / Opus encoder run at ``kbps`` (default: the
    podcast rate for the channel count, within what the codec allows at this sample rate).
    libsndfile takes a compression level in [0, 1] instead of a bitrate: level 0 is the top of the
    range and the bitrate falls linearly to its bottom at 1 (measured: benchmarks/encoder_bitrate.py)."""
    if subtype not in DEFAULT_KBPS:
        if kbps is not None:
            raise UsageError(f"--bitrate applies to mp3 and opus outputs, not {subtype}")
        return {}
    if subtype == "OPUS":
        lo, hi = (n * channels for n in OPUS_KBPS_PER_CHANNEL)
    else:
        lo, hi = _mp3_range(sample_rate)
    if kbps is None:
        kbps = min(DEFAULT_KBPS[subtype][min(channels, 2)], hi)
    elif not lo <= kbps <= hi:
        codec = "Opus" if subtype == "OPUS" else f"MP3 at {sample_rate} Hz"
        raise UsageError(f"--bitrate {kbps} is out of range for {channels}-channel {codec} ({lo}..{hi} kbps)")
    level = (hi - kbps) / (hi - lo) if subtype != "OPUS" else 1.0 - kbps / hi
    settings: dict[str, object] = {"compression_level": min(level, 0.99)}  # libsndfile refuses 1.0
    if subtype == "MPEG_LAYER_III":
        settings["bitrate_mode"] = "CONSTANT"
    return settings


def is_bounded(subtype: str) -> bool:
    """Integer and lossy formats cannot represent samples beyond full scale; float ones can."""
    return subtype not in FLOAT_SUBTYPES


def protect_from_clipping(audio: np.ndarray, subtype: str, *, no_limit: bool) -> tuple[np.ndarray, str | None]:
    """Scale audio whose peak exceeds full scale down to -0.1 dBFS (returns a note), or refuse."""
    if not is_bounded(subtype) or audio.size == 0:
        return audio, None
    peak = max(float(audio.max()), -float(audio.min()))  # no |audio| temporary on long files
    if peak <= 1.0:
        return audio, None
    peak_db = 20 * np.log10(peak)
    if no_limit:
        raise AudioError(
            f"the edited audio peaks at {peak_db:+.1f} dBFS and would clip as {subtype}; "
            "drop --no-limit to scale it down, or write a float WAV (--subtype FLOAT)"
        )
    gain = 10 ** (CLIP_CEILING_DB / 20) / peak
    audio *= gain
    return audio, (
        f"peaks reached {peak_db:+.1f} dBFS; scaled by {20 * np.log10(gain):.1f} dB to limit peaks to "
        f"{CLIP_CEILING_DB} dBFS (use --no-limit to refuse instead)"
    )

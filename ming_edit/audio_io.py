"""Audio in and out through soundfile (libsndfile): validated reads, format rules, atomic writes.

Reads return float64 ``[frames, channels]`` (the DSP engine's working type) plus an AudioInfo
that remembers the input's sample rate, channels, container and subtype so the output can keep
them. Writes go to a temp file in the destination folder, are fsynced and renamed into place, so
an output file is either complete or absent.
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ming_edit.errors import AudioError, UsageError

# Extensions the folder walker treats as audio, and the container each one writes.
EXTENSION_FORMATS = {
    ".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG",
    ".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF", ".aifc": "AIFF", ".au": "AU", ".caf": "CAF",
    ".w64": "W64", ".rf64": "RF64",
}
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
LOSSY_SUBTYPES = ("VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III")
CLIP_CEILING_DB = -0.1


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str  # libsndfile container, e.g. "WAV"
    subtype: str  # e.g. "PCM_16"

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def check_input_file(path: Path) -> None:
    """Refuse paths that are not a readable, non-empty regular file, with one clear line."""
    if not path.exists():
        raise AudioError(f"input not found: {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a directory, expected an audio file")
    if not path.is_file():
        raise AudioError(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path} is not readable (permission denied)")


def _check_riff_complete(path: Path) -> None:
    """libsndfile silently reads what is left of a cut-off WAV; we refuse it instead, because a
    truncated recording edited and saved would hide the damage."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            chunk_id, chunk_size = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed writers leave the size unset
                    return
                held = size - pos - 8
                if chunk_size > held:
                    raise AudioError(
                        f"{path} is truncated: its header declares {chunk_size} bytes of "
                        f"audio but the file holds {held}"
                    )
                return
            pos += 8 + chunk_size + (chunk_size & 1)


def probe(path: Path) -> AudioInfo:
    """Validate ``path`` and return its AudioInfo without decoding the samples."""
    check_input_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{path} is not a readable audio file ({_short(err)})") from None
    _check_riff_complete(path)
    if info.frames <= 0:
        raise AudioError(f"{path} contains no audio (0 samples)")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def read_audio(path: Path) -> tuple[np.ndarray, AudioInfo]:
    """Decode ``path`` to float64 [frames, channels]; refuse empty, corrupt or non-finite audio."""
    info = probe(path)
    try:
        audio, _ = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path} could not be decoded ({_short(err)})") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{path} contains no audio (0 samples)")
    check_finite(audio, info.sample_rate, path)
    return audio, AudioInfo(path, info.sample_rate, audio.shape[1], audio.shape[0], info.format, info.subtype)


def check_finite(audio: np.ndarray, sample_rate: int, path: Path) -> None:
    finite = np.isfinite(audio)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=1)))
        raise AudioError(
            f"{path} contains NaN or infinite samples (first at {first / sample_rate:.3f} s); "
            "repair or re-export the source"
        )


# ---- output format rules ---------------------------------------------------------------------
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


def choose_subtype(fmt: str, source: AudioInfo, requested: str | None = None) -> str:
    """Keep the input's sample format when the output container allows it; otherwise the closest
    one (float or 24-bit sources go to 24-bit PCM, e.g. FLOAT WAV -> FLAC PCM_24)."""
    if requested:
        subtype = requested.upper()
        if subtype not in sf.available_subtypes(fmt) or not sf.check_format(fmt, subtype):
            allowed = ", ".join(sf.available_subtypes(fmt))
            raise UsageError(f"{fmt} files cannot hold {subtype} samples; choose one of {allowed}")
        return subtype
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


# ---- atomic writes ---------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_audio_atomic(path: Path, audio: np.ndarray, sample_rate: int, *, fmt: str, subtype: str) -> None:
    """Write ``audio`` to ``path`` via a temp file in the same folder + fsync + rename.

    On any failure (including Ctrl-C) the temp file is removed and ``path`` is untouched.
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as err:  # read-only or pseudo file system, permissions, disk full
        raise AudioError(f"cannot write {path}: {err.strerror or err}") from None
    tmp = Path(tmp_name)
    try:
        os.close(fd)
        with sf.SoundFile(tmp_name, "w", samplerate=sample_rate, channels=audio.shape[1], format=fmt, subtype=subtype) as out:
            out.write(audio)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"cannot write {path} as {fmt}/{subtype} at {sample_rate} Hz ({_short(err)})") from None
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

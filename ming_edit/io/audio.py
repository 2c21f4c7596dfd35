"""Audio in through soundfile (libsndfile): validated probes and reads.

Reads return float64 ``[frames, channels]`` (the DSP engine's working type) plus an AudioInfo that
remembers the input's sample rate, channels, container and subtype so the output can keep them.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from ming_edit.errors import AudioError

# Below 1 kHz no recording is speech (and sox would allocate absurd buffers for a 1 Hz file).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768000


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


def libsndfile_reason(err: BaseException) -> str:
    """libsndfile's message without its 'Error opening <path>:' preamble, on one line."""
    text = " ".join(str(err).split())
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


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


# libsndfile silently reads what is left of a cut-off WAV, RF64, W64 or AIFF file; we refuse it
# instead, because a truncated recording edited and saved would hide the damage. Each parser
# returns (declared audio bytes, bytes the file holds after the data chunk header), or None.
_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_DATA = b"data\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"


def _riff_data(f, size: int, endian: str, rf64: bool) -> tuple[int, int] | None:
    pos, ds64_data = 12, None
    while pos + 8 <= size:
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack(endian + "4sI", f.read(8))
        if chunk_id == b"ds64" and rf64:
            ds64_data = struct.unpack("<QQ", f.read(16))[1]
        if chunk_id == b"data":
            if rf64 and chunk_size == 0xFFFFFFFF and ds64_data is not None:
                chunk_size = ds64_data
            if chunk_size in (0, 0xFFFFFFFF):  # streamed writers leave the size unset
                return None
            return chunk_size, size - pos - 8
        pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _w64_data(f, size: int) -> tuple[int, int] | None:
    pos = 40  # riff GUID + size + wave GUID
    while pos + 24 <= size:
        f.seek(pos)
        guid, chunk_size = struct.unpack("<16sQ", f.read(24))
        if guid == _W64_DATA:
            return chunk_size - 24, size - pos - 24
        pos += max(24, (chunk_size + 7) // 8 * 8)
    return None


def _aiff_data(f, size: int) -> tuple[int, int] | None:
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        chunk_id, chunk_size = struct.unpack(">4sI", f.read(8))
        if chunk_id == b"SSND":
            return chunk_size, size - pos - 8
        pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _check_complete(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) < 12:
            return
        if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
            found = _riff_data(f, size, ">" if head[:4] == b"RIFX" else "<", head[:4] == b"RF64")
        elif head[:16] == _W64_RIFF:
            found = _w64_data(f, size)
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            found = _aiff_data(f, size)
        else:
            return
    if found is not None and found[0] > found[1]:
        raise AudioError(f"{path} is truncated: its header declares {found[0]} bytes of audio but the file holds {found[1]}")


@contextlib.contextmanager
def quiet_decoder(path: Path | str) -> Iterator[None]:
    """Opening an mp3, libsndfile's mpg123 writes warnings ("Xing stream size off by more than
    1%") to the C stderr, around our own one-line verdict on the file; they are silenced there."""
    if Path(path).suffix.lower() not in MPEG_SUFFIXES:
        yield
        return
    with quiet_c_stderr():
        yield


MPEG_SUFFIXES = (".mp3", ".mp2", ".mpga")


@contextlib.contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block (C libraries' own prints)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def probe(path: Path) -> AudioInfo:
    """Validate ``path`` and return its AudioInfo without decoding the samples."""
    path = Path(path)
    check_input_file(path)
    try:
        with quiet_decoder(path):
            info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{path} is not a readable audio file ({libsndfile_reason(err)})") from None
    _check_complete(path)
    if info.frames <= 0:
        raise AudioError(f"{path} contains no audio (0 samples)")
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise AudioError(f"{path} has a sample rate of {info.samplerate} Hz; ming-edit works with "
                         f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz (is the header damaged?)")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


BLOCK_FRAMES = 1 << 16  # streamed reads: 1.4 s of 48 kHz audio, 1 MiB of float64 stereo per block


def read_audio(path: Path) -> tuple[np.ndarray, AudioInfo]:
    """Decode ``path`` to float64 [frames, channels]; refuse empty, corrupt or non-finite audio."""
    info = probe(path)
    try:
        with quiet_decoder(info.path):
            audio, _ = sf.read(str(info.path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{info.path} could not be decoded ({libsndfile_reason(err)})") from None
    check_decoded(info, audio.shape[0])
    check_finite(audio, info.sample_rate, info.path)
    return audio, AudioInfo(info.path, info.sample_rate, audio.shape[1], audio.shape[0], info.format, info.subtype)


def read_blocks(info: AudioInfo, start: int = 0, stop: int | None = None,
                block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Decode ``info.path`` (from ``probe``) in float64 [frames, channels] blocks from ``start``
    to ``stop`` (default: the end), each refused if not finite, as ``read_audio`` would. A read
    of the whole file also refuses an empty or truncated one (``check_decoded``) at its end."""
    pos = start
    try:
        with quiet_decoder(info.path):
            handle = sf.SoundFile(str(info.path))
        with handle as f:
            if start:
                f.seek(start)
            while stop is None or pos < stop:
                with quiet_decoder(info.path):
                    block = f.read(block_frames if stop is None else min(block_frames, stop - pos),
                                   dtype="float64", always_2d=True)
                if not block.shape[0]:
                    break
                check_finite(block, info.sample_rate, info.path, offset=pos)
                yield block
                pos += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{info.path} could not be decoded ({libsndfile_reason(err)})") from None
    if start == 0 and stop is None:
        check_decoded(info, pos)


class RangeReader:
    """Reads of short frame ranges of ``info.path`` through one open file (a context manager):
    opening the file per read would cost more than decoding the range."""

    def __init__(self, info: AudioInfo, dtype: np.dtype | str = "float64") -> None:
        self.info, self.dtype = info, np.dtype(dtype)
        self.file: sf.SoundFile | None = None

    def __enter__(self) -> RangeReader:
        try:
            with quiet_decoder(self.info.path):
                self.file = sf.SoundFile(str(self.info.path))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{self.info.path} could not be decoded ({libsndfile_reason(err)})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()

    def read(self, start: int, stop: int) -> np.ndarray:
        """[<= stop - start, channels] from frame ``start`` in ``dtype``; floats refused if not finite."""
        try:
            with quiet_decoder(self.info.path):
                self.file.seek(start)
                block = self.file.read(stop - start, dtype=self.dtype.name, always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{self.info.path} could not be decoded ({libsndfile_reason(err)})") from None
        if self.dtype.kind == "f":
            check_finite(block, self.info.sample_rate, self.info.path, offset=start)
        return block


def check_decoded(info: AudioInfo, frames: int) -> None:
    """Refuse a file that decoded to nothing, or to fewer frames than its header declares."""
    if frames == 0:
        raise AudioError(f"{info.path} contains no audio (0 samples)")
    if frames < 0.99 * info.frames - 2048:  # FLAC/MP3 headers give the length; lossy codecs pad a little
        raise AudioError(f"{info.path} is truncated: its header declares {info.frames} frames but only "
                         f"{frames} could be decoded")


def check_finite(audio: np.ndarray, sample_rate: int, path: Path | str, offset: int = 0) -> None:
    """Refuse NaN/inf samples, naming the first one's time (``offset``: the block's first frame)."""
    if np.isfinite(np.sum(audio)):  # ~10x cheaper than isfinite() and NaN/inf always reach the sum
        return
    finite = np.isfinite(audio)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=1))) if finite.ndim == 2 else int(np.argmin(finite))
        raise AudioError(
            f"{path} contains NaN or infinite samples (first at {(offset + first) / sample_rate:.3f} s); "
            "repair or re-export the source"
        )


# Sample formats numpy holds exactly as stored: reading them so (instead of as float) lets a splice
# copy a recording's own samples to its output bit for bit, whatever libsndfile's float scaling.
NATIVE_DTYPES = {"PCM_16": np.int16, "PCM_24": np.int32, "PCM_32": np.int32, "FLOAT": np.float32, "DOUBLE": np.float64}
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def native_dtype(subtype: str) -> np.dtype:
    """The numpy type a file of ``subtype`` is read as by ``read_native`` (float64 for the rest:
    8-bit, u-law/A-law, lossy codecs)."""
    return np.dtype(NATIVE_DTYPES.get(subtype, np.float64))


def read_native(path: Path) -> tuple[np.ndarray, AudioInfo]:
    """Decode ``path`` to [frames, channels] in its stored sample type (``native_dtype``; PCM_24
    comes as int32 with the low byte zero), validated as ``read_audio`` validates."""
    info = probe(path)
    dtype = native_dtype(info.subtype)
    try:
        with quiet_decoder(info.path):
            audio, _ = sf.read(str(info.path), dtype=dtype.name, always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{info.path} could not be decoded ({libsndfile_reason(err)})") from None
    check_decoded(info, audio.shape[0])
    if dtype.kind == "f":
        check_finite(audio, info.sample_rate, info.path)
    return audio, AudioInfo(info.path, info.sample_rate, audio.shape[1], audio.shape[0], info.format, info.subtype)


def to_float(audio: np.ndarray) -> np.ndarray:
    """Native samples as float64 at full scale 1.0 (libsndfile's scaling; exact for every type)."""
    scale = _INT_SCALE.get(audio.dtype)
    return audio.astype(np.float64) / scale if scale else audio.astype(np.float64)


def from_float(audio: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 samples in ``dtype`` (integers rounded, clipped to the type's range)."""
    dtype = np.dtype(dtype)
    scale = _INT_SCALE.get(dtype)
    if scale is None:
        return audio.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.rint(audio * scale), info.min, info.max).astype(dtype)

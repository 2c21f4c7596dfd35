"""The one atomic writer: every file ming-edit writes (audio, streamed audio, text) goes through here
(and the scratch files a streamed edit works in).

A write goes to a hidden temp file in the destination folder, is fsynced and renamed into place
(then the folder is fsynced), so an output is either complete or absent. On any exception, Ctrl-C
or SIGTERM (`timeout`, `kill`, systemd stopping a batch job) the temp file is removed first.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from ming_edit.errors import AudioError, Terminated
from ming_edit.io.audio import check_finite, libsndfile_reason, quiet_decoder
from ming_edit.io.formats import CLIP_CEILING_DB, encoder_settings, protect_from_clipping

_open_writes = 0  # nesting depth of atomic_output in the main thread (the SIGTERM handler's lifetime)
_previous_handler: Any = None


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


def _guard_sigterm(enter: bool) -> None:
    """While a temp file exists, SIGTERM raises Terminated (so cleanup runs) instead of killing."""
    global _open_writes, _previous_handler
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread; a worker's write is cleaned up on exceptions
    if enter:
        if _open_writes == 0:
            _previous_handler = signal.signal(signal.SIGTERM, _raise_terminated)
        _open_writes += 1
    else:
        _open_writes -= 1
        if _open_writes == 0:
            signal.signal(signal.SIGTERM, _previous_handler if _previous_handler is not None else signal.SIG_DFL)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path, *, folder: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if folder:
            return  # some file systems cannot open folders; the rename itself has happened
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def _guarded_temp(path: Path, suffix: str) -> Iterator[Path]:
    """A new hidden file next to ``path`` while SIGTERM raises Terminated; removed on any exception."""
    folder = path.parent if str(path.parent) else Path(".")
    _guard_sigterm(True)
    try:
        try:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
        except OSError as err:  # read-only or pseudo file system, permissions, disk full
            raise AudioError(f"cannot write {path}: {err.strerror or err}") from None
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    finally:
        _guard_sigterm(False)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; when the block ends normally the temp file is fsynced,
    given the usual permissions (mkstemp makes 0600) and renamed to ``path``. Otherwise removed."""
    path = Path(path)
    with _guarded_temp(path, ".part") as tmp:
        try:
            yield tmp
            _fsync(tmp)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as err:  # disk full, or the target is a folder
            raise AudioError(f"cannot write {path}: {err.strerror or err}") from None
    _fsync(path.parent if str(path.parent) else Path("."), folder=True)


@contextlib.contextmanager
def scratch_file(next_to: Path) -> Iterator[Path]:
    """A hidden work file beside the output ``next_to`` (its folder has room for the output; /tmp
    may be RAM), always removed: when the block ends, on an exception, Ctrl-C or SIGTERM."""
    next_to = Path(next_to)
    with _guarded_temp(next_to, ".scratch") as tmp:
        try:
            yield tmp
        except OSError as err:  # disk full while it grows
            raise AudioError(f"cannot write {next_to}: {err.strerror or err}") from None
        finally:
            tmp.unlink(missing_ok=True)


def _open(tmp: Path, path: Path, sample_rate: int, channels: int, *, fmt: str, subtype: str,
          kbps: int | None) -> sf.SoundFile:
    encoder = encoder_settings(subtype, channels, sample_rate, kbps)
    try:
        return sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=channels, format=fmt, subtype=subtype,
                            **encoder)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        raise _cannot_write(path, fmt, subtype, sample_rate, err) from None


def _cannot_write(path: Path, fmt: str, subtype: str, sample_rate: int, err: BaseException) -> AudioError:
    return AudioError(f"cannot write {path} as {fmt}/{subtype} at {sample_rate} Hz ({libsndfile_reason(err)})")


class BlockWriter:
    """Float [frames, channels] blocks appended to an output that ``audio_writer`` keeps atomic."""

    def __init__(self, handle: sf.SoundFile, path: Path, fmt: str, subtype: str) -> None:
        self._file, self._where = handle, (path, fmt, subtype, int(handle.samplerate))
        self.frames = 0

    @property
    def sample_rate(self) -> int:
        return self._where[3]

    def write(self, audio: np.ndarray) -> None:
        try:
            self._file.write(audio)
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
            raise _cannot_write(*self._where, err) from None
        self.frames += audio.shape[0]

    def close(self) -> None:
        try:
            self._file.close()  # lossy encoders flush their last frames here
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
            raise _cannot_write(*self._where, err) from None

    def abandon(self) -> None:
        """Close after a failure: the temp file is being removed, its encoder's errors do not matter."""
        with contextlib.suppress(Exception):
            self._file.close()


@contextlib.contextmanager
def audio_writer(path: Path, sample_rate: int, channels: int, *, fmt: str, subtype: str,
                 kbps: int | None = None) -> Iterator[BlockWriter]:
    """A BlockWriter into a temp file that becomes ``path`` (as ``fmt``/``subtype``, lossy codecs
    at ``kbps``) when the block ends without error; otherwise the temp file is removed."""
    encoder_settings(subtype, channels, sample_rate, kbps)  # a bad bitrate is refused before any file exists
    with atomic_output(path) as tmp:
        out = BlockWriter(_open(tmp, path, sample_rate, channels, fmt=fmt, subtype=subtype, kbps=kbps), path, fmt, subtype)
        try:
            yield out
        except BaseException:
            out.abandon()
            raise
        out.close()


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, *, fmt: str, subtype: str,
                kbps: int | None = None) -> None:
    """Write float ``audio`` [frames, channels] to ``path`` atomically as ``fmt``/``subtype``
    (lossy codecs at ``kbps``, default the podcast rate)."""
    with audio_writer(path, sample_rate, audio.shape[1], fmt=fmt, subtype=subtype, kbps=kbps) as out:
        out.write(audio)


def clip_rule(peak: float, subtype: str, *, no_limit: bool) -> tuple[float, str | None, float]:
    """formats.protect_from_clipping for an output whose peak (max |sample|) is known before it is
    written: (the gain to apply, the note or None, the gain in dB; 0 when none). Refuses as it does."""
    probe = np.array([[peak, 1.0]])  # its second sample comes back as exactly the gain applied
    _, note = protect_from_clipping(probe, subtype, no_limit=no_limit)
    if note is None:
        return 1.0, None, 0.0
    return float(probe[0, 1]), note, CLIP_CEILING_DB - 20.0 * float(np.log10(peak))


def write_checked(path: Path, audio: np.ndarray, sample_rate: int, *, fmt: str, subtype: str,
                  no_limit: bool, what: str, kbps: int | None = None) -> tuple[str | None, float]:
    """Refuse non-finite samples (``what`` names them in the error), keep peaks within the format
    (scaled with a note, or refused with ``no_limit``), write atomically. Returns (the note, the
    gain in dB that scaling applied; 0 when none)."""
    check_finite(audio, sample_rate, what)
    peak = max(float(audio.max()), -float(audio.min())) if audio.size else 0.0
    gain, note, gain_db = clip_rule(peak, subtype, no_limit=no_limit)
    if note:
        audio *= gain
    write_audio(path, audio, sample_rate, fmt=fmt, subtype=subtype, kbps=kbps)
    return note, gain_db


def round_trip(audio: np.ndarray, sample_rate: int, *, fmt: str, subtype: str, kbps: int | None = None) -> np.ndarray:
    """``audio`` encoded as it would be written and decoded again, in memory (what a lossy codec
    does to peaks and loudness)."""
    buffer = io.BytesIO()
    buffer.name = f"x.{fmt.lower()}"
    with sf.SoundFile(buffer, "w", samplerate=sample_rate, channels=audio.shape[1], format=fmt, subtype=subtype,
                      **encoder_settings(subtype, audio.shape[1], sample_rate, kbps)) as out:
        out.write(audio)
    buffer.seek(0)
    with quiet_decoder(buffer.name):
        decoded, _ = sf.read(buffer, dtype="float64", always_2d=True)
    return decoded


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class AudioStream:
    """Mono float samples appended as they are generated (speech synthesis). Samples beyond full
    scale cannot be rescaled afterwards, so they are clipped and counted (``clipped``)."""

    def __init__(self, out: BlockWriter) -> None:
        self._out = out
        self.clipped = 0

    @property
    def sample_rate(self) -> int:
        return self._out.sample_rate

    @property
    def frames(self) -> int:
        return self._out.frames

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1, 1)
        over = np.abs(samples) > 1.0
        if over.any():
            self.clipped += int(over.sum())
            samples = np.clip(samples, -1.0, 1.0)
        if samples.size:
            self._out.write(samples)


@contextlib.contextmanager
def audio_stream(path: Path, sample_rate: int, *, fmt: str, subtype: str) -> Iterator[AudioStream]:
    """An AudioStream into a temp file that becomes ``path`` when the block ends without error."""
    with audio_writer(path, sample_rate, 1, fmt=fmt, subtype=subtype) as out:
        yield AudioStream(out)

"""The one way the engine calls SoX: raw float32 through ``sox -t f32 - -t f32 - <effect>`` on
stdin/stdout (no temp files, any channel count), whole (``run_sox``) or streamed (``SoxStream``).

SoX works on 32-bit integers internally, so callers scale the input to a 0.5 peak first
(``headroom_scale``), which leaves room for resampler overshoot, and scale back afterwards.
We drive the binary ourselves rather than through pysox: pysox's import alone costs ~0.15 s of
every command's start-up, and it pipes through the same binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from contextlib import closing
from typing import Callable, Generator, Iterator

import numpy as np

from ming_edit.errors import AudioError

HEADROOM_PEAK = 0.5


def sox_binary() -> str:
    path = shutil.which("sox")
    if path is None:
        raise AudioError("the sox binary is needed for speed, pitch and sample-rate changes (apt-get install sox)")
    return path


def headroom_scale(audio: np.ndarray) -> float:
    """The factor that brings ``audio``'s peak to HEADROOM_PEAK (1.0 for silence)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return HEADROOM_PEAK / peak if peak > 0.0 else 1.0


def _command(sample_rate: int, channels: int, effect: list[str], out_rate: int | None) -> list[str]:
    raw_in = ["-t", "f32", "-r", str(sample_rate), "-c", str(channels)]
    raw_out = ["-t", "f32", "-r", str(out_rate or sample_rate), "-c", str(channels)]
    return [sox_binary(), "-D", "-V1", *raw_in, "-", *raw_out, "-", *effect]


def _failure(effect: list[str], stderr: bytes, code: int) -> AudioError:
    message = stderr.decode(errors="replace").strip().splitlines()
    return AudioError(f"sox {' '.join(effect)} failed: {message[-1] if message else code}")


def run_sox(audio: np.ndarray, sample_rate: int, effect: list[str], *, out_rate: int | None = None) -> np.ndarray:
    """``audio`` float [frames, channels] through one SoX effect chain -> float64 [frames', channels]."""
    channels = audio.shape[1]
    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    proc = subprocess.run(_command(sample_rate, channels, effect, out_rate), input=data, capture_output=True)
    if proc.returncode != 0:
        raise _failure(effect, proc.stderr, proc.returncode)
    out = np.frombuffer(proc.stdout, dtype="<f4")
    return out[: len(out) // channels * channels].reshape(-1, channels).astype(np.float64)


class SoxStream:
    """One sox process over a stream: a thread feeds stdin while the caller reads stdout in blocks,
    so memory stays constant on any length. The bytes sox sees, and so its output, are exactly
    what ``run_sox`` would give for the concatenated input. ``kill()`` works from any thread."""

    def __init__(self, sample_rate: int, channels: int, effect: list[str], *, out_rate: int | None = None) -> None:
        self._cmd = _command(sample_rate, channels, effect, out_rate)
        self.effect, self.channels = effect, channels
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._killed = False

    def kill(self) -> None:
        with self._lock:
            self._killed = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()

    def run(self, blocks: Generator[np.ndarray, None, None], block_frames: int) -> Iterator[np.ndarray]:
        """Yield float32 [<= block_frames, channels] output blocks for float ``blocks`` (already
        scaled; closed once sox stops reading); an exception raised while producing ``blocks`` is
        re-raised here at the end."""
        stderr = tempfile.TemporaryFile()  # a file, not a pipe: sox can never block on it
        with self._lock:
            if self._killed:
                stderr.close()
                return
            self._proc = proc = subprocess.Popen(self._cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        failed: list[BaseException] = []

        def feed() -> None:
            try:
                for block in blocks:
                    proc.stdin.write(np.ascontiguousarray(block, dtype="<f4").data)
            except OSError:
                pass  # sox ended early (killed, or an error its exit status reports)
            except BaseException as err:  # the source failed: end sox's input, re-raise below
                failed.append(err)
            finally:
                blocks.close()
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, name="sox-feed", daemon=True)
        feeder.start()
        step = block_frames * self.channels * 4
        try:
            while chunk := proc.stdout.read(step):
                out = np.frombuffer(chunk, dtype="<f4")
                yield out[: len(out) // self.channels * self.channels].reshape(-1, self.channels)
            feeder.join()
            code = proc.wait()
            if failed:
                raise failed[0]
            if code != 0:
                stderr.seek(0)
                raise _failure(self.effect, stderr.read(), code)
        finally:
            self.kill()
            proc.wait()
            proc.stdout.close()
            feeder.join()
            stderr.close()


def sox_pieces_to_file(path: os.PathLike, pieces: list[Callable[[], Generator[np.ndarray, None, None]]],
                       lengths: list[int], sample_rate: int, channels: int, effect: list[str], *,
                       out_rate: int | None = None, block_frames: int, tick: Callable[[int], None]) -> None:
    """Each of ``pieces`` (a function making the piece's generator of scaled float blocks) through
    its own sox process, all in parallel, its output fitted to ``lengths[i]`` frames at its offset
    in the raw float32 file ``path``, pre-sized here (frames sox does not fill read as 0, as
    ``fit_length`` pads). ``tick(frames written)`` runs in this thread, which only ever waits
    briefly: Ctrl-C and SIGTERM raise here, and every sox is killed and reaped before they leave."""
    frame_bytes = channels * 4
    offsets = np.cumsum([0] + lengths)
    with open(path, "r+b") as f:
        f.truncate(int(offsets[-1]) * frame_bytes)
    soxes = [SoxStream(sample_rate, channels, effect, out_rate=out_rate) for _ in lengths]
    written, errors = [0] * len(lengths), []
    ended = [threading.Event() for _ in lengths]  # set once a piece's sox is reaped

    def piece(i: int) -> None:
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                with closing(soxes[i].run(pieces[i](), block_frames)) as outputs:
                    for out in outputs:
                        take = out[: lengths[i] - written[i]]
                        os.pwrite(fd, take, int(offsets[i] + written[i]) * frame_bytes)
                        written[i] += take.shape[0]
            finally:
                os.close(fd)
        except BaseException as err:  # re-raised by the caller's thread; the other pieces stop
            errors.append(err)
            for sox in soxes:
                sox.kill()
        finally:
            ended[i].set()

    started: list[threading.Event] = []
    try:
        for i in range(len(lengths)):
            threading.Thread(target=piece, args=(i,), name=f"sox-piece-{i}", daemon=True).start()
            started.append(ended[i])
        for event in started:
            while not event.wait(0.1):
                tick(sum(written))
    finally:
        for sox in soxes:
            sox.kill()  # a no-op once each has ended; on Ctrl-C / SIGTERM it stops them now
        for event in started:  # an Event, not Thread.join: a join interrupted by a signal may stop waiting
            event.wait()
    if errors:
        raise errors[0]


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad the end (a few samples at most) to exactly ``frames``."""
    if audio.shape[0] >= frames:
        return audio[:frames]
    return np.concatenate([audio, np.zeros((frames - audio.shape[0], audio.shape[1]))])

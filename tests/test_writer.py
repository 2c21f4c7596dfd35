"""The one atomic writer: fsync then rename, and no temp file left behind by errors, Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ming_edit.io import writer
from test_cli_support import listing, tone, write_tone

REPO = Path(__file__).resolve().parents[1]


def test_every_writer_fsyncs_before_the_rename(tmp_path: Path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1])
    writer.write_audio(tmp_path / "a.wav", tone(0.1), 16000, fmt="WAV", subtype="PCM_16")
    writer.write_text(tmp_path / "a.txt", "hello\n")
    with writer.audio_stream(tmp_path / "s.wav", 16000, fmt="WAV", subtype="PCM_16") as stream:
        stream.write(np.full(800, 2.0))
    # file fsync, rename, folder fsync: three times
    assert events == ["fsync", "rename", "fsync"] * 3
    assert listing(tmp_path) == ["a.txt", "a.wav", "s.wav"]
    assert stream.clipped == 800 and sf.info(str(tmp_path / "s.wav")).frames == 800
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    assert oct((tmp_path / "a.txt").stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def test_a_failed_stream_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with writer.audio_stream(tmp_path / "s.wav", 16000, fmt="WAV", subtype="PCM_16") as stream:
            stream.write(np.zeros(1600))
            raise RuntimeError("generation failed")
    assert listing(tmp_path) == []


def _run(code: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


SIGTERM_IN_WRITE = """
import os, signal, sys, time
from pathlib import Path
from ming_edit.io.writer import atomic_output
with atomic_output(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half a file")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
"""


def test_sigterm_inside_a_write_removes_the_temp_file(tmp_path: Path) -> None:
    done = _run(SIGTERM_IN_WRITE, tmp_path / "out.wav")
    assert done.returncode != 0
    assert listing(tmp_path) == []  # neither the output nor a hidden .part


CLI_SIGTERM = """
import os, signal, sys
import soundfile as sf
real = sf.SoundFile.write
def write_then_die(self, data):  # SIGTERM arrives half way through writing the output
    real(self, data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGTERM)
    real(self, data[len(data) // 2 :])
sf.SoundFile.write = write_then_die
from ming_edit.cli.app import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("folder", [False, True])
def test_sigterm_during_an_edit_exits_143_and_leaves_no_part_file(tmp_path: Path, folder: bool) -> None:
    src = tmp_path / "in"
    src.mkdir()
    clip = write_tone(src / "clip.wav", seconds=1.0)
    out = tmp_path / "out"
    target = out if folder else tmp_path / "edited.wav"
    done = _run(CLI_SIGTERM, "edit", src if folder else clip, "half the volume", "-o", target)
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "ming-edit: terminated"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["in", "in/clip.wav"]

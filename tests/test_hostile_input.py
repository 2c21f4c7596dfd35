"""Hostile input gets one line and its exit code, fast: no traceback, no stray warning, no output."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_cli_support import digest, listing, run_process, tone, write_tone


def one_line(done, code: int) -> str:
    assert done.returncode == code, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ming-edit: error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("instruction", ["raise the pitch by 2 semitones", "make it 20% faster", "denoise"])
def test_a_one_hertz_file_is_refused_before_any_work(tmp_path: Path, instruction: str) -> None:
    src = tmp_path / "tiny.wav"
    sf.write(str(src), np.array([0.1, 0.2, 0.3, -0.1] * 5), 1, subtype="PCM_16")  # 84 bytes at 1 Hz
    start = time.monotonic()
    done = run_process(["edit", src, instruction, "-o", tmp_path / "out.wav"], timeout=60)
    assert time.monotonic() - start < 10
    assert "sample rate of 1 Hz" in one_line(done, 1)
    assert listing(tmp_path) == ["tiny.wav"]


@pytest.mark.parametrize("name,samples,instruction", [
    ("dc", np.full(48000, 0.5), "normalize"),
    ("dc", np.full(48000, 0.5), "normalize to -5 LUFS"),
    ("click", np.r_[np.zeros(24000), [1.0], np.zeros(23999)], "normalize to -5 LUFS"),
    ("click", np.r_[np.zeros(24000), [1.0], np.zeros(23999)], "normalize for podcasts"),
])
def test_unreachable_loudness_is_one_line_without_warnings(tmp_path: Path, name: str, samples, instruction: str) -> None:
    src = tmp_path / f"{name}.wav"
    sf.write(str(src), samples, 48000, subtype="PCM_16")
    before = digest(src)
    done = run_process(["edit", src, instruction, "-o", tmp_path / "out.wav"])
    assert "cannot reach" in one_line(done, 1)  # before: OverflowError traceback / RuntimeWarning lines
    assert listing(tmp_path) == [src.name] and digest(src) == before


def test_output_through_a_symlink_loop_is_a_usage_error(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=0.2)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for target in (tmp_path / "a", tmp_path / "a" / "x.wav"):
        done = run_process(["edit", clip, "half the volume", "-o", target])
        assert "symlink loop" in one_line(done, 2)


@pytest.mark.parametrize("fmt,ext,subtype", [
    ("WAV", "wav", "PCM_16"), ("RF64", "rf64", "PCM_16"), ("W64", "w64", "PCM_16"), ("AIFF", "aiff", "PCM_24"),
    ("MP3", "mp3", "MPEG_LAYER_III"), ("FLAC", "flac", "PCM_16"), ("CAF", "caf", "PCM_16"),
])
def test_truncated_files_of_every_container_are_refused(tmp_path: Path, fmt: str, ext: str, subtype: str) -> None:
    whole = tmp_path / f"whole.{ext}"
    sf.write(str(whole), tone(2.0, sr=48000), 48000, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    done = run_process(["edit", cut, "half the volume", "-o", tmp_path / "out.wav"])
    line = one_line(done, 1) if fmt != "MP3" else done.stderr.strip().splitlines()[-1]  # mpg123 itself warns
    assert done.returncode == 1 and any(w in line for w in ("truncated", "malformed", "could not be decoded")), line
    assert not (tmp_path / "out.wav").exists()
    ok = run_process(["edit", whole, "half the volume", "-o", tmp_path / "ok.wav"])
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("instruction", ["turn it down 3 dB", "normalize for podcasts"])
def test_mp3_decoder_chatter_never_reaches_stderr(tmp_path: Path, instruction: str) -> None:
    """mpg123 prints its own warnings ("Xing stream size off", "part2_3_length too large") to the C
    stderr: a truncated mp3 gets our one line only, a good one nothing but notes."""
    good = tmp_path / "talk.mp3"
    sf.write(str(good), 0.3 * np.sin(np.arange(5 * 16000) / 16000 * 2 * np.pi * 440), 16000, format="MP3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "truncated" in one_line(run_process(["edit", cut, instruction, "-o", tmp_path / "a.wav"]), 1)
    done = run_process(["edit", good, instruction, "-o", tmp_path / "b.mp3"])
    assert done.returncode == 0, done.stderr
    assert all(line.startswith("note: ") for line in done.stderr.splitlines() if line.strip()), done.stderr

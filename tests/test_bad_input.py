"""Every bad-input row ends with one readable stderr line, a non-zero exit, no traceback, no
partial output, and the input byte-for-byte unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from test_cli_support import digest, invoke, listing, run_process, tone, write_tone

Setup = Callable[[Path], tuple[list, Path | None]]  # tmp dir -> (CLI args, input file to guard)


def _clip(tmp: Path) -> Path:
    return write_tone(tmp / "clip.wav", seconds=0.5)


def _bytes(name: str, data: bytes) -> Setup:
    def make(tmp: Path):
        path = tmp / name
        path.write_bytes(data)
        return [path, "normalize for podcasts"], path
    return make


def _truncated(tmp: Path):
    path = _clip(tmp)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return [path, "turn it down 6 dB"], path


def _zero_length(tmp: Path):
    path = tmp / "zero.wav"
    sf.write(str(path), np.zeros((0, 1)), 16000)
    return [path, "turn it down 6 dB"], path


def _silent(tmp: Path):
    path = tmp / "silent.wav"
    sf.write(str(path), np.zeros((8000, 1)), 16000)
    return [path, "normalize for podcasts"], path


def _bad_sample(value: float) -> Setup:
    def make(tmp: Path):
        audio = tone(0.5)
        audio[100, 0] = value
        path = tmp / "float.wav"
        sf.write(str(path), audio, 16000, subtype="FLOAT")
        return [path, "turn it down 6 dB"], path
    return make


def _with_clip(instruction: str, *extra: str) -> Setup:
    def make(tmp: Path):
        path = _clip(tmp)
        return [path, instruction, *[e.format(tmp=tmp) for e in extra]], path
    return make


def _output_is_input(tmp: Path):
    path = _clip(tmp)
    return [path, "turn it down 6 dB", "-o", tmp / "." / "clip.wav", "--overwrite"], path


def _output_exists(tmp: Path):
    path = _clip(tmp)
    (tmp / "clip.edited.wav").write_bytes(b"keep me")
    return [path, "turn it down 6 dB"], path


def _output_is_dir(tmp: Path):
    path = _clip(tmp)
    (tmp / "outdir").mkdir()
    return [path, "turn it down 6 dB", "-o", tmp / "outdir"], path


def _folder_without_audio(tmp: Path):
    (tmp / "docs").mkdir()
    (tmp / "docs" / "notes.txt").write_text("no audio here")
    return [tmp / "docs", "denoise", "-o", tmp / "out"], None


ROWS: dict[str, tuple[Setup, int, str]] = {
    "missing file": (lambda t: ([t / "nope.wav", "denoise"], None), 1, "input not found"),
    "directory given as the output file": (_output_is_dir, 2, "is a folder"),
    "folder with no audio": (_folder_without_audio, 2, "no audio files"),
    "empty file": (_bytes("empty.wav", b""), 1, "empty (0 bytes)"),
    "non-audio bytes": (_bytes("text.wav", b"hello, I am not a sound file\n" * 50), 1, "not a readable audio file"),
    "truncated wav": (_truncated, 1, "truncated"),
    "zero-length audio": (_zero_length, 1, "no audio (0 samples)"),
    "all-silent audio, normalise": (_silent, 1, "silent"),
    "NaN samples": (_bad_sample(np.nan), 1, "NaN or infinite"),
    "Inf samples": (_bad_sample(np.inf), 1, "NaN or infinite"),
    "speed 0": (_with_clip("adjust the speed to 0"), 2, "speed"),
    "speed 100": (_with_clip("adjust the speed to 100"), 2, "speed"),
    "pitch +48": (_with_clip("shift the pitch by 48 steps"), 2, "pitch"),
    "pitch -48": (_with_clip("shift the pitch by -48 steps"), 2, "pitch"),
    "output in a missing folder": (_with_clip("denoise", "-o", "{tmp}/no/such/dir/out.wav"), 2, "output folder does not exist"),
    "output equal to input": (_output_is_input, 2, "overwrite the input"),
    "output exists": (_output_exists, 2, "already exists; pass --overwrite"),
    "unknown output format": (_with_clip("denoise", "-o", "{tmp}/out.xyz"), 2, "cannot write '.xyz'"),
    "instruction not understood": (_with_clip("make it better"), 2, "cannot understand"),
    "model edit under --engine dsp": (_with_clip("delete the word 'um'", "--engine", "dsp"), 2, "needs the speech model"),
    "bad subtype for container": (_with_clip("denoise", "-o", "{tmp}/o.flac", "--subtype", "FLOAT"), 2, "cannot hold FLOAT"),
    "bad device": (_with_clip("denoise", "--device", "gpu7"), 2, "unknown device"),
}


def _check_failure(tmp: Path, setup: Setup, code: int, fragment: str, run) -> None:
    args, guarded = setup(tmp)
    before_files = listing(tmp)
    before_hash = digest(guarded) if guarded is not None and guarded.is_file() else None
    result = run(["edit", *args])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    exit_code = result.returncode if hasattr(result, "returncode") else result.exit_code
    assert exit_code == code, (exit_code, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ming-edit: error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert listing(tmp) == before_files  # nothing written, no temp file left
    if before_hash is not None:
        assert digest(guarded) == before_hash


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input_row(tmp_path: Path, name: str) -> None:
    setup, code, fragment = ROWS[name]
    _check_failure(tmp_path, setup, code, fragment, invoke)


@pytest.mark.parametrize("name", ["non-audio bytes", "truncated wav", "NaN samples", "output exists"])
def test_bad_input_in_a_real_process(tmp_path: Path, name: str) -> None:
    setup, code, fragment = ROWS[name]
    _check_failure(tmp_path, setup, code, fragment, run_process)


def test_model_edit_without_weights(tmp_path: Path) -> None:
    path = _clip(tmp_path)
    before = digest(path)
    env = {"MING_EDIT_MODEL": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = invoke(["edit", path, "delete the word 'um'"], env=env)
    assert result.exit_code == 3
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("ming-edit: error: ")
    assert "--model" in line and "MING_EDIT_MODEL" in line
    assert digest(path) == before and not (tmp_path / "clip.edited.wav").exists()

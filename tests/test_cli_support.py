"""Shared helpers for the CLI tests (no tests here): synthetic audio files and a CLI runner."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def tone(seconds: float = 1.0, sr: int = 16000, channels: int = 1, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A speech-band test signal: two tones with a slow envelope plus a little noise."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t)
    cols = []
    for c in range(channels):
        x = np.sin(2 * np.pi * (220 + 30 * c) * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
        cols.append(amp * envelope * x / 1.5 + 0.003 * rng.standard_normal(t.size))
    return np.stack(cols, axis=1)


def write_tone(path: Path, seconds: float = 1.0, sr: int = 16000, channels: int = 1, subtype: str | None = None,
               amp: float = 0.3, fmt: str | None = None) -> Path:
    sf.write(str(path), tone(seconds, sr, channels, amp), sr, subtype=subtype, format=fmt)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    """Every file under folder, hidden ones included (temp files must not be left behind)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def invoke(args: list[str], env: dict[str, str] | None = None):
    """Run the CLI in-process (fast); returns typer's Result (stdout, stderr, exit_code)."""
    from typer.testing import CliRunner

    from ming_edit.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def run_process(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m ming_edit ...` as a real process (for imports, tracebacks and timing)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ming_edit", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=REPO)

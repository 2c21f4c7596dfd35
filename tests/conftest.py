from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

# The test models are tiny: one thread avoids oversubscribing the 2-core CI machine
# (measured up to 35x faster on the golden cases), and subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN_DIR


@pytest.fixture(scope="session")
def golden_set():
    from ming_edit.dev.conformance.golden import GoldenSet

    return GoldenSet(GOLDEN_DIR)


@pytest.fixture(scope="session")
def golden_stack():
    """Every component of the tiny golden checkpoint, fp32 on CPU, loaded once per session."""
    from ming_edit.model.loader import load_stack

    return load_stack(GOLDEN_DIR, "all", device="cpu")


@pytest.fixture(scope="session")
def always_audio_dir(tmp_path_factory) -> Path:
    """A tiny checkpoint whose edit model always switches to audio and stops after about the
    input's length (benchmarks/checkpoints.always_audio_checkpoint), built once per session."""
    from benchmarks.checkpoints import always_audio_checkpoint

    return always_audio_checkpoint(tmp_path_factory.mktemp("always-audio") / "checkpoint")


@pytest.fixture(scope="session")
def speech_bench():
    """benchmarks/speech.py (espeak-ng test sentences, noise makers); skips without espeak-ng."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speech.py"
    spec = importlib.util.spec_from_file_location("ming_bench_speech", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def loads(monkeypatch):
    """Count real checkpoint loads (the per-process model cache is emptied first)."""
    from ming_edit.model import loader, session

    session.clear_cache()
    count = {"n": 0}
    real = loader.load_stack

    def counting(*args, **kwargs):
        count["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "load_stack", counting)
    yield count
    session.clear_cache()

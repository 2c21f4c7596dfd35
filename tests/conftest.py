from __future__ import annotations

import os
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
    from ming_edit.conformance.golden import GoldenSet

    return GoldenSet(GOLDEN_DIR)


@pytest.fixture(scope="session")
def golden_stack():
    """Every component of the tiny golden checkpoint, fp32 on CPU, loaded once per session."""
    from ming_edit.model.loader import load_stack

    return load_stack(GOLDEN_DIR, "all", device="cpu")

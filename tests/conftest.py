from __future__ import annotations

from pathlib import Path

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

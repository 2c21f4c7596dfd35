"""splice/boundaries.py: an edit's boundaries are the change points between the alignments either
side, wherever the path's region put them; ambiguous stretches stay open for the quiet placement."""

from __future__ import annotations

import numpy as np
import pytest

from ming_edit.splice.align import FrameEdit
from ming_edit.splice.boundaries import REACH_FRAMES, candidates
from ming_edit.splice.features import Features, unit_rows


def features(rows: np.ndarray) -> Features:
    return Features(unit_rows(rows), np.ones(rows.shape[0], dtype=bool), 160)


def distinct(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 24))


def allowed(mask: np.ndarray, lo: int) -> list[int]:
    return [lo + int(k) for k in np.flatnonzero(mask)]


@pytest.mark.parametrize("shift", [-8, 0, 8])
def test_insertion_point_is_found_wherever_the_path_put_it(shift: int) -> None:
    src = distinct(200, 0)
    word = distinct(40, 1)
    reg = np.concatenate([src[:100], word, src[100:]])
    edit = FrameEdit("insert", 100 + shift, 101 + shift, 100 + shift, 140 + shift, 0, 40)
    found = candidates(edit, features(src), features(reg))
    assert found is not None and (found.offset_before, found.offset_after) == (0, 40)
    assert allowed(found.start, found.lo) == [100]


def test_a_shared_sound_leaves_the_boundary_open() -> None:
    """The inserted word ends with the two frames before the insertion point: cutting 2 frames
    earlier gives the same audio, so both are allowed."""
    src = distinct(200, 2)
    word = np.concatenate([distinct(30, 3), src[98:100]])
    reg = np.concatenate([src[:100], word, src[100:]])
    found = candidates(FrameEdit("insert", 100, 101, 100, 132, 0, 32), features(src), features(reg))
    assert found is not None and allowed(found.start, found.lo) == [98, 99, 100]


def test_deletion_and_replacement_boundaries() -> None:
    src = distinct(300, 4)
    deleted = np.concatenate([src[:120], src[150:]])
    found = candidates(FrameEdit("delete", 115, 152, 115, 116, 0, -30), features(src), features(deleted))
    assert found is not None and allowed(found.start, found.lo) == [120]
    replaced = np.concatenate([src[:120], distinct(45, 5), src[150:]])
    found = candidates(FrameEdit("replace", 126, 144, 126, 159, 0, 15), features(src), features(replaced))
    assert found is not None
    # a frame inside a replacement costs EDITED: TOLERANCE / EDITED = 2 matching frames of slack each way
    for mask, truth in ((found.start, 120), (found.end, 150)):
        frames = allowed(mask, found.lo)
        assert truth in frames and max(abs(f - truth) for f in frames) <= 2


def test_offsets_are_refitted_and_the_search_stays_near_the_edit() -> None:
    src = distinct(400, 6)
    reg = np.concatenate([src[:200], distinct(20, 7), src[200:]])
    found = candidates(FrameEdit("insert", 200, 201, 201, 222, 1, 22), features(src), features(reg))  # offsets 1 off
    assert found is not None and (found.offset_before, found.offset_after) == (0, 20)
    assert found.lo == 200 - REACH_FRAMES and found.lo + found.start.shape[0] <= 201 + REACH_FRAMES + 1

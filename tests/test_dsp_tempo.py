"""Speed (tempo, pitch kept) and pitch (duration kept) through sox: lengths and f0."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ming_edit.dsp import apply_operation
from benchmarks.metrics import relative_duration_error, yin_f0
from ming_edit.ops.parser import Operation

SR = 16000
pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox binary not installed")


@pytest.fixture(scope="module")
def speech(speech_bench) -> np.ndarray:
    return speech_bench.espeak(speech_bench.SENTENCES[2], "en-us")


def _framewise_shift(before: np.ndarray, after: np.ndarray) -> float:
    f0, f1 = yin_f0(before, SR), yin_f0(after, SR)
    n = min(len(f0), len(f1))
    ratio = 12 * np.log2(f1[:n] / f0[:n])
    return float(np.median(ratio[np.isfinite(ratio)]))


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.3, 2.0, 3.7])
def test_speed_length_is_exact_mono_and_stereo(speech: np.ndarray, factor: float) -> None:
    for audio in (speech[:, None], np.stack([speech, -0.5 * speech], axis=1)):
        out = apply_operation(audio, SR, Operation("speed", {"factor": factor})).audio
        assert out.shape == (round(len(speech) / factor), audio.shape[1])
        assert relative_duration_error(len(speech), factor, out.shape[0]) < 1e-4


def test_speed_keeps_pitch_and_channels(speech: np.ndarray) -> None:
    stereo = np.stack([speech, -0.5 * speech], axis=1)
    out = apply_operation(stereo, SR, Operation("speed", {"factor": 1.5})).audio
    np.testing.assert_allclose(out[:, 1], -0.5 * out[:, 0], atol=1e-6)  # channels stay aligned
    f_in, f_out = np.nanmedian(yin_f0(speech, SR)), np.nanmedian(yin_f0(out[:, 0], SR))
    assert abs(12 * np.log2(f_out / f_in)) < 0.5


def test_speed_survives_peaks_above_full_scale(speech: np.ndarray) -> None:
    loud = speech[:, None] * (3.0 / np.abs(speech).max())  # sox itself would clip at 1.0
    out = apply_operation(loud, SR, Operation("speed", {"factor": 1.2})).audio
    assert np.abs(out).max() > 2.0


@pytest.mark.parametrize("semitones", [-7.0, 3.0, 12.0])
def test_pitch_shift_keeps_duration_and_moves_f0(speech: np.ndarray, semitones: float) -> None:
    out = apply_operation(speech[:, None], SR, Operation("pitch", {"semitones": semitones})).audio
    assert out.shape == (len(speech), 1)
    assert abs(_framewise_shift(speech, out[:, 0]) - semitones) < 0.25


def test_pitch_multichannel_and_odd_rate() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 150 * t) * (0.5 + 0.3 * np.sin(2 * np.pi * 3 * t))
    audio = np.stack([tone, tone * 0.5, -tone], axis=1)
    out = apply_operation(audio, rate, Operation("pitch", {"semitones": 2.0})).audio
    assert out.shape == audio.shape
    f0 = np.nanmedian(yin_f0(out[:, 2], rate))
    assert abs(12 * np.log2(f0 / 150.0) - 2.0) < 0.25


def test_identity_factors_copy(speech: np.ndarray) -> None:
    audio = speech[:, None]
    assert np.array_equal(apply_operation(audio, SR, Operation("speed", {"factor": 1})).audio, audio)
    assert np.array_equal(apply_operation(audio, SR, Operation("pitch", {"semitones": 0})).audio, audio)


def test_long_input_runs_in_parallel_pieces(speech: np.ndarray) -> None:
    from ming_edit.dsp import tempo

    audio = np.tile(np.concatenate([speech, np.zeros(SR // 2)]), 12)[:, None]  # ~70 s
    out = tempo.change_speed(audio, SR, 1.25)
    assert out.shape[0] == round(audio.shape[0] / 1.25)
    assert tempo._cpu_count() < 2 or len(tempo._quiet_cuts(audio, SR, 2)) == 3

"""Loudness normalisation: BS.1770 meter, limiter, quiet / short / 6-channel input (the true-peak
meter itself: test_dsp_truepeak.py)."""

from __future__ import annotations


import numpy as np
import pyloudnorm
import pytest

from ming_edit.dsp import apply_operation
from ming_edit.dsp.loudness.limiter import LimiterTiming, reduction_db
from ming_edit.dsp.loudness.meter import integrated_loudness
from ming_edit.dsp.loudness.truepeak import true_peak_dbtp
from ming_edit.ops.parser import Operation

SR = 16000


@pytest.fixture(scope="module")
def speech(speech_bench) -> np.ndarray:
    m = speech_bench
    return np.concatenate([m.espeak(m.SENTENCES[0], "en-us"), m.espeak(m.SENTENCES[1], "en-gb+f3")])


def test_meter_matches_pyloudnorm(speech: np.ndarray) -> None:
    stereo = np.stack([speech, 0.5 * np.roll(speech, 321)], axis=1)
    for audio in (speech[:, None], stereo):
        ours = integrated_loudness(audio, SR)
        ref = pyloudnorm.Meter(SR).integrated_loudness(audio)
        assert abs(ours - ref) < 0.05


def test_limiter_curve_covers_requirement() -> None:
    rng = np.random.default_rng(0)
    required = np.zeros(20000)
    required[5000:15000] = np.maximum(rng.standard_normal(10000) * 4, 0) * (rng.random(10000) < 0.02)
    smooth = reduction_db(required, LimiterTiming.for_rate(SR))
    assert np.all(smooth >= required - 1e-9)
    assert smooth[:4000].max() == 0 and np.abs(np.diff(smooth)).max() < 1.0  # glides, no jumps


def test_quiet_recording_reaches_target_under_ceiling(speech: np.ndarray) -> None:
    # -25 LUFS with peaks at -2.5 dBFS: a plain +9 dB gain would overshoot the ceiling by ~7 dB
    audio = speech[:, None].copy()
    peak_idx = len(speech) // 3
    audio *= 10 ** ((-25 - integrated_loudness(audio, SR)) / 20)
    audio[peak_idx : peak_idx + 40, 0] = np.hanning(40) * 10 ** (-2.5 / 20)  # a click-like peak
    audio *= 10 ** ((-25 - integrated_loudness(audio, SR)) / 20)
    assert true_peak_dbtp(audio, SR) + 9 > 5
    result = apply_operation(audio, SR, Operation("loudness", {"lufs": -16, "true_peak_db": -1}))
    assert abs(integrated_loudness(result.audio, SR) + 16) < 0.1
    assert true_peak_dbtp(result.audio, SR) <= -1.0 + 1e-9
    assert any("limited" in n for n in result.notes)


def test_loud_input_is_turned_down_without_limiting(speech: np.ndarray) -> None:
    audio = speech[:, None] * (0.9 / np.abs(speech).max())
    result = apply_operation(audio, SR, Operation("loudness", {"lufs": -30, "true_peak_db": -1}))
    ratio = result.audio[:, 0] / np.where(audio[:, 0] == 0, 1, audio[:, 0])
    assert np.allclose(ratio[audio[:, 0] != 0], ratio[np.argmax(np.abs(audio[:, 0]))])  # pure gain
    assert abs(integrated_loudness(result.audio, SR) + 30) < 0.05


def test_short_clip_is_measured_ungated(speech: np.ndarray) -> None:
    clip = speech[SR : SR + int(0.25 * SR), None]  # 250 ms: pyloudnorm refuses this
    result = apply_operation(clip, SR, Operation("loudness", {"lufs": -20, "true_peak_db": -1}))
    assert abs(integrated_loudness(result.audio, SR) + 20) < 0.1
    assert true_peak_dbtp(result.audio, SR) <= -1.0 + 1e-9
    assert any("shorter than 0.4 s" in n for n in result.notes)


def test_six_channels_are_normalised(speech: np.ndarray) -> None:
    audio = np.stack([np.roll(speech, 97 * k) * (0.2 + 0.1 * k) for k in range(6)], axis=1)
    result = apply_operation(audio, SR, Operation("loudness", {"lufs": -18, "true_peak_db": -2}))
    assert result.audio.shape == audio.shape
    assert abs(integrated_loudness(result.audio, SR) + 18) < 0.1
    assert true_peak_dbtp(result.audio, SR) <= -2.0 + 1e-9


def test_unreachable_target_is_an_error() -> None:
    from ming_edit.errors import AudioError

    square = np.sign(np.sin(np.linspace(0, 2000, 48000)))[:, None] * 0.8  # already dense
    with pytest.raises(AudioError, match="cannot reach"):
        apply_operation(square, SR, Operation("loudness", {"lufs": 0.0, "true_peak_db": -10}))

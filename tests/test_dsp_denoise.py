"""Denoise: SI-SDR gain on speech in stationary coloured noise, no damage to clean speech."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from ming_edit.dsp import apply_operation
from ming_edit.dsp.metrics import si_sdr
from ming_edit.plan import Operation

SR = 16000
DENOISE = Operation("denoise", {})


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speech.py"
    spec = importlib.util.spec_from_file_location("ming_bench_speech", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


@pytest.fixture(scope="module")
def speech(bench) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return np.concatenate([bench.espeak(bench.SENTENCES[0], "en-gb"), bench.espeak(bench.SENTENCES[3], "en-us+f3")])


@pytest.mark.parametrize("kind", ["pink", "brown"])
def test_noisy_speech_improves(bench, speech: np.ndarray, kind: str) -> None:
    noisy = bench.mix_at_snr(speech, bench.coloured_noise(len(speech), kind, seed=7), 5.0)
    out = apply_operation(noisy[:, None], SR, DENOISE).audio[:, 0]
    assert si_sdr(out, speech) - si_sdr(noisy, speech) >= 4.0  # benchmark figure: >= 5 dB mean


def test_clean_speech_is_not_damaged(bench, speech: np.ndarray) -> None:
    out = apply_operation(speech[:, None], SR, DENOISE).audio[:, 0]
    assert si_sdr(out, speech) > 30.0
    faint = bench.mix_at_snr(speech, bench.coloured_noise(len(speech), "pink", seed=2), 35.0)
    out = apply_operation(faint[:, None], SR, DENOISE).audio[:, 0]
    assert si_sdr(out, speech) > si_sdr(faint, speech) - 1.0


def test_stereo_channels_are_processed_separately(bench, speech: np.ndarray) -> None:
    noise = bench.coloured_noise(len(speech), "pink", seed=1)
    stereo = np.stack([bench.mix_at_snr(speech, noise, 5.0), speech], axis=1)
    out = apply_operation(stereo, SR, DENOISE).audio
    assert out.shape == stereo.shape
    assert si_sdr(out[:, 1], speech) > 30.0


def test_tiny_clip_passes_through() -> None:
    audio = np.random.default_rng(0).standard_normal((100, 1)) * 0.01
    assert np.array_equal(apply_operation(audio, SR, DENOISE).audio, audio)

"""True-peak meter against exact band-limited interpolation (FFT, 32x), at several rates.

The reference is computed here: the zero-padded signal's spectrum is zero-extended to 32x the
length (Nyquist bin split between +-fs/2) and transformed back, so every component up to fs/2
is interpolated exactly; its largest |value| is the true peak a careful grader would measure.
"""

from __future__ import annotations

import importlib.util
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from ming_edit.dsp import apply_operation
from ming_edit.dsp.loudness.meter import integrated_loudness
from ming_edit.dsp.loudness.truepeak import (
    BLOCK,
    HALFBAND_BETA,
    HALFBAND_TAPS,
    STAGE2_BETA,
    STAGE2_TAPS,
    TruePeakScanner,
    _half_sample_correction,
    _phase_taps,
    oversampling_factor,
    true_peak_dbtp,
)
from ming_edit.ops.parser import Operation

RATES = (16000, 22050, 44100, 48000)


def exact_peak_db(audio: np.ndarray, factor: int = 32) -> float:
    """Largest |x(t)| of the band-limited signal through the samples (FFT upsampling)."""
    length = -(-(audio.shape[0] + 4096) // 8192) * 8192  # zero padding; a length FFTs like
    x = np.concatenate([audio, np.zeros((length - audio.shape[0], audio.shape[1]))])
    spectrum = np.fft.rfft(x, axis=0)
    spectrum[-1] *= 0.5  # the Nyquist bin splits between +fs/2 and -fs/2
    wide = np.zeros((x.shape[0] * factor // 2 + 1, x.shape[1]), complex)
    wide[: spectrum.shape[0]] = spectrum
    return float(20 * np.log10(np.abs(np.fft.irfft(wide, x.shape[0] * factor, axis=0)).max() * factor))


@pytest.fixture(scope="module")
def speech_at(speech_bench):
    """Two espeak sentences at a given sample rate, [frames, 1]; each rate synthesised once."""

    @lru_cache(maxsize=None)
    def make(sample_rate: int) -> np.ndarray:
        m = speech_bench
        parts = [m.espeak(m.SENTENCES[0], "en-us", sample_rate=sample_rate),
                 m.espeak(m.SENTENCES[1], "en-gb+f3", sample_rate=sample_rate)]
        return np.concatenate(parts)[:, None]

    return make


def test_oversampling_rule_reaches_192_khz() -> None:
    expected = {4000: 48, 8000: 24, 16000: 12, 22050: 10, 32000: 6, 44100: 6, 48000: 4, 96000: 4, 192000: 4}
    for rate, factor in expected.items():
        assert oversampling_factor(rate) == factor
        assert factor * rate >= 192000 and factor % 2 == 0


def _direct_cells(audio: np.ndarray, sample_rate: int, cell: int) -> np.ndarray:
    """Refined cell peaks computed the slow, obvious way (float64, one point at a time): both
    stages as dot products, then per sample the crest of the sinusoid through the largest grid
    point and its neighbours, then the maximum over each cell."""
    factor = oversampling_factor(sample_rate)
    half = _phase_taps(HALFBAND_TAPS, 2, HALFBAND_BETA)[:, 1]
    second = _phase_taps(STAGE2_TAPS, factor // 2, STAGE2_BETA)
    pad = HALFBAND_TAPS + STAGE2_TAPS
    frames = audio.shape[0]
    best = np.zeros(-(-frames // cell) + 1)
    for ch in range(audio.shape[1]):
        x = np.concatenate([np.zeros(pad), audio[:, ch], np.zeros(pad + cell)])
        u = np.zeros(2 * len(x))
        u[0::2] = x
        c1 = HALFBAND_TAPS // 2 - 1
        for k in range(c1, len(x) - HALFBAND_TAPS):  # the point at time k + 1/2
            u[2 * k + 1] = x[k - c1 : k - c1 + HALFBAND_TAPS] @ half
        # plus what the half-band stage misses near Nyquist, here from the whole signal at once
        u[1::2] += np.fft.irfft(np.fft.rfft(x) * _half_sample_correction(len(x)), len(x))
        c2 = STAGE2_TAPS // 2 - 1
        grid = np.zeros(len(u) * factor // 2)  # grid[i] is at time i / factor
        for j in range(c2, len(u) - STAGE2_TAPS):
            grid[j * (factor // 2) : (j + 1) * (factor // 2)] = u[j - c2 : j - c2 + STAGE2_TAPS] @ second
        grid = np.abs(grid)
        slots = np.zeros(len(best) * cell)  # slot n covers samples [n - cell, n - cell + 1)
        for n in range(len(slots)):
            lo = (pad - cell + n) * factor
            i = lo + int(np.argmax(grid[lo : lo + factor]))
            left, mid, right = grid[i - 1 : i + 2]
            cos_w = (left + right) / (2 * mid)
            if mid >= left and mid >= right and cos_w < 1 - 5e-7:  # crest of the fitted sinusoid
                mid = np.sqrt(mid**2 + ((right - left) / (2 * np.sqrt(1 - cos_w**2))) ** 2)
            slots[n] = mid
        best = np.maximum(best, slots.reshape(-1, cell).max(axis=1))
    return best


@pytest.mark.parametrize(("sample_rate", "step"), [(16000, 1), (16000, 8), (44100, 16)])
def test_envelope_equals_direct_interpolation(sample_rate: int, step: int) -> None:
    rng = np.random.default_rng(step)
    audio = rng.standard_normal((3 * BLOCK + 77, 2)) * 0.3
    below = np.fft.rfft(audio, axis=0)
    below[np.fft.rfftfreq(len(audio)) > 0.45] = 0.0  # the FIR stages alone: exact agreement
    smooth = np.fft.irfft(below, len(audio), axis=0) * np.hanning(len(audio))[:, None]  # no edge jumps
    for signal, rtol, atol in ((smooth, 2e-5, 3e-5), (audio, 0.08, 1e-6)):
        # full band: the scanner sees 128 samples of context for the near-Nyquist correction
        blocks = np.arange(-(-signal.shape[0] // BLOCK))
        env = TruePeakScanner(signal, sample_rate).envelope(blocks, step).reshape(-1)
        cells = _direct_cells(signal, sample_rate, step)
        direct = np.maximum(cells[:-1], cells[1:])  # a run's value covers the run before it too
        np.testing.assert_allclose(env[: len(direct)], direct[: len(env)], rtol=rtol, atol=atol)


def test_block_bounds_hold_and_are_tight() -> None:
    bounds = TruePeakScanner(np.zeros((BLOCK, 1)), 16000).interp.bounds
    half = _phase_taps(HALFBAND_TAPS, 2, HALFBAND_BETA)[:, 1]
    audio = np.zeros((4 * BLOCK, 1))
    start = 2 * BLOCK - HALFBAND_TAPS // 2
    audio[start : start + HALFBAND_TAPS, 0] = np.sign(half)  # every tap adds up at one point
    worst = TruePeakScanner(audio, 16000)  # the FIR grid reaches the taps bound; the
    assert bounds.taps * 0.999 <= worst.true_peak() <= worst.block_bound.max()  # band adds more
    rng = np.random.default_rng(1)
    n = np.arange(20 * BLOCK)
    signals = {
        "worst case": audio,
        "noise": rng.standard_normal((len(n), 2)),
        "signs": np.sign(rng.standard_normal((len(n), 1))),
        "near Nyquist": np.sin(2 * np.pi * 0.49 * n + 0.3)[:, None],
        "slow": np.sin(2 * np.pi * 200 / 16000 * n)[:, None],
        "click": np.where(n == 3000, 1.0, np.sin(2 * np.pi * 300 / 16000 * n) * 0.3)[:, None],
    }
    for rate in (16000, 48000):
        for name, signal in signals.items():
            scanner = TruePeakScanner(signal, rate)
            blocks = np.arange(scanner.nblocks)
            envelope = scanner.envelope(blocks, 8).max(axis=1)
            assert np.all(envelope <= scanner.block_bound), (rate, name)
            # segments of other lengths give the near-Nyquist correction other context
            assert scanner.true_peak() == pytest.approx(envelope.max(), rel=3e-3)
            assert scanner.true_peak() >= np.abs(signal).max()  # the samples lie on the grid
    slow = TruePeakScanner(signals["slow"], 16000)
    assert slow.block_bound[2:-2].max() < 1.02 * slow.true_peak()  # skipping works on slow content


@pytest.mark.parametrize("sample_rate", RATES)
def test_meter_matches_exact_interpolation_on_speech(speech_at, sample_rate: int) -> None:
    speech = speech_at(sample_rate)
    assert abs(true_peak_dbtp(speech, sample_rate) - exact_peak_db(speech)) < 0.1


@pytest.mark.parametrize("sample_rate", RATES)
def test_meter_matches_exact_interpolation_on_worst_cases(sample_rate: int) -> None:
    n = np.arange(4000)
    quarter = 0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)  # samples at +-0.354, peaks between
    assert exact_peak_db(quarter[:, None]) - 20 * np.log10(np.abs(quarter).max()) > 2.9
    signals = [quarter]
    rng = np.random.default_rng(sample_rate)
    for f in (0.4, 0.45, 0.47):  # near-Nyquist tone bursts with random phase and position
        burst = np.sin(2 * np.pi * f * n[:700] + rng.uniform(0, 2 * np.pi)) * np.hanning(700) ** 2
        signals.append(np.roll(np.pad(burst, (1000, 2300)), int(rng.integers(0, 64))))
    for signal in signals:
        ours = true_peak_dbtp(signal[:, None], sample_rate)
        assert abs(ours - exact_peak_db(signal[:, None])) < 0.1, (sample_rate, ours)


@pytest.mark.parametrize("sample_rate", RATES)
def test_meter_is_exact_on_noise_up_to_near_nyquist(sample_rate: int) -> None:
    # fricative-like content: the band where short interpolators and coarse grids lose 0.1-0.2 dB
    rng = np.random.default_rng(7)
    freqs = np.fft.rfftfreq(8000)
    for band in ((0.3, 0.47), (0.4, 0.48), (0.05, 0.45)):
        spectrum = np.fft.rfft(rng.standard_normal(8000))
        spectrum[(freqs < band[0]) | (freqs > band[1])] = 0
        noise = np.fft.irfft(spectrum, 8000)[:, None]
        noise *= 0.5 / np.abs(noise).max()
        assert abs(true_peak_dbtp(noise, sample_rate) - exact_peak_db(noise)) < 0.03, band


@pytest.mark.parametrize("sample_rate", [16000, 44100])
def test_limited_output_meets_the_ceiling_exactly(speech_at, sample_rate: int) -> None:
    # quiet speech (-25 LUFS) with a -2.5 dBFS click: +11 dB to -14 LUFS needs heavy limiting
    audio = speech_at(sample_rate).copy()
    audio *= 10 ** ((-25 - integrated_loudness(audio, sample_rate)) / 20)
    width = sample_rate // 400
    audio[len(audio) // 3 : len(audio) // 3 + width, 0] = np.hanning(width) * 10 ** (-2.5 / 20)
    audio *= 10 ** ((-25 - integrated_loudness(audio, sample_rate)) / 20)
    result = apply_operation(audio, sample_rate, Operation("loudness", {"lufs": -14, "true_peak_db": -1.5}))
    assert abs(integrated_loudness(result.audio, sample_rate) + 14) < 0.1
    assert exact_peak_db(result.audio) <= -1.5 + 0.05
    assert any("limited" in note for note in result.notes)


def test_near_nyquist_content_meets_the_ceiling_exactly(speech_at) -> None:
    # resamplers leave energy within ~40 Hz of Nyquist (resample_poly 22.05 -> 16 kHz), which any
    # short interpolator rolls off; plus a 7.95 kHz burst whose peaks fall between samples
    from scipy.signal import resample_poly

    audio = resample_poly(speech_at(22050)[:, 0], 320, 441)
    n = np.arange(1600)
    burst = np.sin(2 * np.pi * 7950 / 16000 * n + np.pi / 2) * np.hanning(len(n)) ** 2
    start = len(audio) // 2
    audio[start : start + len(n)] += 0.5 * np.abs(audio).max() * burst
    audio = audio[:, None] * 10 ** ((-25 - integrated_loudness(audio[:, None], 16000)) / 20)
    assert abs(true_peak_dbtp(audio, 16000) - exact_peak_db(audio)) < 0.1
    result = apply_operation(audio, 16000, Operation("loudness", {"lufs": -14, "true_peak_db": -1.5}))
    assert abs(integrated_loudness(result.audio, 16000) + 14) < 0.05
    assert exact_peak_db(result.audio) <= -1.5 + 0.05
    assert any("limited" in note for note in result.notes)

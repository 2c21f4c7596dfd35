"""scipy-free internals of the loudness path, checked against scipy / pyloudnorm as oracles:
K-weighting coefficients and filter, the meter, partial re-measurement, the limiter's sliding
maximum and coarse-grid curve (the true-peak interpolator: test_dsp_truepeak.py)."""

from __future__ import annotations


import numpy as np
import pyloudnorm
import pytest
from scipy.ndimage import maximum_filter1d
from scipy.signal import resample_poly, sosfilt

from ming_edit.dsp.loudness.kweighting import FilterPass, k_weighting, k_weighting_sos
from ming_edit.dsp.loudness.limiter import LimiterTiming, forward_max, reduction_db
from ming_edit.dsp.loudness.meter import integrated_loudness, measure, remeasure
from ming_edit.dsp.loudness.truepeak import BLOCK

RATES = (8000, 16000, 44100, 48000, 96000)


@pytest.fixture(scope="module")
def speech(speech_bench) -> np.ndarray:
    m = speech_bench
    return np.concatenate([m.espeak(m.SENTENCES[1], "en-us"), m.espeak(m.SENTENCES[2], "en-gb+f3")])


@pytest.mark.parametrize("rate", RATES)
def test_coefficients_equal_pyloudnorm(rate: int) -> None:
    ref = np.array([np.r_[f.b, f.a] for f in pyloudnorm.Meter(rate)._filters.values()])
    np.testing.assert_allclose(k_weighting_sos(rate), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
def test_fir_filter_equals_iir(rate: int) -> None:
    x = np.random.default_rng(rate).standard_normal(3 * rate + 123)
    ref = sosfilt(k_weighting_sos(rate), x)
    kw = k_weighting(rate)
    assert np.abs(kw.filter(x) - ref).max() < 1e-9 * np.abs(ref).max()
    # chunks with history continue the filter exactly; one FilterPass reuses its buffers
    cut = [0, 1000, 1001, 2 * rate, len(x)]
    work = FilterPass(kw)
    pieces = [work.range_blocks(x, a, b).reshape(-1)[: b - a].copy() for a, b in zip(cut[:-1], cut[1:])]
    assert np.abs(np.concatenate(pieces) - ref).max() < 1e-9 * np.abs(ref).max()


@pytest.mark.parametrize("rate", [16000, 24000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_meter_matches_pyloudnorm_on_speech(speech: np.ndarray, rate: int, channels: int) -> None:
    audio = resample_poly(speech, rate // 1000, 16) if rate % 1000 == 0 else resample_poly(speech, 441, 160)
    multi = np.stack([np.roll(audio, 311 * k) * (1.0 - 0.15 * k) for k in range(channels)], axis=1)
    ours = integrated_loudness(multi, rate)
    ref = pyloudnorm.Meter(rate).integrated_loudness(multi)
    assert abs(ours - ref) < 0.05


def test_remeasure_equals_a_full_measurement() -> None:
    rate = 16000
    audio = np.random.default_rng(4).standard_normal((5 * rate + 77, 2)) * 0.1
    meas = measure(audio, rate)
    changed = audio * 2.0
    ranges = [(0, 300), (20000, 20600), (5 * rate, 5 * rate + 77)]
    for a, b in ranges:
        changed[a:b] *= 0.25
    hops, tail = remeasure(meas, 4.0, ranges, changed)
    full = measure(changed, rate)
    np.testing.assert_allclose(hops, full.hop_energy, rtol=1e-12)
    assert abs(tail - full.tail_energy) <= 1e-12 * max(full.tail_energy, 1.0)
    assert abs(meas.integrated(hops, tail) - full.integrated()) < 1e-9


@pytest.mark.parametrize("width", [1, 2, 3, 7, 64, 65, 81, 221])
def test_forward_max_equals_scipy(width: int) -> None:
    x = np.abs(np.random.default_rng(width).standard_normal(5000))
    ref = maximum_filter1d(x, size=width, origin=-(width // 2), mode="constant", cval=0.0)
    assert np.array_equal(forward_max(x, width), ref)


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 96000])
def test_coarse_limiter_covers_requirement_and_stays_in_margins(rate: int) -> None:
    timing = LimiterTiming.for_rate(rate)
    assert BLOCK % timing.step == 0 and timing.lookahead_steps >= 8 or timing.step == 1
    rng = np.random.default_rng(rate)
    n = rate
    required = np.zeros(n)
    lo, hi = n // 3, n // 3 + n // 10
    required[lo:hi] = np.maximum(rng.standard_normal(hi - lo) * 4, 0) * (rng.random(hi - lo) < 0.05)
    smooth = reduction_db(required, timing)
    assert np.all(smooth >= required - 1e-9)
    before, after = timing.margins(float(required.max()))
    first, last = np.flatnonzero(required)[[0, -1]]
    assert smooth[: first - before].max() == 0 and smooth[last + after :].max() == 0
    assert np.abs(np.diff(smooth)).max() < 1.0  # glides, no jumps


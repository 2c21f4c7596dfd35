"""Hum and rumble (ming_edit/dsp/filters.py, dsp/hum.py): the Butterworth high-pass and the notches against
scipy.signal as the oracle, block-wise == whole, the hum detector on real and synthetic speech,
hum removal depth, ranges and odd input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from ming_edit.dsp.filters import HighPass, NotchFilter, butterworth_high_pass_zpk, high_pass, notch_zpk
from ming_edit.dsp.hum import HumDetector, HumEstimate, detect_hum, hum_notch, remove_hum
from ming_edit.errors import AudioError, UsageError

RATES = (8000, 16000, 44100, 48000)
HUM_SHAPE = (1.0, 0.6, 0.5, 0.35, 0.3, 0.2, 0.15, 0.1)  # harmonic amplitudes, 1..8
# two upstream clips carry a steady 100.0 Hz buzz (2 x 50 Hz, there in their quiet frames too)
BUZZING_CLIPS = ("00004768-00000024", "chuanyu_demo")
_SPEECH: dict[int, np.ndarray] = {}


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def speech_at(bench, rate: int) -> np.ndarray:
    """~115 s of real speech: the 4 espeak sentences (4 voices) + every upstream clip."""
    if rate not in _SPEECH:
        parts = [bench.espeak(t, v, sample_rate=rate) for t, v in zip(bench.SENTENCES, bench.VOICES)]
        for _, audio, sr in bench.upstream_clips():
            g = np.gcd(sr, rate)
            parts.append(signal.resample_poly(audio[:, 0], rate // g, sr // g))
        _SPEECH[rate] = np.concatenate(parts)
    return _SPEECH[rate]


def hum_components(frames: int, rate: int, f0: float, level_re: float, count: int = 8) -> list[np.ndarray]:
    """Hum harmonics (HUM_SHAPE, phases 0.3 k), scaled together to ``level_re`` (an RMS) overall."""
    turn = np.exp(1j * (2 * np.pi * f0 * np.arange(frames) / rate + 0.3))
    comps, power = [], np.ones(frames, complex)
    for a in HUM_SHAPE[:count]:
        power *= turn  # e^{jk(wt + 0.3)}: one exp for all the harmonics
        comps.append(a * power.imag)
    gain = level_re / rms(sum(comps))
    return [c * gain for c in comps]


def band_power(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, mean power) over Hann frames of 2^15 (~1.5 Hz bins at 48 kHz)."""
    n = 1 << 15
    frames = x[: len(x) // n * n].reshape(-1, n) * np.hanning(n)
    return np.fft.rfftfreq(n, 1 / rate), np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)


def pink(bench, frames: int, rate: int) -> np.ndarray:
    key = -rate
    if key not in _SPEECH:
        _SPEECH[key] = bench.coloured_noise(1 << int(np.ceil(np.log2(frames))), "pink", seed=3)
    return _SPEECH[key][:frames]


def sos_of(zpk) -> np.ndarray:
    return signal.zpk2sos(*zpk)


# ------------------------------------------------------------------------------ high-pass


@pytest.mark.parametrize("rate", RATES + (384000,))
@pytest.mark.parametrize("cutoff,order", [(80.0, 4), (120.0, 2), (10.0, 8), (80.0, 5), (80.0, 1)])
def test_high_pass_equals_scipy_butter(rate: int, cutoff: float, order: int) -> None:
    z, p, k = butterworth_high_pass_zpk(cutoff, order, rate)
    rz, rp, rk = signal.butter(order, cutoff, "highpass", fs=rate, output="zpk")
    np.testing.assert_allclose(np.sort_complex(p), np.sort_complex(rp), rtol=0, atol=1e-12)
    np.testing.assert_allclose(z, rz, atol=1e-15)
    assert abs(k - rk) < 1e-12 * rk
    x = np.random.default_rng(order).standard_normal((rate // 4 + 77, 2))
    ref = signal.sosfilt(signal.butter(order, cutoff, "highpass", fs=rate, output="sos"), x, axis=0)
    out = HighPass(rate, 2, cutoff, order).process(x)
    assert np.abs(out - ref).max() < 1e-9  # measured <= 2e-10 (384 kHz, 10 Hz, 8th order)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("cutoff", [80.0, 120.0])
def test_high_pass_response(rate: int, cutoff: float) -> None:
    hp = HighPass(rate, 1, cutoff, 4)
    db = lambda f: 20 * np.log10(np.abs(hp.response(np.atleast_1d(f))))
    assert db(0.95 * cutoff)[0] < -3.0 < db(1.05 * cutoff)[0]  # -3 dB within cutoff +-5 %
    assert db(cutoff / 2)[0] <= -24.0  # 4th order: >= 24 dB down an octave below
    passband = np.geomspace(2 * cutoff, 0.45 * rate, 400)
    assert np.abs(db(passband)).max() < 0.1
    # the response is the filter's: a steady tone at the cutoff comes out -3 dB
    t = np.arange(2 * rate) / rate
    y = HighPass(rate, 1, cutoff, 4).process(np.sin(2 * np.pi * cutoff * t)[:, None])[rate:, 0]
    assert abs(20 * np.log10(rms(y) / np.sqrt(0.5)) + 3.0103) < 0.02
    w, h = signal.sosfreqz(signal.butter(4, cutoff, "highpass", fs=rate, output="sos"), worN=passband[:50], fs=rate)
    np.testing.assert_allclose(hp.response(w), h, atol=1e-9)


def test_high_pass_removes_dc_and_rumble() -> None:
    rate = 48000
    t = np.arange(3 * rate) / rate
    rumble = 0.3 + 0.5 * np.sin(2 * np.pi * 20 * t)  # DC + 20 Hz
    out, notes = high_pass(rumble[:, None], rate)
    assert notes == ["high-pass at 80 Hz (24 dB/octave Butterworth)"]
    assert rms(out[rate:, 0]) < 0.5 / np.sqrt(2) * 10 ** (-47 / 20)  # 20 Hz, two octaves down: -48 dB
    assert abs(out[rate:, 0].mean()) < 1e-6  # the DC is gone
    out, _ = high_pass(np.zeros((1000, 2)), rate, 120)
    assert not out.any()


# ------------------------------------------------------------------------------ notches


@pytest.mark.parametrize("rate", RATES + (384000,))
def test_notch_equals_scipy_iirnotch(rate: int) -> None:
    freqs = [50.0 * k for k in range(1, 9)]
    sos = np.array([np.concatenate(signal.iirnotch(f, f / 3.0, fs=rate)) for f in freqs])
    z, p, k = notch_zpk(freqs, [3.0] * 8, rate)
    np.testing.assert_allclose(np.sort_complex(p), np.sort_complex(signal.sos2zpk(sos)[1]), atol=1e-12)
    x = np.random.default_rng(1).standard_normal((rate // 2, 1))
    out = NotchFilter(rate, 1, freqs, 3.0).process(x)
    assert np.abs(out - signal.sosfilt(sos, x, axis=0)).max() < 1e-9  # measured <= 9e-11 at 384 kHz
    notch = NotchFilter(rate, 1, freqs, 3.0)
    assert np.abs(notch.response(freqs)).max() < 1e-9  # zeros on the unit circle
    assert abs(notch.response([0.0])[0] - 1.0) < 1e-9  # DC passes
    lo = np.sqrt(50.0**2 + 1.5**2) - 1.5  # -3 dB points 3 Hz apart, geometric about 50 Hz
    edges = np.abs(NotchFilter(rate, 1, [50.0], 3.0).response([lo, lo + 3.0]))
    np.testing.assert_allclose(20 * np.log10(edges), -3.0103, atol=0.001)


@pytest.mark.parametrize("make", ["highpass", "notch"])
@pytest.mark.parametrize("rate", [8000, 48000, 384000])
def test_blockwise_equals_whole(make: str, rate: int) -> None:
    def build():
        if make == "highpass":
            return HighPass(rate, 2, 80.0, 4)
        return NotchFilter(rate, 2, [50.0 * k for k in range(1, 7)], [3.0, 3.0, 3.0, 4.0, 5.0, 6.0])

    rng = np.random.default_rng(rate)
    x = rng.standard_normal((200_003, 2))
    whole = build().process(x)
    for sizes in ([1, 2, 3, 31, 32, 33, 63, 64, 65, 1000], [65536, 70000], [7]):
        f, parts, i, j = build(), [], 0, 0
        while i < len(x):
            n = sizes[j % len(sizes)] if len(sizes) > 1 else int(rng.integers(1, 5000))
            parts.append(f.process(x[i : i + n]))
            i, j = i + n, j + 1
        assert np.abs(np.concatenate(parts) - whole).max() < 1e-9  # measured ~2e-15
    assert build().process(np.empty((0, 2))).shape == (0, 2)
    f = build()
    assert f.lag == 0 and f.finish().shape == (0, 2)
    f.process(x[:500])
    f.reset()
    assert np.array_equal(f.process(x[:500]), build().process(x[:500]))


# ------------------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    "rate,f0", [(8000, 50.0), (8000, 59.7), (16000, 60.0), (16000, 50.3), (44100, 60.0), (48000, 50.0), (48000, 59.7)]
)
def test_hum_in_speech_is_detected(speech_bench, rate: int, f0: float) -> None:
    speech = speech_at(speech_bench, rate)
    noise = pink(speech_bench, len(speech), rate) * rms(speech) * 10 ** (-45 / 20)
    hum = sum(hum_components(len(speech), rate, f0, rms(speech) * 10 ** (-30 / 20)))
    est = detect_hum((speech + noise + hum)[:, None], rate)
    assert est.found and est.mains_hz == round(f0, -1)
    assert abs(est.fundamental_hz - f0) < 0.005  # measured <= 0.0015 Hz
    assert est.harmonics[:3] == (1, 2, 3) and len(est.harmonics) >= 5  # measured 5-6 (the rest under speech)


def test_detection_does_not_depend_on_block_sizes(speech_bench) -> None:
    rate = 16000
    speech = speech_at(speech_bench, rate)
    x = (speech + sum(hum_components(len(speech), rate, 50.0, rms(speech) * 10 ** (-30 / 20))))[:, None]
    results = []
    for size in (1000, 65536, 333_333):
        det = HumDetector(rate, 1)
        for i in range(0, len(x), size):
            det.feed(x[i : i + size])
        results.append(det.result())
    results.append(detect_hum((x[i : i + 4096] for i in range(0, len(x), 4096)), rate))  # an iterable of blocks
    for r in results[1:]:
        assert r.harmonics == results[0].harmonics
        assert abs(r.fundamental_hz - results[0].fundamental_hz) < 1e-9


@pytest.mark.parametrize("rate", [16000, 48000])
def test_clean_speech_has_no_hum(speech_bench, rate: int) -> None:
    est = detect_hum(speech_at(speech_bench, rate)[:, None], rate)
    assert not est.found and est.reason
    for voice in speech_bench.VOICES:
        alone = np.concatenate([speech_bench.espeak(t, voice, sample_rate=rate) for t in speech_bench.SENTENCES])
        assert not detect_hum(alone[:, None], rate).found


def test_real_clips_one_by_one(speech_bench) -> None:
    for name, audio, rate in speech_bench.upstream_clips():
        est = detect_hum(audio, rate)
        if name in BUZZING_CLIPS:
            assert est.found and est.mains_hz == 50 and est.harmonics == (2,)
            assert abs(2 * est.fundamental_hz - 100.0) < 0.2
        else:
            assert not est.found, (name, est)


def test_stereo_hum_in_one_channel(speech_bench) -> None:
    rate = 44100
    speech = speech_at(speech_bench, rate)
    hum = sum(hum_components(len(speech), rate, 60.0, rms(speech) * 10 ** (-30 / 20)))
    est = detect_hum(np.stack([speech + hum, speech[::-1]], axis=1), rate)
    assert est.found and est.mains_hz == 60 and abs(est.fundamental_hz - 60.0) < 0.005


def test_silence_short_and_dc() -> None:
    rate = 48000
    assert not detect_hum(np.zeros((10 * rate, 2)), rate).found
    short = detect_hum(np.zeros((rate // 2, 1)), rate)
    assert not short.found and "too short" in short.reason
    assert not detect_hum(np.full((5 * rate, 1), 0.5), rate).found
    # a strong hum in a short clip (4 s, one segment) is still found
    comps = hum_components(4 * rate, rate, 50.0, 0.05, count=3)
    est = detect_hum(sum(comps)[:, None] + 1e-4 * np.random.default_rng(0).standard_normal((4 * rate, 1)), rate)
    assert est.found and est.harmonics == (1, 2, 3) and abs(est.fundamental_hz - 50.0) < 0.01


# ------------------------------------------------------------------------------ removal


@pytest.mark.parametrize("rate", [16000, 48000])
@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_remove_hum_depth_and_speech_kept(speech_bench, rate: int, f0: float) -> None:
    speech = speech_at(speech_bench, rate)
    comps = hum_components(len(speech), rate, f0, rms(speech) * 10 ** (-30 / 20))
    x = (speech + sum(comps))[:, None]
    est = detect_hum(x, rate)
    out, notes = remove_hum(x, rate, est)
    assert notes == [f"hum at {est.fundamental_hz:.2f} Hz: {len(est.harmonics)} harmonics notched"]
    notch = hum_notch(est, rate, 1)
    steady = slice(rate, None)  # a 3 Hz notch settles in ~1/(pi 3 Hz); the first second is skipped
    for k in est.harmonics:
        notch.reset()
        left = notch.process(comps[k - 1][:, None])[steady, 0]
        assert 20 * np.log10(rms(left) / rms(comps[k - 1][steady])) <= -30.0  # measured -55..-86 dB
    # speech away from the notches is untouched
    notch.reset()
    kept = notch.process(speech[:, None])[:, 0]
    freqs, before = band_power(speech, rate)
    after = band_power(kept, rate)[1]
    away = np.ones(len(freqs), bool)
    for f, w in zip(notch.frequencies, notch.bandwidths):
        away &= np.abs(freqs - f) > 2 * w + 2 * (freqs[1] - freqs[0])
    for lo, hi in [(0, 500), (500, 2000), (2000, rate / 2)]:
        band = away & (freqs >= lo) & (freqs < hi)
        assert abs(10 * np.log10(after[band].sum() / before[band].sum())) < 0.5  # measured < 0.05 dB
    assert abs(10 * np.log10(np.sum(kept**2) / np.sum(speech**2))) < 0.5
    # what is left of the hum in the output (out - notched speech): the harmonics not notched
    left = (out[:, 0] - kept)[steady]
    unnotched = sum((c for k, c in enumerate(comps, 1) if k not in est.harmonics), np.zeros(len(speech)))[steady]
    assert rms(left) <= 1.06 * rms(unnotched) + 0.01 * rms(sum(comps)[steady])


def test_remove_hum_without_hum_changes_nothing(speech_bench) -> None:
    rate = 16000
    x = speech_at(speech_bench, rate)[:, None]
    out, notes = remove_hum(x, rate)
    assert np.array_equal(out, x)
    assert notes[0].startswith("no mains hum found") and notes[0].endswith(": nothing changed")
    out, notes = remove_hum(x, rate, HumEstimate(reason="test"))
    assert notes == ["no mains hum found (test): nothing changed"]


def test_drifting_line_gets_a_wider_notch() -> None:
    est = HumEstimate(50.0, 50, (1, 8), (20.0, 10.0), (0.25, 1.5))
    assert est.notch_bandwidths() == (3.0, 6.0)
    assert est.frequencies == (50.0, 400.0)


# ------------------------------------------------------------------------------ ranges, odd input


def test_ranges_are_refused_in_one_line() -> None:
    with pytest.raises(UsageError, match=r"high-pass cutoff 5 Hz is out of range \(10\.\.21600 Hz"):
        HighPass(48000, 1, 5.0)
    with pytest.raises(UsageError, match=r"high-pass cutoff 4000 Hz is out of range \(10\.\.3600 Hz, 0\.45 x the 8000 Hz"):
        HighPass(8000, 1, 4000.0)
    with pytest.raises(UsageError, match="order 9"):
        HighPass(48000, 1, 80.0, 9)
    with pytest.raises(UsageError, match="order"):
        HighPass(48000, 1, 80.0, 0)
    with pytest.raises(UsageError, match="must|out of range"):
        high_pass(np.zeros((10, 1)), 48000, float("nan"))
    with pytest.raises(AudioError, match="8000..384000 Hz, got 4000 Hz"):
        HighPass(4000, 1, 80.0)
    with pytest.raises(AudioError, match="sample rate"):
        HumDetector(768000, 1)
    with pytest.raises(UsageError, match="notch bandwidth 0.1 Hz"):
        NotchFilter(48000, 1, [50.0], 0.1)
    with pytest.raises(UsageError, match="notch at 30000 Hz"):
        NotchFilter(48000, 1, [30000.0])
    with pytest.raises(UsageError, match="notches at 50 and 51 Hz overlap"):
        NotchFilter(48000, 1, [51.0, 50.0], 3.0)
    with pytest.raises(UsageError, match="2 notch frequencies but 1 bandwidths"):
        NotchFilter(48000, 1, [50.0, 100.0], [3.0])
    with pytest.raises(AudioError, match="NaN"):
        high_pass(np.full((10, 1), np.nan), 48000)
    with pytest.raises(AudioError, match=r"\[frames, 2\]"):
        HighPass(48000, 2).process(np.zeros((10, 1)))


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000, 96000, 192000, 384000])
def test_every_rate_and_tiny_clips(rate: int) -> None:
    for frames in (0, 1, 5, 100):
        x = np.random.default_rng(frames).standard_normal((frames, 2))
        out, _ = high_pass(x, rate)
        ref = signal.sosfilt(signal.butter(4, 80.0, "highpass", fs=rate, output="sos"), x, axis=0) if frames else x
        assert out.shape == x.shape and np.abs(out - ref).max(initial=0.0) < 1e-12
        out, notes = remove_hum(x, rate)
        assert np.array_equal(out, x) and "too short" in notes[0]
    notch = NotchFilter(rate, 1, [50.0, 100.0, 150.0])
    assert np.abs(notch.response([50.0, 100.0, 150.0])).max() < 1e-9


def test_import_stays_light() -> None:
    code = "import sys, ming_edit.dsp.filters; print(sorted(m for m in ('scipy', 'torch', 'pedalboard') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

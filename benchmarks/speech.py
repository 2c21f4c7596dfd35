"""Real speech for tests and benchmarks: espeak-ng synthesis and the upstream demo clips.

Used by tests/test_dsp_*.py (loaded by path) and the benchmarks/*.py scripts.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and then it runs back home.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "She sells sea shells by the sea shore, while the waves roll in slowly.",
    "In the middle of the night, a quiet voice counted from one to twenty.",
)
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland+m3")
UPSTREAM_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "upstream"  # MIT clips (README there)
UPSTREAM_CLIPS = (
    sorted((UPSTREAM_DATA / "Ming-UniAudio" / "data" / "wavs").glob("*.wav"))
    + [UPSTREAM_DATA / "MingTok-Audio" / "data" / "1089-134686-0000.flac"]
)


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak(text: str, voice: str = "en-us", rate_wpm: int = 150, sample_rate: int = 16000) -> np.ndarray:
    """Synthesise ``text`` with espeak-ng; mono float64 at ``sample_rate`` (espeak makes 22050)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate_wpm), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        audio, sr = sf.read(wav, dtype="float64")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if sr != sample_rate:
        g = np.gcd(sr, sample_rate)
        audio = resample_poly(audio, sample_rate // g, sr // g)
    return audio


def speech_corpus(sample_rate: int = 16000) -> list[tuple[str, np.ndarray]]:
    """(name, mono audio) for every voice x sentence pair."""
    return [
        (f"espeak-{voice}-{i}", espeak(text, voice, sample_rate=sample_rate))
        for voice in VOICES
        for i, text in enumerate(SENTENCES)
    ]


def upstream_clips() -> list[tuple[str, np.ndarray, int]]:
    """(name, audio [frames, channels], sample rate) for the upstream demo recordings present."""
    clips = []
    for path in UPSTREAM_CLIPS:
        if path.exists():
            audio, sr = sf.read(path, dtype="float64", always_2d=True)
            clips.append((path.stem, audio, sr))
    return clips


def scale_to_peak(audio: np.ndarray, peak_dbfs: float) -> np.ndarray:
    return audio * (10.0 ** (peak_dbfs / 20.0) / np.abs(audio).max())


def coloured_noise(frames: int, kind: str, seed: int = 0) -> np.ndarray:
    """Stationary coloured noise, unit RMS: 'pink' (1/f), 'brown' (1/f^2, no DC drift) or
    'fan' (pink plus a resonance near 480 Hz at 16 kHz, like a fan or air conditioner)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(frames))
    f = np.fft.rfftfreq(frames)
    f[0] = f[1]
    if kind == "pink":
        spectrum /= np.sqrt(f)
    elif kind == "brown":
        spectrum /= f
        spectrum[f < 20.0 / 16000] = 0  # keep the DC drift out
    elif kind == "fan":
        spectrum /= np.sqrt(f)
        spectrum *= 1.0 + 4.0 * np.exp(-(((f - 0.03) / 0.01) ** 2))  # a resonance near 480 Hz at 16 kHz
    else:
        raise ValueError(kind)
    noise = np.fft.irfft(spectrum, frames)
    return noise / np.sqrt(np.mean(noise**2))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    gain = np.sqrt(np.mean(speech**2) / np.mean(noise**2)) * 10.0 ** (-snr_db / 20.0)
    return speech + gain * noise

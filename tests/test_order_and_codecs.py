"""Conversions happen before loudness is measured; lossy outputs meet the target once decoded;
a gain the clipping rule had to cut is reported as applied."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ming_edit.dsp.loudness.meter import integrated_loudness
from ming_edit.dsp.loudness.truepeak import true_peak_dbtp
from test_cli_support import REPO, invoke

SPEECH = REPO / "examples" / "speech_en.wav"


def measured(path: Path) -> tuple[float, float, int, int]:
    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return integrated_loudness(audio, rate), true_peak_dbtp(audio, rate), rate, audio.shape[1]


@pytest.fixture
def stereo(tmp_path: Path) -> Path:
    speech, rate = sf.read(str(SPEECH), dtype="float64")
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([speech, 0.3 * np.roll(speech, 800)], axis=1), rate, subtype="PCM_24")
    return path


@pytest.mark.parametrize("flags,rate,channels", [
    (["--channels", "1"], 16000, 1), (["--sample-rate", "48000"], 48000, 2), (["--channels", "1", "--sample-rate", "8000"], 8000, 1),
])
def test_conversions_come_before_the_loudness_measurement(tmp_path: Path, stereo: Path, flags, rate, channels) -> None:
    out = tmp_path / "out.wav"
    done = invoke(["edit", stereo, "normalize to -18 LUFS", "-o", out, *flags])
    assert done.exit_code == 0, done.stderr
    lufs, peak, got_rate, got_channels = measured(out)
    assert (got_rate, got_channels) == (rate, channels)
    assert lufs == pytest.approx(-18.0, abs=0.05) and peak <= -1.0 + 1e-3


def test_mono_to_stereo_lands_on_the_target(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    assert invoke(["edit", SPEECH, "normalize", "--channels", "2", "-o", out]).exit_code == 0
    lufs, _, _, channels = measured(out)
    assert channels == 2 and lufs == pytest.approx(-16.0, abs=0.05)  # before: -13.0


@pytest.mark.parametrize("name", ["out.mp3", "out.opus", "out.ogg"])
def test_lossy_outputs_keep_the_ceiling_once_decoded(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    done = invoke(["edit", SPEECH, "normalize for podcasts", "-o", out])
    assert done.exit_code == 0, done.stderr
    lufs, peak, _, _ = measured(out)
    assert peak <= -1.0 + 0.02
    assert lufs == pytest.approx(-16.0, abs=0.6 if name == "out.ogg" else 0.1)  # vorbis trades loudness for the ceiling


def test_a_capped_boost_says_what_was_applied(tmp_path: Path) -> None:
    hot = tmp_path / "hot.wav"
    sf.write(str(hot), 0.75 * np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000), 48000, subtype="PCM_16")
    done = invoke(["edit", hot, "make it twice as loud", "-o", tmp_path / "out.wav", "--json"])
    report = json.loads(done.stdout)
    assert report["clip_gain_db"] == pytest.approx(-3.6, abs=0.05)
    human = invoke(["edit", hot, "make it twice as loud", "-o", tmp_path / "out.wav", "--overwrite"])
    assert "then -3.6 dB" in human.stdout

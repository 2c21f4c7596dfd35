"""Leveler and compressor (dsp/dynamics.py) on two real voices 12 dB apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_cli_support import run_process

from ming_edit.dsp import apply_operation
from ming_edit.dsp.loudness.meter import integrated_loudness
from ming_edit.dsp.loudness.truepeak import true_peak_dbtp
from ming_edit.ops.operation import Operation

RATE = 16000


@pytest.fixture(scope="module")
def interview(speech_bench):
    """Host and guest take turns (espeak voices), the guest 12 dB quieter, 0.8 s pauses with room
    tone 45 dB under the host; returns (audio [frames, 1], turn spans, pause spans)."""
    rng = np.random.default_rng(3)
    turns, spans, pauses, parts, pos = [], [], [], [], 0
    for index in range(6):
        voice = speech_bench.VOICES[0] if index % 2 == 0 else speech_bench.VOICES[2]
        clip = speech_bench.espeak(speech_bench.SENTENCES[index % 4], voice, sample_rate=RATE)
        clip = clip / np.sqrt(np.mean(clip**2)) * 0.1 * (1.0 if index % 2 == 0 else 10 ** (-12 / 20))
        parts.append(clip)
        spans.append((pos, pos + len(clip)))
        pos += len(clip)
        gap = np.zeros(int(0.8 * RATE))
        parts.append(gap)
        pauses.append((pos, pos + len(gap)))
        pos += len(gap)
    audio = np.concatenate(parts)
    audio += 0.1 * 10 ** (-45 / 20) * rng.standard_normal(len(audio))
    return audio[:, None], spans, pauses


def levels_of(audio: np.ndarray, spans) -> list[float]:
    return [integrated_loudness(audio[a:b], RATE) for a, b in spans]


def test_leveler_brings_the_turns_together(interview) -> None:
    audio, turns, pauses = interview
    before = levels_of(audio, turns)
    assert max(before) - min(before) > 10
    out = apply_operation(audio, RATE, Operation("level")).audio
    after = levels_of(out, turns)
    assert max(after) - min(after) <= 3.0, after
    # room tone in the pauses is raised by at most 6 dB relative to the speech around it
    def rms_db(x: np.ndarray, spans) -> float:
        return 10 * np.log10(np.mean(np.concatenate([x[a + RATE // 5 : b - RATE // 5] for a, b in spans]) ** 2))

    tone_gain = rms_db(out, pauses) - rms_db(audio, pauses)
    speech_gain = np.mean(after) - np.mean(before)
    assert tone_gain - speech_gain <= 6.0


def test_level_then_normalize_lands_on_the_podcast_target(interview, tmp_path: Path) -> None:
    audio, turns, _ = interview
    src = tmp_path / "interview.wav"
    sf.write(str(src), audio, RATE, subtype="PCM_16")
    done = run_process(["edit", src, "level the speakers, then normalize for podcasts", "-o", tmp_path / "out.wav"])
    assert done.returncode == 0, done.stderr
    out, _ = sf.read(str(tmp_path / "out.wav"), dtype="float64", always_2d=True)
    assert abs(integrated_loudness(out, RATE) + 16.0) <= 0.5 and true_peak_dbtp(out, RATE) <= -1.0
    after = levels_of(out, turns)
    assert max(after) - min(after) <= 3.0


def test_compressor_narrows_the_dynamics(interview) -> None:
    audio, turns, _ = interview
    out = apply_operation(audio, RATE, Operation("compress")).audio
    before, after = levels_of(audio, turns), levels_of(out, turns)
    assert max(after) - min(after) < max(before) - min(before) - 3
    assert np.isfinite(out).all()


def test_leveling_silence_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "silent.wav"
    sf.write(str(src), np.zeros(RATE * 2), RATE)
    done = run_process(["edit", src, "level the speakers", "-o", tmp_path / "o.wav"])
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert done.returncode == 1 and len(lines) == 1 and "nothing to level" in lines[0]
    assert not (tmp_path / "o.wav").exists()


def test_normalize_says_when_the_limiter_works_hard(interview) -> None:
    audio, _, _ = interview
    quiet = 0.2 * audio
    quiet[:: 2 * RATE] = 0.9  # clicks: the gain to -16 LUFS must be limited hard
    notes = apply_operation(quiet, RATE, Operation("loudness", {"lufs": -16.0, "true_peak_db": -1.0})).notes
    assert any("by more than 3 dB" in n for n in notes) and any("level the speech first" in n for n in notes)
    plain = apply_operation(audio, RATE, Operation("loudness", {"lufs": -23.0, "true_peak_db": -1.0})).notes
    assert not any("level the speech first" in n for n in plain)

"""Time edits (dsp/timeline.py): cuts and keeps exact to the sample, fades exact in length,
silence trimmed and pauses shortened on real speech with room tone, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_cli_support import digest, listing, run_process

from ming_edit.dsp import apply_operation
from ming_edit.dsp.levels import frame_energy_db, mask_of_levels
from ming_edit.dsp.timeline import SEAM_SECONDS
from ming_edit.ops.operation import Operation

RATE = 16000
PAUSES = (0.4, 1.6, 2.4, 0.8, 3.1)  # between the sentences
LEAD, TAIL = 2.0, 3.0  # room tone before the first and after the last sentence


@pytest.fixture(scope="module")
def recording(speech_bench) -> tuple[np.ndarray, float]:
    """Six espeak sentences separated by PAUSES, room tone 35 dB under the speech throughout;
    returns (stereo audio, seconds of speech)."""
    sentences = [speech_bench.espeak(text, voice, sample_rate=RATE)
                 for text in speech_bench.SENTENCES[:3] for voice in speech_bench.VOICES[:2]]
    sentences = [s[np.flatnonzero(np.abs(s) > 1e-3)[0] : np.flatnonzero(np.abs(s) > 1e-3)[-1] + 1] for s in sentences]
    parts = [np.zeros(int(LEAD * RATE))]
    for index, sentence in enumerate(sentences):
        parts.append(sentence)
        parts.append(np.zeros(int((PAUSES[index] if index < len(PAUSES) else TAIL) * RATE)))
    clean = np.concatenate(parts)
    speech_rms = np.sqrt(np.mean(np.concatenate(sentences) ** 2))
    rng = np.random.default_rng(7)
    spectrum = np.fft.rfft(rng.standard_normal(len(clean)))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(len(clean), 1 / RATE), 20.0))  # pink room tone
    tone = np.fft.irfft(spectrum, len(clean))
    tone *= speech_rms * 10 ** (-35 / 20) / np.sqrt(np.mean(tone**2))
    mono = clean + tone
    return np.stack([mono, 0.8 * mono], axis=1), sum(len(s) for s in sentences) / RATE


def test_pauses_are_shortened_to_the_requested_length(recording) -> None:
    audio, _ = recording
    out = apply_operation(audio, RATE, Operation("pauses", {"longer_than": 1.0, "to": 0.5})).audio
    expected = audio.shape[0] / RATE - sum(p - 0.5 for p in PAUSES if p > 1.0)
    assert abs(out.shape[0] / RATE - expected) < 0.35, (out.shape[0] / RATE, expected)
    # speech is never cut: as much of it is detected in the output as in the input
    speech_in = mask_of_levels(frame_energy_db(audio[:, 0], RATE)[0]).sum()
    speech_out = mask_of_levels(frame_energy_db(out[:, 0], RATE)[0]).sum()
    assert abs(int(speech_in) - int(speech_out)) <= 3


def test_silence_is_trimmed_at_both_ends_with_a_short_margin(recording) -> None:
    audio, _ = recording
    out = apply_operation(audio, RATE, Operation("trim", {"start": True, "end": True})).audio
    expected = audio.shape[0] / RATE - LEAD - TAIL
    assert expected < out.shape[0] / RATE <= expected + 0.5 + 0.35
    start_only = apply_operation(audio, RATE, Operation("trim", {"start": True, "end": False})).audio
    assert np.array_equal(start_only[-RATE:], audio[-RATE:])  # the end untouched, bit for bit


def test_cuts_and_keeps_are_exact_to_the_sample(recording) -> None:
    audio, _ = recording
    a, b = int(3.25 * RATE), int(5.5 * RATE)
    cut = apply_operation(audio, RATE, Operation("cut", {"start": 3.25, "end": 5.5})).audio
    assert cut.shape[0] == audio.shape[0] - (b - a)
    half = int(SEAM_SECONDS * RATE) // 2
    assert np.array_equal(cut[: a - half], audio[: a - half]) and np.array_equal(cut[a + half :], audio[b + half :])
    kept = apply_operation(audio, RATE, Operation("keep", {"start": 3.25, "end": 5.5})).audio
    assert np.array_equal(kept, audio[a:b])
    first = apply_operation(audio, RATE, Operation("keep", {"first": 2.0})).audio
    assert np.array_equal(first, audio[: 2 * RATE])
    last = apply_operation(audio, RATE, Operation("cut", {"last": 1.0})).audio
    assert np.array_equal(last, audio[: -RATE])


def test_fades_are_exact_in_length_and_padding_is_silence(recording) -> None:
    audio, _ = recording
    faded = apply_operation(audio, RATE, Operation("fade", {"in": 2.0, "out": 3.0})).audio
    n_in, n_out = 2 * RATE, 3 * RATE
    assert np.array_equal(faded[n_in:-n_out], audio[n_in:-n_out])
    gain = faded[:n_in, 0] / np.where(audio[:n_in, 0] == 0, 1, audio[:n_in, 0])
    assert gain[0] < 1e-4 and np.all(np.diff(gain[audio[:n_in, 0] != 0]) > -1e-9)
    padded = apply_operation(audio, RATE, Operation("pad", {"start": 1.5, "end": 0.25})).audio
    assert padded.shape[0] == audio.shape[0] + int(1.75 * RATE)
    assert not padded[: int(1.5 * RATE)].any() and np.array_equal(padded[int(1.5 * RATE) : -RATE // 4], audio)


def one_line(done, code: int) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == code and len(lines) == 1 and lines[0].startswith("ming-edit: error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("instruction,code,message", [
    ("cut from 0:05 to 0:10", 1, "the recording lasts 3.000 s"),
    ("keep from 1 to 4 seconds", 1, "cannot keep up to 4.000 s: the recording lasts 3.000 s"),
    ("cut from 2 to 1 seconds", 2, "the end is not after the start"),
    ("fade in and out over 2 seconds", 1, "the fades (4 s) are longer than the recording (3.000 s)"),
    ("fade out over 5 seconds", 1, "longer than the recording"),
    ("shorten pauses longer than 1 second to 2 seconds", 2, "cannot be shortened to 2 s"),
    ("cut the first 3 seconds", 1, "would leave nothing"),
])
def test_bad_times_are_one_line_and_write_nothing(tmp_path: Path, instruction: str, code: int, message: str) -> None:
    src = tmp_path / "clip.wav"
    sf.write(str(src), 0.1 * np.sin(np.arange(3 * RATE) / RATE * 2 * np.pi * 220), RATE, subtype="PCM_16")
    before = digest(src)
    line = one_line(run_process(["edit", src, instruction, "-o", tmp_path / "out.wav"]), code)
    assert message in line, line
    assert listing(tmp_path) == ["clip.wav"] and digest(src) == before


def test_trimming_a_silent_file_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "quiet.wav"
    sf.write(str(src), np.zeros(RATE), RATE)
    assert "no speech found" in one_line(run_process(["edit", src, "trim the silence", "-o", tmp_path / "o.wav"]), 1)


def test_dry_run_predicts_the_length(tmp_path: Path) -> None:
    src = tmp_path / "clip.wav"
    sf.write(str(src), np.zeros(10 * RATE) + 0.01, RATE)
    done = run_process(["edit", src, "cut from 0:02 to 0:05, then add 1 second of silence at the end", "--dry-run", "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["duration_out"] == pytest.approx(8.0)


def test_dry_run_shows_the_figures_the_plan_depends_on(tmp_path: Path) -> None:
    src = tmp_path / "tone.wav"
    sf.write(str(src), 0.1 * np.sin(np.arange(3 * 48000) / 48000 * 2 * np.pi * 300), 48000)
    done = run_process(["edit", src, "normalize for podcasts, then cut the first second", "--dry-run", "--json"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["measured"]["integrated_lufs"] == pytest.approx(-23.8, abs=0.1)
    assert any("+7.8 dB to reach -16 LUFS" in n for n in report["notes"]) and report["duration_out"] == pytest.approx(2.0)
    assert listing(tmp_path) == ["tone.wav"]

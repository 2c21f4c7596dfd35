"""Pause splitting (energy VAD with hysteresis), sentence splitting and subtitle rendering."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from ming_edit.speech.subtitles import Cue, Transcript, render, render_srt, render_vtt
from ming_edit.speech.text import has_speakable_content, is_cjk_text, split_sentences
from ming_edit.speech.vad import MAX_CHUNK_SECONDS, is_silent, speech_spans, split_at_pauses

SR = 16000


def burst_signal(layout: list[tuple[str, float]], seed: int = 0) -> np.ndarray:
    """'s' = speech-like (amplitude-modulated noise), 'p' = pause (faint noise floor)."""
    rng = np.random.default_rng(seed)
    parts = []
    for kind, seconds in layout:
        n = int(seconds * SR)
        if kind == "s":
            t = np.arange(n) / SR
            envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)  # syllable-rate modulation, never silent
            parts.append(0.3 * envelope * rng.standard_normal(n))
        else:
            parts.append(0.001 * rng.standard_normal(n))
    return np.concatenate(parts).astype(np.float32)


def test_short_recording_is_one_untouched_chunk():
    audio = burst_signal([("s", 3.0), ("p", 1.0), ("s", 2.0)])
    assert [(s.start, s.end) for s in split_at_pauses(audio, SR)] == [(0, len(audio))]


def test_long_recording_is_cut_inside_pauses():
    layout = [("s", 12), ("p", 0.6), ("s", 14), ("p", 0.3), ("s", 9), ("p", 0.8), ("s", 20), ("p", 0.5), ("s", 10)]
    audio = burst_signal(layout)
    pauses, t = [], 0.0
    for kind, seconds in layout:
        if kind == "p":
            pauses.append((t, t + seconds))
        t += seconds
    chunks = split_at_pauses(audio, SR)
    assert chunks[0].start == 0 and chunks[-1].end == len(audio)
    for a, b in zip(chunks, chunks[1:]):
        assert a.end == b.start  # contiguous, nothing lost
    for chunk in chunks:
        assert chunk.length <= MAX_CHUNK_SECONDS * SR
    for cut in (c.end / SR for c in chunks[:-1]):
        assert any(lo <= cut <= hi for lo, hi in pauses), f"cut at {cut:.2f}s is not in a pause"
    # the first window holds two pauses; the cut goes into the longer one (0.6 s at 12 s, not 0.3 s at 26 s)
    assert abs(chunks[0].end / SR - 12.3) < 0.1


def test_recording_without_pauses_is_still_bounded():
    audio = burst_signal([("s", 65.0)])
    chunks = split_at_pauses(audio, SR)
    assert len(chunks) >= 3
    assert all(c.length <= MAX_CHUNK_SECONDS * SR for c in chunks)
    assert chunks[-1].end == len(audio)


def test_hysteresis_bridges_short_dips_but_not_pauses():
    audio = burst_signal([("p", 0.5), ("s", 1.0), ("p", 0.06), ("s", 1.0), ("p", 0.5), ("s", 1.0), ("p", 0.5)])
    spans = speech_spans(audio, SR)
    assert len(spans) == 2  # the 60 ms dip is inside a word, the 500 ms gap is a pause
    assert abs(spans[0].start / SR - 0.5) < 0.05 and abs(spans[0].end / SR - 2.56) < 0.15
    assert abs(spans[1].start / SR - 3.06) < 0.05


def test_silence_detection():
    assert is_silent(np.zeros(SR, dtype=np.float32), SR)
    assert is_silent(1e-4 * np.ones(SR, dtype=np.float32), SR)
    assert not is_silent(burst_signal([("s", 1.0)]), SR)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_vad_finds_the_gap_between_real_sentences(tmp_path):
    import soundfile as sf

    from ming_edit.model.session import to_model_rate

    pieces = []
    for i, sentence in enumerate(["The first sentence is here.", "And this is the second one."]):
        path = tmp_path / f"{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), sentence], check=True, capture_output=True)
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        pieces.append(to_model_rate(audio, rate))
    gap = np.zeros(SR, dtype=np.float32)
    audio = np.concatenate([pieces[0], gap, pieces[1]])
    spans = speech_spans(audio, SR)
    first_end, second_start = len(pieces[0]) / SR, (len(pieces[0]) + SR) / SR
    assert any(abs(s.end / SR - first_end) < 0.3 for s in spans)
    assert any(abs(s.start / SR - second_start) < 0.3 for s in spans)
    assert not any(s.start / SR < first_end + 0.2 and s.end / SR > second_start - 0.2 for s in spans)


def test_sentence_splitting_english_and_chinese():
    assert split_sentences("Hello there, my friend. How are you today? I am fine!") == [
        "Hello there, my friend.", "How are you today?", "I am fine!"]
    assert split_sentences("我们的愿景是构建未来。为世界带来更多改变！好。") == [
        "我们的愿景是构建未来。", "为世界带来更多改变！好。"]
    assert split_sentences("   ") == []
    # a short piece joins its neighbour, so no sentence is left with one or two words
    assert split_sentences("Yes. That is exactly what I meant to say.") == ["Yes. That is exactly what I meant to say."]


def test_long_sentences_are_split_at_commas_then_words():
    clause = "one two three four five six seven eight nine ten"
    text = f"{clause}, {clause}, {clause}, {clause}, {clause}."
    pieces = split_sentences(text, max_units=25)
    assert all(len(p.split()) <= 25 for p in pieces)
    assert " ".join(pieces).split() == text.split()
    long_word_run = " ".join(["word"] * 100)
    assert all(len(p.split()) <= 40 for p in split_sentences(long_word_run))


def test_text_classification():
    assert is_cjk_text("今天天气很好") and not is_cjk_text("the weather is nice")
    assert not has_speakable_content("🎉🎉 !!! ✨") and has_speakable_content("ok 🎉")


def _transcript() -> Transcript:
    return Transcript("a.wav", 3725.5, "English", [
        Cue(0.0, 1.5, "Hello there."), Cue(1.5, 1.5, " "), Cue(3723.25, 3725.5, "Bye now.")])


def test_srt_and_vtt_timestamps():
    srt = render_srt(_transcript())
    assert srt.splitlines()[:3] == ["1", "00:00:00,000 --> 00:00:01,500", "Hello there."]
    assert "2\n01:02:03,250 --> 01:02:05,500\nBye now." in srt  # the blank cue is left out
    vtt = render_vtt(_transcript())
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.")
    assert "01:02:03.250 --> 01:02:05.500" in vtt


def test_json_and_txt_rendering():
    import json

    data = json.loads(render([_transcript()], "json"))
    assert data["language"] == "English" and data["text"] == "Hello there. Bye now."
    assert data["segments"][2] == {"start": 3723.25, "end": 3725.5, "text": "Bye now."}
    assert render([_transcript()], "txt") == "Hello there.\nBye now.\n"

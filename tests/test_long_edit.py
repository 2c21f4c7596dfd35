"""Model edits on long recordings: windows at pauses, words located in a transcript, bad input
(pipelines/model_edit.py, speech/find.py). Runs that need the model: test_always_audio.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from ming_edit.cli.app import app
from ming_edit.errors import UsageError
from ming_edit.io import audio as audio_in
from ming_edit.ops.operation import Operation
from ming_edit.pipelines.model_edit import (
    WINDOW_SECONDS, TargetNotFoundError, select_windows, transcript_texts, window_spans)
from ming_edit.speech.find import count_occurrences, normalize_text, read_transcript
from ming_edit.speech.subtitles import Cue, Transcript

REPO = Path(__file__).resolve().parents[1]


def podcast(seconds: float, rate: int = 16000) -> np.ndarray:
    """Real speech (examples/speech_en.wav) repeated with 0.6 s pauses to ``seconds``."""
    voice, voice_rate = sf.read(str(REPO / "examples" / "speech_en.wav"), dtype="float64")
    assert voice_rate == 16000
    takes = []
    while sum(map(len, takes)) < seconds * 16000:
        takes += [voice, np.zeros(int(0.6 * 16000))]
    out = np.concatenate(takes)[: int(seconds * 16000)]
    if rate != 16000:
        from ming_edit.dsp.convert import resample

        out = resample(out, 16000, rate)
    return out


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_text_matching_ignores_case_width_and_punctuation() -> None:
    assert normalize_text("Hello, WORLD!") == "hello world"
    assert count_occurrences("hello", "Hello, hello... HELLO! othello") == 3
    assert count_occurrences("'um'", "So, um, I think, um") == 2
    assert count_occurrences("new york", "New  York's mayor") == 1
    assert count_occurrences("盘活", "有望盘活超万亿的国企存量资产，盘活！") == 2
    assert count_occurrences("ＡＢＣ", "abc and abc") == 2  # full-width letters
    assert count_occurrences("国企", "国 企存量") == 1  # spaces between characters do not matter
    assert count_occurrences("the", "theatre other") == 0


def test_windows_are_cut_at_pauses_within_the_limit(tmp_path: Path) -> None:
    audio = podcast(95.0)
    path = tmp_path / "long.wav"
    sf.write(str(path), audio, 16000, subtype="PCM_16")
    spans = window_spans(audio_in.probe(path))
    assert spans[0].start == 0 and spans[-1].end == len(audio) and len(spans) >= 5
    assert all(b.start == a.end for a, b in zip(spans, spans[1:]))
    assert all(s.length <= WINDOW_SECONDS * 16000 for s in spans)
    # every cut lies in a pause (the 0.6 s gaps between takes)
    for span in spans[1:]:
        assert np.abs(audio[span.start - 800 : span.start + 800]).max() < 0.01


def test_windows_holding_the_words_are_chosen() -> None:
    texts = ["welcome to the show", "um, so today, um", "nothing here", "one more um"]
    delete = Operation("delete", {"text": "um"})
    assert select_windows([delete], texts, None) == [1, 3]
    assert select_windows([delete], texts, 2) == [1]
    assert select_windows([delete], texts, 3) == [3]
    with pytest.raises(UsageError, match="occurs 3 time"):
        select_windows([delete], texts, 4)
    with pytest.raises(TargetNotFoundError, match="'banana' is not in the transcript of any of the 4 windows"):
        select_windows([Operation("delete", {"text": "banana"})], texts, None)
    assert select_windows([Operation("insert", {"text": "hi", "at": "beginning"})], texts, None) == [0]
    assert select_windows([Operation("substitute", {"old": "show", "new": "podcast"})], texts, None) == [0]
    assert select_windows([Operation("emotion", {"emotion": "happy"})], texts, None) == [0, 1, 2, 3]


def test_segments_go_to_the_window_holding_their_middle() -> None:
    from ming_edit.speech.vad import Span

    spans = [Span(0, 160000), Span(160000, 320000)]
    transcript = Transcript("t", 20.0, None, (Cue(0.5, 4.0, "first"), Cue(9.0, 12.0, "straddles"), Cue(15.0, 19.0, "last")))
    assert transcript_texts(transcript, spans, 16000) == ["first", "straddles last"]


def write_transcript(path: Path, segments: object) -> Path:
    path.write_text(json.dumps({"file": "x", "duration": 10, "segments": segments}), encoding="utf-8")
    return path


@pytest.mark.parametrize("segments,message", [
    ([{"start": 0, "end": 50, "text": "x"}], "ends at 50.00 s, after the recording"),
    ([{"start": 2, "end": 4, "text": "a"}, {"start": 3, "end": 5, "text": "b"}], "must be in order and not overlap"),
    ([{"start": "0", "end": 1, "text": "a"}], "needs numeric"),
    ([{"start": 3, "end": 1, "text": "a"}], "runs from 3 s to 1 s"),
    ("not a list", "no \"segments\" list"),
])
def test_bad_transcripts_are_one_line(tmp_path: Path, segments: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_transcript(write_transcript(tmp_path / "t.json", segments), 10.0)


def test_a_transcript_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(UsageError, match="not readable JSON"):
        read_transcript(tmp_path / "t.json", 10.0)
    with pytest.raises(UsageError, match="does not exist"):
        read_transcript(tmp_path / "missing.json", 10.0)


@pytest.fixture
def episode(tmp_path: Path) -> tuple[Path, Path]:
    """A 70 s recording and a transcript placing 'banana' in the third window."""
    audio = podcast(70.0, 44100)
    path = tmp_path / "episode.wav"
    sf.write(str(path), np.stack([audio, 0.5 * audio], axis=1), 44100, subtype="PCM_16")
    spans = window_spans(audio_in.probe(path))
    segments = []
    for i, span in enumerate(spans):
        words = "and then a banana fell" if i == 2 else "the quick brown fox"
        segments.append({"start": span.start / 44100 + 0.1, "end": span.end / 44100 - 0.1, "text": words})
    return path, write_transcript(tmp_path / "episode.json", segments)


def test_dry_run_lists_the_windows_to_edit(episode: tuple[Path, Path], tmp_path: Path) -> None:
    path, transcript = episode
    result = run("edit", path, "delete the word 'banana'", "--transcript", transcript, "--dry-run", "--json",
                 "--model", tmp_path / "no-model-needed")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    windows = report["windows"]
    assert [w.get("planned", False) for w in windows] == [i == 2 for i in range(len(windows))]
    assert windows[2]["text"] == "and then a banana fell" and windows[-1]["end"] == pytest.approx(70.0, abs=1e-3)
    assert report["steps"] == [{"op": "delete", "engine": "model"}]
    assert not (tmp_path / "episode.edited.wav").exists()


def test_words_found_nowhere_write_nothing(episode: tuple[Path, Path], tmp_path: Path) -> None:
    path, transcript = episode
    before = path.read_bytes()
    result = run("edit", path, "delete the word 'kiwi'", "--transcript", transcript, "-o", tmp_path / "out.wav")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"ming-edit: error: 'kiwi' is not in the transcript of any of the {len(json.loads(transcript.read_text())['segments'])} "
        "windows searched; nothing was written"]
    assert not (tmp_path / "out.wav").exists() and path.read_bytes() == before


def test_occurrence_beyond_the_matches(episode: tuple[Path, Path], tmp_path: Path) -> None:
    path, transcript = episode
    result = run("edit", path, "delete the word 'banana'", "--transcript", transcript, "--occurrence", "2",
                 "--dry-run")
    assert result.exit_code == 2 and "occurs 1 time" in result.stderr
    assert run("edit", path, "delete 'banana'", "--occurrence", "0", "--dry-run").exit_code == 2


def test_index_edits_need_one_window(episode: tuple[Path, Path]) -> None:
    path, _ = episode
    result = run("edit", path, "delete the words from index 2 to index 3", "--dry-run")
    assert result.exit_code == 2 and "name the words instead" in result.stderr


def test_dry_run_without_a_transcript_says_what_it_needs(episode: tuple[Path, Path]) -> None:
    path, _ = episode
    result = run("edit", path, "delete the word 'banana'", "--dry-run")
    assert result.exit_code == 2 and "--transcript" in result.stderr

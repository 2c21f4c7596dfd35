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


def windows_of(path: Path) -> list:
    return window_spans(audio_in.probe(path))


def test_only_the_window_with_the_word_changes(episode: tuple[Path, Path], tmp_path: Path, always_audio_dir: Path,
                                              loads) -> None:
    """70 s of stereo speech at 44.1 kHz, 'banana' in the third window: the model edits that window
    only; every sample before and after it is the input's own."""
    path, transcript = episode
    out = tmp_path / "out.wav"
    result = run("edit", path, "delete the word 'banana'", "--transcript", transcript, "-o", out, "--json",
                 "--model", always_audio_dir, "--device", "cpu", "--seed", "0")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    edited = [i for i, w in enumerate(report["windows"]) if w["edited"]]
    assert edited == [2] and report["windows"][2]["cot"]
    source, _ = sf.read(str(path), dtype="int16", always_2d=True)
    written, rate = sf.read(str(out), dtype="int16", always_2d=True)
    assert rate == 44100 and sf.info(str(out)).subtype == "PCM_16" and written.shape[1] == 2
    span = windows_of(path)[2]
    assert np.array_equal(written[: span.start], source[: span.start])  # bit for bit before ...
    tail = source.shape[0] - span.end
    assert np.array_equal(written[written.shape[0] - tail :], source[span.end :])  # ... and after
    assert loads["n"] == 1


def test_without_a_transcript_the_model_searches_every_window(tmp_path: Path, always_audio_dir: Path, loads) -> None:
    """The tiny checkpoint transcribes every window as "hello"; each is searched, all are edited."""
    path = tmp_path / "talk.wav"
    sf.write(str(path), podcast(32.0), 16000, subtype="PCM_16")
    result = run("edit", path, "delete the word 'hello'", "-o", tmp_path / "out.wav", "--json",
                 "--model", always_audio_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    windows = json.loads(result.stdout)["windows"]
    assert len(windows) == 2 and all(w["text"] == "hello" and w["edited"] for w in windows)
    assert loads["n"] == 1


def test_mixed_plan_runs_each_step_on_its_engine(tmp_path: Path, always_audio_dir: Path, loads) -> None:
    path = tmp_path / "talk.wav"
    sf.write(str(path), podcast(8.0), 16000, subtype="PCM_16")
    out = tmp_path / "out.wav"
    result = run("edit", path, "denoise, then delete the word 'hello', then normalize for podcasts", "-o", out,
                 "--json", "--model", always_audio_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["steps"] == [{"op": "denoise", "engine": "dsp"}, {"op": "delete", "engine": "model"},
                               {"op": "loudness", "engine": "dsp"}]
    assert any("loudness" in n for n in report["notes"]) and any("denoised" in n for n in report["notes"])
    from ming_edit.dsp.loudness.meter import integrated_loudness

    audio, rate = sf.read(str(out), dtype="float64", always_2d=True)
    assert abs(integrated_loudness(audio, rate) + 16.0) < 0.1  # the last step ran last, on the model's output
    assert loads["n"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "talk.wav"]  # no stage files left


def test_a_window_the_model_fails_on_is_kept(tmp_path: Path, always_audio_dir: Path, monkeypatch) -> None:
    """Two windows hold the word; the model gives no audio for the second: it stays the original,
    the report says so, exit 1 (0 with --keep-going). With no window edited nothing is written."""
    from ming_edit.model.edit_loop import NoEditAudioError
    from ming_edit.pipelines import regenerate

    path = tmp_path / "talk.wav"
    sf.write(str(path), podcast(32.0), 16000, subtype="PCM_16")
    real, calls = regenerate.regenerate_clip, []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) % 2 == 0:
            raise NoEditAudioError("the model never emitted <gen_audio> within 3 steps")
        return real(*args, **kwargs)

    monkeypatch.setattr(regenerate, "regenerate_clip", second_fails)
    common = ["--json", "--model", always_audio_dir, "--device", "cpu"]
    result = run("edit", path, "delete the word 'hello'", "-o", tmp_path / "a.wav", *common)
    assert result.exit_code == 1 and "1 of 2 window(s) got no audio" in result.stderr
    windows = json.loads(result.stdout)["windows"]
    assert windows[0]["edited"] and not windows[1]["edited"] and "within 3 steps" in windows[1]["failed"]
    source, _ = sf.read(str(path), dtype="int16")
    written, _ = sf.read(str(tmp_path / "a.wav"), dtype="int16")
    start = int(windows[1]["start"] * 16000)
    assert np.array_equal(written[written.shape[0] - (source.shape[0] - start) :], source[start:])
    kept = run("edit", path, "delete the word 'hello'", "-o", tmp_path / "b.wav", "--keep-going", *common)
    assert kept.exit_code == 0, kept.stderr

    monkeypatch.setattr(regenerate, "regenerate_clip", lambda *a, **k: (_ for _ in ()).throw(
        NoEditAudioError("the model never emitted <gen_audio> within 3 steps")))
    none = run("edit", path, "delete the word 'hello'", "-o", tmp_path / "c.wav", *common)
    assert none.exit_code == 1 and "within 3 steps" in none.stderr and not (tmp_path / "c.wav").exists()


def test_a_folder_of_model_edits_loads_the_model_once(tmp_path: Path, always_audio_dir: Path, loads) -> None:
    folder = tmp_path / "shows"
    folder.mkdir()
    for name, seconds in (("a.wav", 6.0), ("b.wav", 9.0), ("c.wav", 4.0)):
        sf.write(str(folder / name), podcast(seconds), 16000, subtype="PCM_16")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = run("edit", folder, "make it sound happy", "-o", tmp_path / "out", "--json",
                 "--model", always_audio_dir, "--device", "cpu")
    assert result.exit_code == 1 and "1 of 4 files failed" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav", "c.wav"]
    assert loads["n"] == 1
    refused = run("edit", folder, "delete 'x'", "--transcript", tmp_path / "t.json", "--dry-run")
    assert refused.exit_code == 2 and "single file" in refused.stderr

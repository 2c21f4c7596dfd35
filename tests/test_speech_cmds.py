"""`ming-edit transcribe | speak | clone` on the tiny golden checkpoint, through the real CLI.

Upstream's recorded noise is replayed through the same code path the CLI uses by replacing
session.make_noise, so the greedy tokens and generated audio must match the golden fixtures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from ming_edit.model import session

GOLDEN = Path(__file__).parent / "golden"
LSB = 1.0 / 32768


@pytest.fixture(scope="module")
def cli():
    from ming_edit.cli.app import app

    return app


def invoke(cli, args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


@pytest.fixture
def replay(monkeypatch, golden_set):
    def use(case_name):
        case = golden_set.case(case_name)
        monkeypatch.setattr(session, "make_noise", lambda seed: case.noise())
        return case

    return use


def write_wav(path: Path, samples, rate: int = 16000, subtype: str = "PCM_16") -> Path:
    sf.write(path, np.asarray(samples, dtype=np.float32), rate, subtype=subtype)
    return path


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("ming-edit: error: ")
    return lines[0]


# ----- transcribe -----

def test_transcribe_reproduces_upstream_greedy_tokens(cli, tmp_path, replay):
    case = replay("e2e_asr")
    wav = write_wav(tmp_path / "a.wav", case.input("waveform")[0].numpy())
    result = invoke(cli, ["transcribe", wav, "--model", GOLDEN, "--device", "cpu", "--format", "json",
                          "--with-tokens", "--max-new-tokens", case.params["max_new_tokens"]])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chunks"][0]["tokens"] == case.expected("new_tokens")[0].tolist()
    assert data["duration"] == pytest.approx(32123 / 16000, abs=1e-3)


def test_folder_of_files_loads_the_model_once(cli, tmp_path, loads, golden_set):
    wave = golden_set.case("e2e_asr").input("waveform")[0].numpy()
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    write_wav(folder / "a.wav", wave)
    stereo = np.stack([wave, 0.5 * wave], axis=1)
    write_wav(folder / "sub" / "b.flac", stereo, rate=44100)  # other rate and channel count
    write_wav(folder / "c.wav", wave[:16000])
    out = tmp_path / "out"
    result = invoke(cli, ["transcribe", folder, "-o", out, "--format", "vtt", "--model", GOLDEN,
                          "--max-new-tokens", 3, "--seed", 0])
    assert result.exit_code == 0, result.output
    assert loads["n"] == 1
    for rel in ("a.vtt", "sub/b.vtt", "c.vtt"):
        assert (out / rel).read_text().startswith("WEBVTT")


def test_long_recording_is_chunked_with_timestamps(cli, tmp_path, monkeypatch):
    from tests.test_segment import burst_signal

    layout = [("s", 14), ("p", 0.7), ("s", 20), ("p", 0.7), ("s", 25)]
    audio = burst_signal(layout, seed=3)
    wav = write_wav(tmp_path / "long.wav", audio)
    result = invoke(cli, ["transcribe", wav, "--model", GOLDEN, "--format", "json", "--with-tokens",
                          "--max-new-tokens", 2, "--seed", 1, "--batch-size", 2])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    chunks = data["chunks"]
    assert len(chunks) == 3
    assert chunks[0]["start"] == 0 and chunks[-1]["end"] == pytest.approx(len(audio) / 16000, abs=1e-3)
    assert chunks[0]["end"] == pytest.approx(14.35, abs=0.1) and chunks[1]["end"] == pytest.approx(35.05, abs=0.1)
    for a, b in zip(chunks, chunks[1:]):
        assert a["end"] == b["start"] and b["end"] - b["start"] <= 30
    for seg in data["segments"]:  # cues lie inside their file and in order
        assert 0 <= seg["start"] <= seg["end"] <= data["duration"]


def test_txt_streams_each_file_as_it_finishes(tmp_path, golden_set):
    from ming_edit.options import ModelOptions, TranscribeOptions
    from ming_edit.pipelines.transcribe import transcribe_inputs

    wave = golden_set.case("e2e_asr").input("waveform")[0].numpy()
    files = [write_wav(tmp_path / f"{n}.wav", wave) for n in ("one", "two")]
    events: list = []
    report = transcribe_inputs(files, None, TranscribeOptions(max_new_tokens=4), ModelOptions(model=GOLDEN, seed=0),
                               on_file=lambda path: events.append(("file", path)),
                               on_cue=lambda cue: events.append(("cue", cue.text)))
    assert events[0] == ("file", files[0])
    second = events.index(("file", files[1]))
    assert events[1:second] == [("cue", c.text) for c in report.transcripts[0].segments]  # before file two began


def test_hotwords_and_language_render_upstream_prompts(tmp_path, golden_set):
    from ming_edit.model.prompts import asr_prompt
    from ming_edit.model.text_tokenizer import TextTokenizer
    from ming_edit.pipelines.transcribe import read_hotwords

    hotfile = tmp_path / "hot.txt"
    hotfile.write_text("Golden Fixture\n# a comment\nMing Tok, flow matching\n\nBailing,semantic module\n")
    terms = read_hotwords(hotfile)
    assert terms == ["Golden Fixture", "Ming Tok", "flow matching", "Bailing", "semantic module"]
    tok = TextTokenizer.from_dir(GOLDEN)
    n = golden_set.case("prompt_asr_context").input("waveform").shape[-1]
    ids = asr_prompt(tok, n, hotwords=terms).input_ids
    assert ids.tolist() == golden_set.case("prompt_asr_context").expected("input_ids").tolist()
    ids = asr_prompt(tok, n, language="English").input_ids
    assert ids.tolist() == golden_set.case("prompt_asr_lang").expected("input_ids").tolist()


def test_bad_hotword_files_fail_before_loading(cli, tmp_path, loads, golden_set):
    wav = write_wav(tmp_path / "a.wav", golden_set.case("e2e_asr").input("waveform")[0].numpy())
    result = invoke(cli, ["transcribe", wav, "--context", tmp_path / "missing.txt", "--model", GOLDEN])
    assert result.exit_code == 2 and "does not exist" in one_error_line(result)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n# only a comment\n")
    result = invoke(cli, ["transcribe", wav, "--context", empty, "--model", GOLDEN])
    assert result.exit_code == 2 and "is empty" in one_error_line(result)
    result = invoke(cli, ["transcribe", tmp_path / "nope.wav", "--model", GOLDEN])
    assert result.exit_code == 1 and "no such file" in one_error_line(result)
    assert loads["n"] == 0


# ----- speak / clone -----

def test_speak_reproduces_upstream_tts(cli, tmp_path, replay):
    case = replay("e2e_tts")
    ref = write_wav(tmp_path / "ref.wav", case.input("prompt_waveform")[0].numpy())
    out = tmp_path / "speech.wav"
    result = invoke(cli, ["speak", case.params["text"], "-o", out, "--voice", ref,
                          "--voice-text", case.params["prompt_text"], "--model", GOLDEN, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(out, dtype="float64")
    expected = case.expected("speech")[0].double().numpy()
    assert rate == 16000 and audio.shape == expected.shape
    assert np.abs(audio - expected).max() <= 2 * LSB  # 16-bit output of the same waveform


@pytest.mark.slow
def test_speak_default_voice_sentences_and_rate(cli, tmp_path):
    out = tmp_path / "out.flac"
    result = invoke(cli, ["speak", "Hello there my friend. This is the second sentence here.", "-o", out,
                          "--model", GOLDEN, "--seed", 7, "--sample-rate", 24000, "--pause", 0.5])
    assert result.exit_code == 0, result.output
    info = sf.info(out)
    assert info.samplerate == 24000 and info.channels == 1
    # two sentences of >= 18 patches (0.1 s each) plus the pause between them
    assert info.duration >= 2 * 1.8 + 0.5 - 0.06
    audio, _ = sf.read(out)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert not list(tmp_path.glob(".*.part"))


def test_speak_rejects_bad_text_and_outputs_before_loading(cli, tmp_path, loads):
    out = tmp_path / "x.wav"
    for text, needle in (("   ", "empty"), ("🎉🎉 ✨!!", "nothing speakable")):
        result = invoke(cli, ["speak", text, "-o", out, "--model", GOLDEN])
        assert result.exit_code == 2 and needle in one_error_line(result)
    result = invoke(cli, ["speak", "hello", "-o", tmp_path / "x.xyz", "--model", GOLDEN])
    assert result.exit_code == 2 and "cannot write" in one_error_line(result)
    assert loads["n"] == 0 and not out.exists()


def test_tokenizer_only_model_is_refused_for_speak(cli, tmp_path, loads):
    from benchmarks.checkpoints import mingtok_config

    tok = tmp_path / "mingtok"
    tok.mkdir()
    (tok / "config.json").write_text(json.dumps(mingtok_config()))
    out = tmp_path / "x.wav"
    result = invoke(cli, ["speak", "hello world", "-o", out, "--model", tok])
    assert result.exit_code == 3 and "tokenizer checkpoint" in one_error_line(result)
    assert loads["n"] == 0 and not out.exists()


def test_clone_rejects_short_and_silent_references(cli, tmp_path, loads):
    rng = np.random.default_rng(0)
    short = write_wav(tmp_path / "short.wav", 0.3 * rng.standard_normal(8000))
    silent = write_wav(tmp_path / "silent.wav", np.zeros(48000))
    out = tmp_path / "x.wav"
    result = invoke(cli, ["clone", short, "say this", "-o", out, "--model", GOLDEN])
    assert result.exit_code == 1 and "at least 1 s" in one_error_line(result)
    result = invoke(cli, ["clone", silent, "say this", "-o", out, "--model", GOLDEN])
    assert result.exit_code == 1 and "silent" in one_error_line(result)
    assert loads["n"] == 0 and not out.exists()


@pytest.mark.slow
def test_clone_transcribes_the_reference_with_the_same_load(cli, tmp_path, loads, golden_set):
    ref = write_wav(tmp_path / "ref.wav", golden_set.case("e2e_asr").input("waveform")[0].numpy(), rate=16000)
    out = tmp_path / "clone.wav"
    result = invoke(cli, ["clone", ref, "the quick brown fox jumps", "-o", out, "--model", GOLDEN, "--seed", 3])
    assert result.exit_code == 0, result.output
    assert "reference transcript:" in result.stderr
    assert loads["n"] == 1
    assert sf.info(out).duration >= 1.8 - 0.06


def test_failure_mid_generation_leaves_no_output(cli, tmp_path, monkeypatch):
    import ming_edit.model.tts as tts
    from ming_edit.errors import MingEditError

    real = tts.generate_tts

    def fails_after_audio(*args, on_audio=None, **kwargs):
        def boom(chunk):
            on_audio(chunk)
            raise MingEditError("simulated failure after the first audio chunk")

        return real(*args, on_audio=boom, **kwargs)

    monkeypatch.setattr(tts, "generate_tts", fails_after_audio)
    out = tmp_path / "out.wav"
    result = invoke(cli, ["speak", "hello there my friend", "-o", out, "--model", GOLDEN, "--seed", 0])
    assert result.exit_code == 1 and "simulated failure" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file


# ----- devices -----

def test_cuda_requested_without_a_gpu(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    result = invoke(cli, ["speak", "hello world", "-o", tmp_path / "x.wav", "--model", GOLDEN, "--device", "cuda"])
    assert result.exit_code == 1 and "no CUDA device" in one_error_line(result)


def test_out_of_memory_becomes_one_line():
    import torch

    from ming_edit.model.session import DeviceError, oom_guard

    with pytest.raises(DeviceError, match="--dtype bf16, --device cpu, or a shorter input"):
        with oom_guard():
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    with pytest.raises(ValueError):
        with oom_guard():
            raise ValueError("unrelated")


def test_characters_the_tokenizer_cannot_represent_are_refused():
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    from ming_edit.errors import UsageError
    from ming_edit.model.text_tokenizer import TextTokenizer
    from ming_edit.pipelines.speak import check_tokenizable

    class CharTokenizer:
        """A real `tokenizers` word-level vocabulary of a few letters, with an unknown token."""

        def __init__(self) -> None:
            vocab = {"[UNK]": 0, **{c: i + 1 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}}
            self.tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
            self.tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")

        def encode(self, text):
            return self.tok.encode(text).ids

        def decode(self, ids):
            return self.tok.decode(ids)

    check_tokenizable(CharTokenizer(), "hello world")
    with pytest.raises(UsageError, match="cannot represent: веипрт$"):
        check_tokenizable(CharTokenizer(), "hello привет")
    check_tokenizable(TextTokenizer.from_dir(GOLDEN), "hello привет 你好")  # byte-level BPE covers all


# ----- output safety (QA) -----

def test_transcribe_never_writes_text_over_a_recording(cli, tmp_path, loads):
    rng = np.random.default_rng(0)
    wav = write_wav(tmp_path / "talk.wav", 0.3 * rng.standard_normal(16000))
    flac = write_wav(tmp_path / "talk2.flac", 0.3 * rng.standard_normal(16000))
    before = wav.read_bytes()
    result = invoke(cli, ["transcribe", wav, "-o", wav, "--model", GOLDEN])
    assert result.exit_code == 2 and "audio file name" in one_error_line(result)
    # two inputs that would land on one transcript (a.wav + a.flac -> out/a.txt)
    same_stem = write_wav(tmp_path / "talk.flac", 0.3 * rng.standard_normal(16000))
    result = invoke(cli, ["transcribe", wav, same_stem, "-o", tmp_path / "out", "--model", GOLDEN])
    assert result.exit_code == 2 and "would both be written to" in one_error_line(result)
    assert loads["n"] == 0 and wav.read_bytes() == before and flac.exists()
    assert not (tmp_path / "out").exists()


def test_speak_and_clone_output_rules(cli, tmp_path, loads):
    rng = np.random.default_rng(0)
    ref = write_wav(tmp_path / "me.wav", 0.3 * rng.standard_normal(3 * 16000))
    before = ref.read_bytes()
    result = invoke(cli, ["clone", ref, "say this", "-o", ref, "--ref-text", "hello", "--model", GOLDEN])
    assert result.exit_code == 2 and "overwrite the voice reference" in one_error_line(result)
    result = invoke(cli, ["speak", "say this", "--voice", ref, "--voice-text", "hi", "-o", ref, "--model", GOLDEN])
    assert result.exit_code == 2 and "overwrite the voice reference" in one_error_line(result)
    existing = write_wav(tmp_path / "old.wav", np.zeros(160))
    result = invoke(cli, ["speak", "say this", "-o", existing, "--model", GOLDEN])
    assert result.exit_code == 2 and "pass --overwrite" in one_error_line(result)
    result = invoke(cli, ["speak", "say this", "-o", tmp_path / "missing" / "x.wav", "--model", GOLDEN])
    assert result.exit_code == 2 and "output folder does not exist" in one_error_line(result)
    assert loads["n"] == 0 and ref.read_bytes() == before and not (tmp_path / "missing").exists()


def test_speak_refuses_scripts_the_model_does_not_speak(cli, tmp_path, loads):
    out = tmp_path / "x.wav"
    for text in ("Привет мир", "こんにちは", "안녕하세요", "hello สวัสดี"):
        result = invoke(cli, ["speak", text, "-o", out, "--model", GOLDEN])
        assert result.exit_code == 2 and "speaks Chinese and English" in one_error_line(result), text
    assert loads["n"] == 0 and not out.exists()
    from ming_edit.pipelines.speak import check_text

    assert check_text("Café naïve, 你好。 Ｈｅｌｌｏ 2025") == "Café naïve, 你好。 Ｈｅｌｌｏ 2025"


def test_transcribe_folder_skips_hidden_files():
    import tempfile

    from ming_edit.io.files import expand_inputs

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".cache").mkdir()
        write_wav(root / "a.wav", np.zeros(1600))
        (root / "._a.wav").write_bytes(b"macOS resource fork, not audio")
        write_wav(root / ".cache" / "b.wav", np.zeros(1600))
        assert [rel.as_posix() for _, rel in expand_inputs([root])] == ["a.wav"]


def test_transcribe_folder_keeps_going_past_a_bad_file(cli, tmp_path, loads, golden_set):
    wave = golden_set.case("e2e_asr").input("waveform")[0].numpy()
    folder = tmp_path / "in"
    folder.mkdir()
    write_wav(folder / "a.wav", wave)
    (folder / "b.wav").write_bytes(b"not audio at all")
    write_wav(folder / "c.wav", wave)
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(cli, ["transcribe", folder, "-o", out, "--model", GOLDEN, "--seed", "0",
                          "--max-new-tokens", "3"])
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "c.txt"]
    assert "skipping" in result.output and "b.wav" in result.output
    assert "1 of 3 files failed" in result.output.splitlines()[-1]
    assert loads["n"] == 1

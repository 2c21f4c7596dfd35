"""`ming-edit splice SOURCE REGENERATED -o OUT` and the splicer under it (issue 9, part 1): real
(espeak) speech with a word deleted, replaced or inserted in a "regenerated" version that was also
changed throughout (16 kHz, level, EQ, noise, time warp); the edit found within 40 ms, every
source piece the source's own samples bit for bit, global changes written whole; bad inputs."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_cli_support import digest, invoke, listing, run_process

SR = 22050
TEXT = "The quick brown fox jumps over the lazy dog, and then it runs back home."
JSON_KEYS = {"source", "regenerated", "output", "sample_rate", "global", "kept_fraction", "edits", "pieces"}
EDIT_KEYS = {"kind", "source_start", "source_end", "regenerated_start", "regenerated_end"}
PIECE_KEYS = {"from", "out_start_sample", "length", "start_sample"}


@pytest.fixture(scope="module")
def bench():
    """benchmarks/splice_accuracy.py (its pair builders; speech via benchmarks/speech.py)."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "splice_accuracy.py"
    spec = importlib.util.spec_from_file_location("ming_bench_splice", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sentence(bench) -> np.ndarray:
    x = bench.speech.espeak(TEXT, "en-us", sample_rate=SR)
    return x * (0.5 / np.abs(x).max())


@pytest.fixture(scope="module")
def cut(bench, sentence) -> tuple[int, int]:
    """A word-sized span between two quiet points (word gaps) in the middle of the sentence."""
    points = bench.quiet_points(sentence, SR)
    a = int(points[np.argmin(np.abs(points - 1.9 * SR))])
    later = points[(points > a + 0.25 * SR) & (points < a + 0.7 * SR)]
    return a, int(later[0])


def _pair(bench, sentence, cut, kind: str, seed: int = 3) -> tuple[np.ndarray, dict]:
    """(regenerated at 16 kHz, truth in seconds) for one constructed edit."""
    a, b = cut
    rng = np.random.default_rng(seed)
    other = bench.speech.espeak("yesterday", "en-us", sample_rate=SR)
    other = other[np.flatnonzero(np.abs(other) > 1e-3)[0]:] * 0.5 / np.abs(other).max()
    fade = int(bench.FADE_SECONDS * SR)
    parts = {"delete": [sentence[:a], sentence[b:]], "replace": [sentence[:a], other, sentence[b:]],
             "insert": [sentence[:a], other, sentence[a:]]}[kind]
    regen, mapping = bench.realistic(bench.fade_join(parts, SR), SR, rng)
    reg_end = a - fade / 2 if kind == "delete" else a + len(other) - 1.5 * fade
    truth = {"kind": kind, "source_start": a / SR, "source_end": (a if kind == "insert" else b) / SR,
             "regenerated_start": mapping((a - fade / 2) / SR), "regenerated_end": mapping(reg_end / SR)}
    return regen, truth


def _write(path: Path, audio: np.ndarray, rate: int, subtype: str) -> Path:
    sf.write(str(path), audio, rate, subtype=subtype)
    return path


def _check_pieces(out: np.ndarray, source: np.ndarray, pieces: list[dict]) -> None:
    """Pieces tile the output in order; every source piece is the source's samples exactly."""
    at = 0
    for piece in pieces:
        assert piece["out_start_sample"] == at and piece["length"] > 0
        at += piece["length"]
        if piece["from"] == "source":
            start, length = piece["start_sample"], piece["length"]
            assert np.array_equal(out[piece["out_start_sample"]:at], source[start:start + length])
    assert at == out.shape[0]


@pytest.mark.parametrize("kind", ["delete", "replace", "insert"])
def test_a_word_edit_is_found_within_40_ms_and_the_rest_is_the_source(tmp_path, bench, sentence, cut, kind) -> None:
    regen, truth = _pair(bench, sentence, cut, kind)
    source = _write(tmp_path / "talk.wav", sentence, SR, "PCM_16")
    regenerated = _write(tmp_path / "regen.wav", regen, 16000, "FLOAT")
    result = invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == JSON_KEYS and report["sample_rate"] == SR and report["global"] is False
    assert len(report["edits"]) == 1, report["edits"]
    edit = report["edits"][0]
    assert set(edit) == EDIT_KEYS and edit["kind"] == kind
    for key in EDIT_KEYS - {"kind"}:
        assert abs(edit[key] - truth[key]) <= 0.040, (key, edit[key], truth[key])
    out, rate = sf.read(str(tmp_path / "out.wav"), dtype="int16", always_2d=True)
    src, _ = sf.read(str(source), dtype="int16", always_2d=True)
    assert rate == SR and sf.info(str(tmp_path / "out.wav")).subtype == "PCM_16"
    assert all(set(p) == PIECE_KEYS for p in report["pieces"])
    assert {p["from"] for p in report["pieces"]} == ({"source", "crossfade"} if kind == "delete"
                                                     else {"source", "crossfade", "regenerated"})
    _check_pieces(out, src, report["pieces"])
    kept = sum(p["length"] for p in report["pieces"] if p["from"] == "source")
    assert report["kept_fraction"] == pytest.approx(kept / src.shape[0], abs=1e-4)
    for p in report["pieces"]:
        if p["from"] == "crossfade":
            assert p["length"] <= 0.030 * SR  # equal-power seams of at most 30 ms


def test_human_summary(tmp_path, bench, sentence, cut) -> None:
    regen, truth = _pair(bench, sentence, cut, "delete")
    source = _write(tmp_path / "talk.wav", sentence, SR, "PCM_16")
    regenerated = _write(tmp_path / "regen.wav", regen, 16000, "FLOAT")
    result = invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    start, end = map(float, re.fullmatch(r"deleted ([\d.]+)-([\d.]+) s", lines[0].strip()).groups())
    assert abs(start - truth["source_start"]) <= 0.045 and abs(end - truth["source_end"]) <= 0.045
    assert lines[-1].startswith(f"wrote {tmp_path / 'out.wav'}: 1 edit(s), ") and "% of the source kept" in lines[-1]
    assert invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav"]).exit_code == 2  # exists
    assert invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav", "--overwrite"]).exit_code == 0


@pytest.mark.parametrize("subtype", ["PCM_24", "FLOAT"])
def test_source_pieces_keep_their_sample_format_bit_for_bit(tmp_path, bench, sentence, cut, subtype) -> None:
    regen, _ = _pair(bench, sentence, cut, "replace")
    source = _write(tmp_path / "talk.flac" if subtype == "PCM_24" else tmp_path / "talk.wav", sentence * 0.9, SR, subtype)
    regenerated = _write(tmp_path / "regen.wav", regen, 16000, "PCM_16")
    output = tmp_path / f"out{source.suffix}"
    result = invoke(["splice", source, regenerated, "-o", output, "--json"])
    assert result.exit_code == 0, result.stderr
    assert sf.info(str(output)).subtype == subtype
    dtype = "int32" if subtype == "PCM_24" else "float32"
    out, _ = sf.read(str(output), dtype=dtype, always_2d=True)
    src, _ = sf.read(str(source), dtype=dtype, always_2d=True)
    _check_pieces(out, src, json.loads(result.stdout)["pieces"])


def test_stereo_is_spliced_at_the_same_place_in_every_channel(tmp_path, bench, sentence, cut) -> None:
    regen, truth = _pair(bench, sentence, cut, "insert")
    stereo = np.stack([sentence, 0.6 * sentence], axis=1)  # a level difference between the channels
    source = _write(tmp_path / "talk.wav", stereo, SR, "PCM_16")
    regenerated = _write(tmp_path / "regen.wav", np.stack([regen, 0.6 * regen], axis=1), 16000, "FLOAT")
    result = invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [e["kind"] for e in report["edits"]] == ["insert"]
    assert abs(report["edits"][0]["source_start"] - truth["source_start"]) <= 0.040
    out, _ = sf.read(str(tmp_path / "out.wav"), dtype="int16", always_2d=True)
    src, _ = sf.read(str(source), dtype="int16", always_2d=True)
    assert out.shape[1] == 2
    _check_pieces(out, src, report["pieces"])


def test_an_unchanged_regeneration_gives_back_the_source(tmp_path, bench, sentence) -> None:
    from scipy.signal import resample_poly

    source = _write(tmp_path / "talk.wav", sentence, SR, "PCM_16")
    regenerated = _write(tmp_path / "regen.wav", resample_poly(sentence, 320, 441) * 0.8, 16000, "FLOAT")
    result = invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav", "--json"])
    report = json.loads(result.stdout)
    assert report["edits"] == [] and report["global"] is False and report["kept_fraction"] == 1.0
    assert np.array_equal(sf.read(str(tmp_path / "out.wav"), dtype="int16")[0], sf.read(str(source), dtype="int16")[0])


@pytest.mark.parametrize("change", ["pitch", "speaker"])
def test_a_global_change_is_written_whole(tmp_path, bench, sentence, change) -> None:
    if change == "pitch":
        regen, _ = bench.realistic(bench.pitch_shift(sentence, SR, 400), SR, np.random.default_rng(1))
    else:
        other = bench.speech.espeak(TEXT, "en-us+f2", sample_rate=SR)
        regen, _ = bench.realistic(other * 0.5 / np.abs(other).max(), SR, np.random.default_rng(1))
    source = _write(tmp_path / "talk.wav", sentence, SR, "PCM_16")
    regenerated = _write(tmp_path / "regen.wav", regen, 16000, "FLOAT")
    result = invoke(["splice", source, regenerated, "-o", tmp_path / "out.wav", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["global"] is True and report["edits"] == [] and report["kept_fraction"] == 0.0
    frames = round(len(regen) * SR / 16000)
    assert report["pieces"] == [{"from": "regenerated", "out_start_sample": 0, "length": frames, "start_sample": 0}]
    assert sf.info(str(tmp_path / "out.wav")).frames == frames
    assert "global change" in result.stderr  # the note says why


def test_long_recordings_stay_cheap() -> None:
    """The two-pass alignment: a 10-minute pair aligns through a coarse matrix of bounded size."""
    from ming_edit.splice.align import COARSE_CELLS, coarse_factor

    n = 10 * 60 * 100
    factor = coarse_factor(n, n)
    assert (n // factor) ** 2 <= COARSE_CELLS and factor <= 10


def test_the_library_refuses_a_channel_mismatch() -> None:
    from ming_edit.errors import AudioError
    from ming_edit.splice.splicer import splice

    with pytest.raises(AudioError, match="channel"):
        splice(np.zeros((8000, 2), dtype=np.int16), 16000, np.zeros((8000, 1)), 16000)


# Bad input: one stderr line, the documented exit code, no output (nor temp file), inputs unchanged.

def _clips(tmp: Path) -> tuple[Path, Path]:
    t = np.arange(int(0.8 * 16000)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return _write(tmp / "source.wav", tone, 16000, "PCM_16"), _write(tmp / "regen.wav", tone, 16000, "PCM_16")


def _regen_bytes(data: bytes):
    def make(tmp: Path):
        source, regen = _clips(tmp)
        regen.write_bytes(data)
        return [source, regen, "-o", tmp / "out.wav"], [source, regen]
    return make


def _regen_audio(audio: np.ndarray):
    def make(tmp: Path):
        source, regen = _clips(tmp)
        sf.write(str(regen), audio, 16000, subtype="PCM_16")
        return [source, regen, "-o", tmp / "out.wav"], [source, regen]
    return make


def _output_is(which: str):
    def make(tmp: Path):
        source, regen = _clips(tmp)
        target = source if which == "source" else regen
        return [source, regen, "-o", tmp / "." / target.name, "--overwrite"], [source, regen]
    return make


def _output_exists(tmp: Path):
    source, regen = _clips(tmp)
    (tmp / "out.wav").write_bytes(b"keep me")
    return [source, regen, "-o", tmp / "out.wav"], [source, regen, tmp / "out.wav"]


BAD = {
    "regenerated empty": (_regen_bytes(b""), 1, "empty (0 bytes)"),
    "regenerated unreadable": (_regen_bytes(b"not audio at all\n" * 40), 1, "not a readable audio file"),
    "regenerated under 0.1 s": (_regen_audio(np.full((800, 1), 0.1)), 1, "at least 0.1 s"),
    "regenerated of another channel count": (_regen_audio(np.full((16000, 2), 0.1)), 1, "2 channel(s) but the source"),
    "output is the source": (_output_is("source"), 2, "is the source file"),
    "output is the regenerated file": (_output_is("regenerated"), 2, "is the regenerated file"),
    "output exists": (_output_exists, 2, "already exists; pass --overwrite"),
    "source missing": (lambda t: ([t / "nope.wav", _clips(t)[1], "-o", t / "out.wav"], []), 1, "input not found"),
}


def _check_bad(tmp: Path, name: str, run) -> None:
    setup, code, fragment = BAD[name]
    args, guarded = setup(tmp)
    before = listing(tmp)
    hashes = [digest(p) for p in guarded]
    result = run(["splice", *args])
    exit_code = result.returncode if hasattr(result, "returncode") else result.exit_code
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert exit_code == code, (exit_code, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("ming-edit: error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert listing(tmp) == before
    assert [digest(p) for p in guarded] == hashes


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input(tmp_path: Path, name: str) -> None:
    _check_bad(tmp_path, name, invoke)


def test_bad_input_in_a_real_process(tmp_path: Path) -> None:
    _check_bad(tmp_path, "regenerated of another channel count", run_process)

"""io: validation of inputs, format/subtype rules, clip protection, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ming_edit.io import audio as audio_in
from ming_edit.io import formats, writer
from ming_edit.errors import AudioError, UsageError
from test_cli_support import listing, tone, write_tone


def test_read_keeps_rate_channels_and_subtype(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "a.wav", seconds=0.5, sr=22050, channels=2, subtype="PCM_24")
    audio, info = audio_in.read_audio(path)
    assert audio.dtype == np.float64 and audio.shape == (11025, 2)
    assert (info.sample_rate, info.channels, info.format, info.subtype) == (22050, 2, "WAV", "PCM_24")
    assert info.duration == pytest.approx(0.5)


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p, "not found"),
    (lambda p: (p.mkdir(), p)[1], "is a directory"),
    (lambda p: (p.write_bytes(b""), p)[1], "empty"),
    (lambda p: (p.write_bytes(b"this is not audio at all" * 40), p)[1], "not a readable audio file"),
])
def test_probe_refuses_bad_paths(tmp_path: Path, make, fragment: str) -> None:
    path = make(tmp_path / "x.wav")
    with pytest.raises(AudioError, match=fragment):
        audio_in.probe(path)


def test_truncated_wav_is_refused(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "t.wav", seconds=1.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        audio_in.probe(path)


def test_zero_length_audio_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "z.wav"
    sf.write(str(path), np.zeros((0, 1)), 16000)
    with pytest.raises(AudioError, match="no audio"):
        audio_in.probe(path)


def test_nan_samples_are_refused(tmp_path: Path) -> None:
    audio = tone(0.5)
    audio[4000, 0] = np.nan
    path = tmp_path / "n.wav"
    sf.write(str(path), audio, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"NaN or infinite samples \(first at 0.250 s\)"):
        audio_in.read_audio(path)


@pytest.mark.parametrize("fmt,src,want", [
    ("WAV", "WAV/PCM_24", "PCM_24"), ("WAV", "WAV/FLOAT", "FLOAT"), ("FLAC", "WAV/FLOAT", "PCM_24"),
    ("FLAC", "WAV/PCM_16", "PCM_16"), ("WAV", "OGG/VORBIS", "PCM_16"), ("OGG", "WAV/PCM_16", "VORBIS"),
    ("WAV", "MP3/MPEG_LAYER_III", "PCM_16"), ("MP3", "MP3/MPEG_LAYER_III", "MPEG_LAYER_III"),
    ("FLAC", "WAV/PCM_U8", "PCM_S8"), ("WAV", "FLAC/PCM_S8", "PCM_U8"),
])
def test_subtype_rules(fmt: str, src: str, want: str) -> None:
    src_format, src_subtype = src.split("/")
    info = audio_in.AudioInfo(Path("x"), 16000, 1, 16000, src_format, src_subtype)
    assert formats.choose_subtype(Path("out"), fmt, info) == want


def test_requested_subtype_must_fit_the_container() -> None:
    info = audio_in.AudioInfo(Path("x"), 16000, 1, 16000, "WAV", "PCM_16")
    assert formats.choose_subtype(Path("out"), "WAV", info, "float") == "FLOAT"
    with pytest.raises(UsageError, match="FLAC files cannot hold FLOAT"):
        formats.choose_subtype(Path("out"), "FLAC", info, "FLOAT")


def test_unknown_output_extension() -> None:
    assert formats.output_format(Path("a.FLAC")) == "FLAC"
    with pytest.raises(UsageError, match="cannot write '.xyz'"):
        formats.output_format(Path("a.xyz"))


def test_clip_protection_scales_integer_formats_only() -> None:
    loud = np.array([[0.5], [-2.0], [1.0]])
    scaled, note = formats.protect_from_clipping(loud.copy(), "PCM_16", no_limit=False)
    assert np.max(np.abs(scaled)) == pytest.approx(10 ** (-0.1 / 20))
    assert scaled[0, 0] / scaled[1, 0] == pytest.approx(-0.25)  # a pure gain: shape kept
    assert "limit peaks to -0.1 dBFS" in note
    same, note = formats.protect_from_clipping(loud.copy(), "FLOAT", no_limit=False)
    assert note is None and np.array_equal(same, loud)
    quiet, note = formats.protect_from_clipping(np.array([[0.9]]), "PCM_16", no_limit=True)
    assert note is None
    with pytest.raises(AudioError, match=r"peaks at \+6.0 dBFS.*--no-limit"):
        formats.protect_from_clipping(loud.copy(), "PCM_16", no_limit=True)


def test_atomic_write_replaces_only_when_complete(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out.wav"
    writer.write_audio(target, tone(0.2), 16000, fmt="WAV", subtype="PCM_16")
    before = target.read_bytes()
    assert sf.info(str(target)).frames == 3200 and listing(tmp_path) == ["out.wav"]

    def boom(self, data):  # the disk fills up half way
        raise RuntimeError("Error writing: no space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", boom)
    with pytest.raises(AudioError, match="cannot write"):
        writer.write_audio(target, tone(0.5), 16000, fmt="WAV", subtype="PCM_16")
    assert target.read_bytes() == before and listing(tmp_path) == ["out.wav"]

    def interrupted(self, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(sf.SoundFile, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write_audio(tmp_path / "new.wav", tone(0.5), 16000, fmt="WAV", subtype="PCM_16")
    assert listing(tmp_path) == ["out.wav"]


def test_atomic_write_reports_unsupported_settings(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot write"):  # MP3 has no 7 kHz mode
        writer.write_audio(tmp_path / "x.mp3", tone(0.2, sr=7000), 7000, fmt="MP3", subtype="MPEG_LAYER_III")
    assert listing(tmp_path) == []


def test_unwritable_destination_is_one_error_not_a_traceback(tmp_path: Path) -> None:
    # /proc refuses new files: mkstemp itself fails, before any audio is written
    with pytest.raises(AudioError, match="cannot write /proc/x.wav"):
        writer.write_audio(Path("/proc/x.wav"), tone(0.1), 16000, fmt="WAV", subtype="PCM_16")


def test_output_without_extension_says_so() -> None:
    with pytest.raises(UsageError, match="has no extension"):
        formats.output_format(Path("out"))


def test_wave_extensible_input_stays_extensible(tmp_path: Path) -> None:
    """A 5.1 WAVEX source written to .wav keeps WAVE_FORMAT_EXTENSIBLE (its channel layout)."""
    src = write_tone(tmp_path / "surround.wav", seconds=0.1, channels=6, fmt="WAVEX")
    info = audio_in.probe(src)
    assert info.format == "WAVEX"
    assert formats.output_format(tmp_path / "out.wav", info) == "WAVEX"
    assert formats.output_format(tmp_path / "out.flac", info) == "FLAC"
    mono = audio_in.probe(write_tone(tmp_path / "mono.wav", seconds=0.1))
    assert formats.output_format(tmp_path / "out.wav", mono) == "WAV"

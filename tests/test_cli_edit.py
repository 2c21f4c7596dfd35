"""`ming-edit edit` on single files: plan/JSON output, naming, format preservation, clip policy,
model routing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ming_edit.ops.operation import Operation

from test_cli_support import digest, invoke, listing, write_tone

JSON_KEYS = {"input", "output", "engine", "operations", "duration_in", "duration_out", "notes", "steps"}


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("ming-edit 0.")


def test_dry_run_shows_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=1.0)
    result = invoke(["edit", clip, "denoise and make it 25% faster", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert "1. denoise" in result.stdout and "2. speed x1.25" in result.stdout and "nothing written" in result.stdout
    assert listing(tmp_path) == ["clip.wav"]
    as_json = json.loads(invoke(["edit", clip, "make it 25% faster", "--dry-run", "--json"]).stdout)
    assert as_json["dry_run"] is True and as_json["duration_out"] == pytest.approx(0.8)
    assert listing(tmp_path) == ["clip.wav"]


def test_json_is_one_object_with_the_documented_schema(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "talk.wav", seconds=1.0)
    result = invoke(["edit", clip, "adjusts the speed to 0.5 and half the volume", "--json"])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    report = json.loads(result.stdout)
    assert set(report) == JSON_KEYS
    assert report["engine"] == "dsp" and report["input"] == str(clip)
    assert report["output"] == str(tmp_path / "talk.edited.wav")  # default naming
    assert report["operations"] == [{"op": "speed", "factor": 0.5}, {"op": "volume", "factor": 0.5}]
    assert report["duration_in"] == pytest.approx(1.0)
    assert report["duration_out"] == pytest.approx(2.0, abs=0.02)
    assert isinstance(report["notes"], list)
    assert sf.info(report["output"]).duration == pytest.approx(report["duration_out"])


def test_human_output_and_overwrite(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=0.5)
    first = invoke(["edit", clip, "turn it down 6 dB"])
    assert first.exit_code == 0 and first.stdout.startswith(f"wrote {tmp_path / 'clip.edited.wav'}")
    assert invoke(["edit", clip, "turn it down 6 dB"]).exit_code == 2
    assert invoke(["edit", clip, "turn it down 12 dB", "--overwrite"]).exit_code == 0
    edited, _ = sf.read(str(tmp_path / "clip.edited.wav"))
    source, _ = sf.read(str(clip))
    assert np.allclose(edited, source * 10 ** (-12 / 20), atol=2 / 32768)


@pytest.mark.parametrize("name,subtype,sr,channels", [
    ("a.wav", "PCM_16", 16000, 1), ("b.wav", "PCM_24", 44100, 2), ("c.wav", "FLOAT", 48000, 1),
    ("d.flac", "PCM_16", 22050, 2), ("e.flac", "PCM_24", 16000, 1), ("f.ogg", "VORBIS", 16000, 1),
    ("g.mp3", "MPEG_LAYER_III", 24000, 1),
])
def test_format_subtype_rate_and_channels_are_kept(tmp_path: Path, name: str, subtype: str, sr: int, channels: int) -> None:
    clip = write_tone(tmp_path / name, seconds=0.5, sr=sr, channels=channels, subtype=subtype)
    before = digest(clip)
    result = invoke(["edit", clip, "half the volume", "--json"])
    assert result.exit_code == 0, result.stderr
    out = Path(json.loads(result.stdout)["output"])
    info_in, info_out = sf.info(str(clip)), sf.info(str(out))
    assert (info_out.format, info_out.subtype, info_out.samplerate, info_out.channels) == (
        info_in.format, info_in.subtype, info_in.samplerate, info_in.channels)
    if subtype not in ("VORBIS", "MPEG_LAYER_III"):  # lossy: only the gain is checked there
        source, _ = sf.read(str(clip), always_2d=True)
        edited, _ = sf.read(str(out), always_2d=True)
        assert np.allclose(edited, 0.5 * source, atol=1 / 32768 + 1e-9)
    else:
        source, _ = sf.read(str(clip), always_2d=True)
        edited, _ = sf.read(str(out), always_2d=True)
        assert np.sqrt(np.mean(edited**2)) / np.sqrt(np.mean(source**2)) == pytest.approx(0.5, rel=0.05)
    assert digest(clip) == before


def test_output_extension_picks_the_container(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "float.wav", seconds=0.3, subtype="FLOAT")
    result = invoke(["edit", clip, "half the volume", "-o", tmp_path / "out.flac"])
    assert result.exit_code == 0, result.stderr
    info = sf.info(str(tmp_path / "out.flac"))
    assert (info.format, info.subtype) == ("FLAC", "PCM_24")
    assert invoke(["edit", clip, "half the volume", "-o", tmp_path / "o16.wav", "--subtype", "PCM_16"]).exit_code == 0
    assert sf.info(str(tmp_path / "o16.wav")).subtype == "PCM_16"


def test_clipping_is_scaled_with_a_note_or_refused(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "loud.wav", seconds=0.5, amp=0.5)
    result = invoke(["edit", clip, "turn it up 12 dB", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("limit peaks to -0.1 dBFS" in n for n in report["notes"])
    edited, _ = sf.read(report["output"])
    assert np.max(np.abs(edited)) <= 10 ** (-0.1 / 20) + 1e-4
    human = invoke(["edit", clip, "turn it up 12 dB", "--overwrite"])
    assert "note: peaks reached" in human.stderr and human.exit_code == 0
    refused = invoke(["edit", clip, "turn it up 12 dB", "-o", tmp_path / "r.wav", "--no-limit"])
    assert refused.exit_code == 1 and "would clip" in refused.stderr and not (tmp_path / "r.wav").exists()
    floating = invoke(["edit", clip, "turn it up 12 dB", "-o", tmp_path / "f.wav", "--subtype", "FLOAT", "--no-limit"])
    assert floating.exit_code == 0, floating.stderr
    assert np.max(np.abs(sf.read(str(tmp_path / "f.wav"))[0])) > 1.2  # float keeps the true level


def test_model_instructions_route_to_the_model(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=0.3)
    plan = json.loads(invoke(["edit", clip, "replace 'cat' with 'dog'", "--dry-run", "--json"]).stdout)
    assert plan["engine"] == "model" and plan["operations"] == [{"op": "substitute", "old": "cat", "new": "dog"}]
    forced = json.loads(invoke(["edit", clip, "normalize for podcasts", "--engine", "model", "--dry-run", "--json"]).stdout)
    assert forced["engine"] == "model"
    free = json.loads(invoke(["edit", clip, "make it better", "--engine", "model", "--dry-run", "--json"]).stdout)
    assert free["operations"] == [{"op": "freeform", "instruction": "make it better"}]


def test_model_path_prints_the_cot_before_the_audio(tmp_path: Path, monkeypatch) -> None:
    """Wiring only: a stand-in for pipelines.model_edit.edit_with_model records what the CLI passes."""
    from dataclasses import replace

    import ming_edit.pipelines.model_edit as model_edit

    calls = []

    def stand_in(result, fmt, subtype, options, *, on_cot, on_progress):
        m = options.model
        calls.append((result.plan.operations, m.model, m.device, m.dtype, m.seed))
        assert options.no_limit is False
        on_cot("the <edit>dog</edit> sat", "the [MASK] sat")
        sf.write(str(result.output), np.zeros((1600, 1)), 16000)
        return replace(result, duration_out=0.1, cot="the [MASK] sat", cot_raw="the <edit>dog</edit> sat")

    monkeypatch.setattr(model_edit, "edit_with_model", stand_in)
    clip = write_tone(tmp_path / "clip.wav", seconds=0.3)
    human = invoke(["edit", clip, "把'猫'替换成'狗'", "--model", "/m", "--device", "cpu", "--dtype", "fp32", "--seed", "7"])
    assert human.exit_code == 0, human.stderr
    assert calls == [((Operation("substitute", {"old": "猫", "new": "狗"}),), "/m", "cpu", "fp32", 7)]
    lines = human.stdout.splitlines()
    assert lines[0] == "model transcript plan: the [MASK] sat" and lines[1].startswith("wrote ")
    as_json = invoke(["edit", clip, "delete 'um'", "--json", "--overwrite"])
    report = json.loads(as_json.stdout)
    assert report["engine"] == "model" and report["cot"] == "the [MASK] sat"
    assert report["cot_raw"] == "the <edit>dog</edit> sat"
    assert "the [MASK] sat" in as_json.stderr


def test_an_edit_that_leaves_no_audio_writes_nothing(tmp_path: Path) -> None:
    clip = tmp_path / "one.wav"
    sf.write(str(clip), np.array([0.5]), 16000)  # a single sample
    result = invoke(["edit", clip, "make it 4x faster", "-o", tmp_path / "out.wav"])
    assert result.exit_code == 1 and "nothing would be left" in result.stderr
    assert listing(tmp_path) == ["one.wav"]


def test_unwritable_output_is_one_line(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=0.2)
    result = invoke(["edit", clip, "half the volume", "-o", "/proc/ming-edit-test.wav"])
    assert result.exit_code == 1 and result.stderr.strip() == "ming-edit: error: cannot write /proc/ming-edit-test.wav: No such file or directory"


def test_sample_rate_and_channels_can_be_changed_on_request(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "stereo.wav", seconds=1.0, sr=44100, channels=2, subtype="PCM_24")
    out = tmp_path / "mono16k.wav"
    result = invoke(["edit", clip, "half the volume", "-o", out, "--sample-rate", "16000", "--channels", "1", "--json"])
    assert result.exit_code == 0, result.stderr
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_24")
    data, _ = sf.read(str(out))
    source, _ = sf.read(str(clip))
    # the speech-band signal keeps its level through the mean downmix and the band-limited resampler
    want = 0.5 * np.sqrt(np.mean(source.mean(axis=1)[5000:-5000] ** 2))
    assert np.sqrt(np.mean(data[2000:-2000] ** 2)) == pytest.approx(want, rel=0.03)
    assert json.loads(result.stdout)["duration_out"] == pytest.approx(1.0)
    up = invoke(["edit", out, "half the volume", "-o", tmp_path / "up.wav", "--channels", "2"])
    assert up.exit_code == 0 and sf.info(str(tmp_path / "up.wav")).channels == 2


@pytest.mark.parametrize("args", [["--sample-rate", "100"], ["--channels", "0"]])
def test_out_of_range_conversions_are_refused(tmp_path: Path, args: list[str]) -> None:
    clip = write_tone(tmp_path / "clip.wav")
    result = invoke(["edit", clip, "half the volume", *args])
    assert result.exit_code == 2 and "out of range" in result.stderr
    assert listing(tmp_path) == ["clip.wav"]

"""Lossy outputs at a known bitrate, Opus, and folder re-runs (--skip-existing, subfolders left out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from test_cli_support import digest, invoke, listing, write_tone


def kbps(path: Path, seconds: float) -> float:
    return path.stat().st_size * 8 / seconds / 1000


@pytest.mark.parametrize("rate,channels,flag,want", [
    (44100, 1, [], 128), (44100, 2, [], 192), (48000, 2, ["--bitrate", "96"], 96), (16000, 1, ["--bitrate", "64"], 64),
])
def test_mp3_outputs_run_at_the_podcast_default_or_the_asked_bitrate(tmp_path: Path, rate, channels, flag, want) -> None:
    clip = write_tone(tmp_path / "in.wav", seconds=10.0, sr=rate, channels=channels)
    out = tmp_path / "out.mp3"
    done = invoke(["edit", clip, "half the volume", "-o", out, *flag])
    assert done.exit_code == 0, done.stderr
    assert kbps(out, 10.0) == pytest.approx(want, rel=0.03)


def test_opus_output_is_ogg_opus(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "in.wav", seconds=2.0, sr=48000)
    done = invoke(["edit", clip, "half the volume", "-o", tmp_path / "out.opus"])
    assert done.exit_code == 0, done.stderr
    info = sf.info(str(tmp_path / "out.opus"))
    assert (info.format, info.subtype) == ("OGG", "OPUS") and info.duration == pytest.approx(2.0, abs=0.03)


@pytest.mark.parametrize("out,flag,fragment", [
    ("out.wav", ["--bitrate", "96"], "applies to mp3 and opus"),
    ("out.mp3", ["--bitrate", "500"], "out of range"),
    ("out.opus", ["--bitrate", "2"], "out of range"),
])
def test_bad_bitrates_are_refused_before_any_work(tmp_path: Path, out: str, flag: list[str], fragment: str) -> None:
    clip = write_tone(tmp_path / "in.wav", seconds=0.5)
    done = invoke(["edit", clip, "half the volume", "-o", tmp_path / out, *flag])
    assert done.exit_code == 2 and fragment in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert listing(tmp_path) == ["in.wav"]


def test_skip_existing_re_runs_only_what_is_missing(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.wav", "b.wav", "sub/c.wav"):
        write_tone(src / name, seconds=0.2)
    out = tmp_path / "out"
    first = invoke(["edit", src, "half the volume", "-o", out, "--json"])
    report = json.loads(first.stdout)
    assert report["skipped_in_subfolders"] == 1 and "add --recursive" in first.stderr
    (out / "b.wav").unlink()
    kept = digest(out / "a.wav")
    again = invoke(["edit", src, "half the volume", "-o", out, "-r", "--skip-existing", "--json"])
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert [Path(f["input"]).name for f in report["files"]] == ["b.wav", "c.wav"]
    assert [Path(p).name for p in report["skipped_existing"]] == ["a.wav"] and report["skipped_in_subfolders"] == 0
    assert digest(out / "a.wav") == kept
    clash = invoke(["edit", src, "half the volume", "-o", out, "--skip-existing", "--overwrite"])
    assert clash.exit_code == 2 and "contradict" in clash.stderr

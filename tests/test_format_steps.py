"""Format steps in words ("make it mono", "resample to 48 kHz", "convert to mp3") and target lengths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from test_cli_support import invoke, listing, write_tone


def test_format_steps_run_first_and_match_the_flags(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "in.wav", seconds=1.0, sr=44100, channels=2)
    words = invoke(["edit", clip, "make it mono, resample to 16 kHz and normalize to -20 LUFS", "-o", tmp_path / "w.wav"])
    flags = invoke(["edit", clip, "normalize to -20 LUFS", "--channels", "1", "--sample-rate", "16000", "-o", tmp_path / "f.wav"])
    assert words.exit_code == 0 and flags.exit_code == 0, words.stderr + flags.stderr
    a, rate_a = sf.read(str(tmp_path / "w.wav"))
    b, rate_b = sf.read(str(tmp_path / "f.wav"))
    assert rate_a == rate_b == 16000 and a.ndim == b.ndim == 1 and (a == b).all()


def test_convert_to_names_the_default_output(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "talk.wav", seconds=0.5)
    done = invoke(["edit", clip, "convert to flac", "--json"])
    assert done.exit_code == 0, done.stderr
    assert Path(json.loads(done.stdout)["output"]).name == "talk.edited.flac"
    assert sf.info(str(tmp_path / "talk.edited.flac")).format == "FLAC"
    clash = invoke(["edit", clip, "convert to flac", "-o", tmp_path / "x.mp3"])
    assert clash.exit_code == 2 and "names another format" in clash.stderr


def test_a_target_length_is_a_speed_change(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "in.wav", seconds=2.0)
    done = invoke(["edit", clip, "make it last 1.6 seconds", "-o", tmp_path / "out.wav", "--json"])
    assert done.exit_code == 0, done.stderr
    assert sf.info(str(tmp_path / "out.wav")).frames == 25600
    dry = json.loads(invoke(["edit", clip, "make it last 1.6 seconds", "--dry-run", "--json"]).stdout)
    assert dry["duration_out"] == pytest.approx(1.6)
    far = invoke(["edit", clip, "make it last 30 seconds", "-o", tmp_path / "far.wav"])
    assert far.exit_code == 2 and "outside 0.25..4" in far.stderr and not (tmp_path / "far.wav").exists()


@pytest.mark.parametrize("instruction,flags,fragment", [
    ("make it mono", ["--channels", "2"], "options say 2"),
    ("make it mono and delete 'um'", [], "apply to DSP edits"),
])
def test_format_steps_that_cannot_be_done_are_refused(tmp_path: Path, instruction: str, flags, fragment: str) -> None:
    clip = write_tone(tmp_path / "in.wav", seconds=0.3, channels=2)
    done = invoke(["edit", clip, instruction, "-o", tmp_path / "out.wav", *flags])
    assert done.exit_code == 2 and fragment in done.stderr
    assert listing(tmp_path) == ["in.wav"]

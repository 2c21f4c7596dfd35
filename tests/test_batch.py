"""Folder input: mirror layout, keep going past bad files, summary, never re-process the output."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from test_cli_support import digest, invoke, listing, write_tone

INSTRUCTION = "turn it down 6 dB"


def _folder(root: Path) -> Path:
    src = root / "recordings"
    src.mkdir()
    write_tone(src / "a.wav", seconds=0.3)
    (src / "b.wav").write_bytes(b"not audio, just text" * 20)
    write_tone(src / "c.flac", seconds=0.3, sr=22050, channels=2)
    (src / "readme.txt").write_text("ignored: not audio")
    return src


def test_bad_file_in_the_middle_does_not_stop_the_batch(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    hashes = {p.name: digest(p) for p in src.iterdir()}
    result = invoke(["edit", src, INSTRUCTION, "-o", tmp_path / "out"])
    assert result.exit_code == 1
    assert listing(tmp_path / "out") == ["a.wav", "c.flac"]
    assert "edited 2 of 3 files" in result.stdout
    assert "FAILED" in result.stderr and "b.wav" in result.stderr and "not a readable audio file" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "ming-edit: error: 1 of 3 files failed"
    assert "Traceback" not in result.stderr
    info = sf.info(str(tmp_path / "out" / "c.flac"))
    assert (info.samplerate, info.channels, info.format) == (22050, 2, "FLAC")
    assert {p.name: digest(p) for p in src.iterdir()} == hashes


def test_json_batch_report(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    result = invoke(["edit", src, INSTRUCTION, "-o", tmp_path / "out", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == {"input", "output", "files", "failed", "skipped_existing", "skipped_in_subfolders"}
    assert [Path(f["input"]).name for f in report["files"]] == ["a.wav", "c.flac"]
    assert report["files"][0]["operations"] == [{"op": "volume", "factor": 10 ** (-6 / 20)}]
    assert [Path(f["input"]).name for f in report["failed"]] == ["b.wav"]


def test_recursive_mirrors_subfolders_without_collisions(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for sub in ("a", "b", "b/deeper"):
        (src / sub).mkdir(parents=True)
    write_tone(src / "a" / "x.wav", seconds=0.2, amp=0.2)
    write_tone(src / "b" / "x.wav", seconds=0.3, amp=0.4)
    write_tone(src / "b" / "deeper" / "x.wav", seconds=0.4)
    write_tone(src / "top.wav", seconds=0.2)
    flat = invoke(["edit", src, INSTRUCTION, "-o", tmp_path / "flat"])
    assert flat.exit_code == 0, flat.stderr
    assert listing(tmp_path / "flat") == ["top.wav"]
    deep = invoke(["edit", src, INSTRUCTION, "-o", tmp_path / "out", "--recursive"])
    assert deep.exit_code == 0, deep.stderr
    out = tmp_path / "out"
    assert [p for p in listing(out) if p.endswith(".wav")] == ["a/x.wav", "b/deeper/x.wav", "b/x.wav", "top.wav"]
    assert sf.info(str(out / "a" / "x.wav")).frames == 3200 and sf.info(str(out / "b" / "x.wav")).frames == 4800


def test_output_folder_inside_the_input_is_not_reprocessed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_tone(src / "one.wav", seconds=0.2)
    first = invoke(["edit", src, INSTRUCTION, "-o", src / "fixed", "-r"])
    assert first.exit_code == 0, first.stderr
    again = invoke(["edit", src, INSTRUCTION, "-o", src / "fixed", "-r", "--overwrite"])
    assert again.exit_code == 0, again.stderr
    assert listing(src) == ["fixed", "fixed/one.wav", "one.wav"]


def test_existing_outputs_are_failures_unless_overwrite(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_tone(src / "one.wav", seconds=0.2)
    assert invoke(["edit", src, INSTRUCTION]).exit_code == 0  # default: in.edited next to it
    assert listing(tmp_path / "in.edited") == ["one.wav"]
    second = invoke(["edit", src, INSTRUCTION])
    assert second.exit_code == 1 and "already exists" in second.stderr
    assert invoke(["edit", src, INSTRUCTION, "--overwrite"]).exit_code == 0


def test_dry_run_on_a_folder_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write_tone(src / "sub" / "one.wav", seconds=0.2)
    before = listing(tmp_path)
    result = invoke(["edit", src, INSTRUCTION, "-o", tmp_path / "out", "-r", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert "would edit 1 of 1 files" in result.stdout
    assert listing(tmp_path) == before


def test_missing_model_stops_a_folder_at_once(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("one.wav", "two.wav"):
        write_tone(src / name, seconds=0.2)
    env = {"MING_EDIT_MODEL": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = invoke(["edit", src, "make it sound happy", "-o", tmp_path / "out"], env=env)
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "MING_EDIT_MODEL" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_failed_file_leaves_no_empty_subfolder(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "good").mkdir(parents=True)
    (src / "bad" / "deeper").mkdir(parents=True)
    write_tone(src / "good" / "a.wav", seconds=0.2)
    (src / "bad" / "deeper" / "x.wav").write_bytes(b"not audio" * 50)
    result = invoke(["edit", src, INSTRUCTION, "-o", tmp_path / "out", "--recursive"])
    assert result.exit_code == 1
    assert listing(tmp_path / "out") == ["good", "good/a.wav"]
    only_bad = tmp_path / "only_bad"
    (only_bad / "s").mkdir(parents=True)
    (only_bad / "s" / "x.wav").write_bytes(b"not audio" * 50)
    assert invoke(["edit", only_bad, INSTRUCTION, "-o", tmp_path / "out2", "-r"]).exit_code == 1
    assert not (tmp_path / "out2").exists()

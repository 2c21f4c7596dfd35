"""Real processes: the DSP path never imports torch, starts fast, and errors carry no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from test_cli_support import REPO, invoke, run_process, write_tone

HEAVY = ("torch", "torchaudio", "transformers")

PROBE = """
import json, sys
from ming_edit.cli.app import main
sys.argv = ["ming-edit", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    code = done.code
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchaudio', 'transformers', 'rich'})
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def test_dsp_edit_imports_no_torch(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=0.5)
    for instruction in ["half the volume", "normalize for podcasts", "make it 20% faster", "raise the pitch by 2 semitones", "denoise"]:
        out = tmp_path / "out.wav"
        done = subprocess.run([sys.executable, "-c", PROBE, "edit", str(clip), instruction, "-o", str(out), "--overwrite"],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        report = json.loads(done.stderr.strip().splitlines()[-1])
        assert report == {"code": 0, "heavy": []}, (instruction, done.stderr)


def test_ten_second_clip_edits_stay_quick(tmp_path: Path) -> None:
    """A guard against gross regressions (a torch import alone takes ~4 s); the speed figure itself
    (< 1 s, measured beside the previous release) is benchmarks/cli_speed.py's, not a timed test's."""
    clip = write_tone(tmp_path / "ten.wav", seconds=10.0)
    run_process(["--version"])  # warm the OS file cache once
    for instruction in ("turn it down 6 dB", "normalize for podcasts", "denoise"):
        best = min(_timed(["edit", clip, instruction, "-o", tmp_path / "o.wav", "--overwrite"]) for _ in range(2))
        assert best < 3.0, f"{instruction}: {best:.2f} s"


def _timed(args: list) -> float:
    start = time.perf_counter()
    done = run_process(args)
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - start


def test_usage_errors_print_one_line_without_traceback(tmp_path: Path) -> None:
    done = run_process(["edit", tmp_path / "missing.wav", "denoise"])
    assert done.returncode == 1 and done.stderr == f"ming-edit: error: input not found: {tmp_path / 'missing.wav'}\n"


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch) -> None:
    import ming_edit.pipelines.edit as edit

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(edit, "edit_file", interrupted)
    clip = write_tone(tmp_path / "clip.wav", seconds=0.2)
    result = invoke(["edit", clip, "denoise"])
    assert result.exit_code == 130 and result.stderr.strip() == "ming-edit: interrupted"


def test_example_batch_script_fixes_a_folder(tmp_path: Path) -> None:
    examples = REPO / "examples"
    assert (examples / "speech_en.txt").read_text().strip() and (examples / "speech_zh.txt").read_text().strip()
    done = subprocess.run(["bash", str(examples / "fix_folder.sh"), str(examples), str(tmp_path / "fixed")],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    import soundfile as sf

    for name in ("speech_en.wav", "speech_zh.wav"):
        src, out = sf.info(str(examples / name)), sf.info(str(tmp_path / "fixed" / name))
        assert (out.samplerate, out.channels, out.subtype) == (src.samplerate, src.channels, src.subtype)
        assert abs(out.duration - src.duration) < 1e-3


def test_click_usage_errors_are_one_line_too(tmp_path: Path) -> None:
    """Typer's boxed usage errors (missing argument, unknown option/command, bad choice) become
    one `ming-edit: error:` line with exit code 2, like every other error."""
    for args, needle in (
        (["edit"], "Missing argument"),
        (["edit", tmp_path / "x.wav", "denoise", "--bogus"], "No such option"),
        (["edit", tmp_path / "x.wav", "denoise", "--engine", "foo"], "'foo' is not one of"),
        (["frobnicate"], "No such command"),
        (["speak", "hello"], "Missing option"),
    ):
        done = run_process(args)
        lines = done.stderr.splitlines()
        assert done.returncode == 2 and len(lines) == 1, (args, done.stderr)
        assert lines[0].startswith("ming-edit: error: ") and needle in lines[0], lines
        assert done.stdout == ""
    assert run_process(["edit", "--help"]).returncode == 0

"""DSP engine contract: validation ranges, input checks, exact volume, operation chaining."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from ming_edit.dsp import DspResult, apply_operation, apply_operations, validate_operation
from ming_edit.errors import AudioError, UsageError
from ming_edit.ops.parser import Operation

OK = [
    Operation("volume", {"factor": 0.5}),
    Operation("volume", {"factor": 100.0}),
    Operation("loudness", {"lufs": -16.0, "true_peak_db": -1.0}),
    Operation("loudness", {}),
    Operation("speed", {"factor": 0.25}),
    Operation("speed", {"factor": 4}),
    Operation("pitch", {"semitones": -24}),
    Operation("pitch", {"semitones": 24.0}),
    Operation("denoise", {}),
]
BAD = [
    Operation("volume", {"factor": 0}),
    Operation("volume", {"factor": -1}),
    Operation("volume", {"factor": 101}),
    Operation("volume", {}),
    Operation("volume", {"factor": "loud"}),
    Operation("volume", {"factor": float("nan")}),
    Operation("loudness", {"lufs": 3.0}),
    Operation("loudness", {"lufs": -80.0}),
    Operation("loudness", {"lufs": -16, "true_peak_db": 0.5}),
    Operation("loudness", {"lufs": -16, "true_peak_db": -30}),
    Operation("speed", {"factor": 0}),
    Operation("speed", {"factor": 100}),
    Operation("speed", {"factor": 0.2}),
    Operation("pitch", {"semitones": 48}),
    Operation("pitch", {"semitones": -25}),
    Operation("delete", {"text": "hello"}),
]


@pytest.mark.parametrize("op", OK, ids=lambda o: f"{o.op}-{o.args}")
def test_validate_accepts_in_range(op: Operation) -> None:
    validate_operation(op)


@pytest.mark.parametrize("op", BAD, ids=lambda o: f"{o.op}-{o.args}")
def test_validate_rejects_out_of_range(op: Operation) -> None:
    with pytest.raises(UsageError):
        validate_operation(op)
    with pytest.raises(UsageError):
        apply_operation(np.zeros((100, 1)), 16000, op)


def test_volume_is_exact_any_shape() -> None:
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((12345, 3)) * 0.3
    result = apply_operation(audio, 44100, Operation("volume", {"factor": 0.37}))
    assert isinstance(result, DspResult)
    assert result.audio.dtype == np.float64 and result.audio.shape == audio.shape
    assert np.array_equal(result.audio, audio * 0.37)  # bit-exact, no limiting inside
    loud = apply_operation(audio, 44100, Operation("volume", {"factor": 10.0})).audio
    assert np.abs(loud).max() > 1.0  # clip policy is the CLI's business
    assert any("-8.6 dB" in n for n in result.notes)


def test_volume_relative_amplitude_error_is_zero() -> None:
    from benchmarks.metrics import relative_amplitude_error

    audio = np.sin(np.linspace(0, 300, 8000))[:, None] * 0.2
    out = apply_operation(audio, 16000, Operation("volume", {"factor": 1.8})).audio
    assert relative_amplitude_error(audio, 1.8, out) < 1e-12


def test_one_dimensional_input_is_mono() -> None:
    out = apply_operation(np.ones(10) * 0.1, 8000, Operation("volume", {"factor": 2})).audio
    assert out.shape == (10, 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_rejected(bad: float) -> None:
    audio = np.zeros((1000, 2))
    audio[10, 1] = bad
    with pytest.raises(AudioError, match="NaN or infinite"):
        apply_operation(audio, 16000, Operation("volume", {"factor": 0.5}))


def test_empty_and_integer_input_rejected() -> None:
    with pytest.raises(AudioError):
        apply_operation(np.zeros((0, 1)), 16000, Operation("volume", {"factor": 0.5}))
    with pytest.raises(AudioError):
        apply_operation(np.zeros((10, 1), np.int16), 16000, Operation("volume", {"factor": 0.5}))


def test_silent_input_cannot_be_normalised() -> None:
    with pytest.raises(AudioError, match="nothing to normalise"):
        apply_operation(np.zeros((32000, 1)), 16000, Operation("loudness", {"lufs": -16}))
    with pytest.raises(AudioError, match="nothing to normalise"):  # below the -70 LUFS gate
        apply_operation(np.full((32000, 1), 1e-6), 16000, Operation("loudness", {"lufs": -16}))


def test_operations_apply_in_order_and_validate_first() -> None:
    audio = np.random.default_rng(1).standard_normal((16000, 1)) * 0.1
    ops = [Operation("volume", {"factor": 2.0}), Operation("speed", {"factor": 2.0})]
    result = apply_operations(audio, 16000, ops)
    assert result.audio.shape == (8000, 1) and len(result.notes) == 2
    with pytest.raises(UsageError):  # nothing runs when a later op is invalid
        apply_operations(audio, 16000, [ops[0], Operation("pitch", {"semitones": 99})])


SLOW_IMPORTS = ("torch", "torchaudio", "transformers", "scipy.signal", "scipy.stats", "scipy.ndimage",
                "scipy.special", "pyloudnorm")


def test_dsp_never_imports_torch_or_scipy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from ming_edit.dsp import apply_operation\n"
        "from ming_edit.ops.parser import Operation\n"
        "for op in [Operation('volume', {'factor': 0.5}), Operation('loudness', {}),\n"
        "           Operation('speed', {'factor': 1.5}), Operation('denoise', {})]:\n"
        "    apply_operation(np.random.default_rng(0).standard_normal((20000, 1)) * 0.1, 16000, op)\n"
        f"bad = [m for m in {SLOW_IMPORTS!r} if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


CLI_PROBE = """
import json, sys
from ming_edit.cli.app import main
sys.argv = ["ming-edit", *sys.argv[1:]]
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.startswith(("scipy", "pyloudnorm")))}),
      file=sys.stderr)
"""


def test_cli_loudness_and_denoise_edits_import_no_scipy(tmp_path: Path) -> None:
    # scipy.signal alone costs ~0.6 s of import: a 10 s clip must edit in under a second
    import json
    import subprocess
    import sys

    import soundfile as sf

    clip = tmp_path / "clip.wav"
    sf.write(clip, np.random.default_rng(0).standard_normal(16000) * 0.1, 16000)
    for instruction in ["normalize for podcasts", "denoise the audio"]:
        args = ["edit", str(clip), instruction, "-o", str(tmp_path / "o.wav"), "--overwrite"]
        done = subprocess.run([sys.executable, "-c", CLI_PROBE, *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1], timeout=120)
        report = json.loads(done.stderr.strip().splitlines()[-1])
        assert report == {"code": 0, "modules": []}, (instruction, done.stderr)


def test_speech_helper_is_loadable() -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speech.py"
    spec = importlib.util.spec_from_file_location("ming_bench_speech", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    noise = module.coloured_noise(4096, "pink")
    assert math.isclose(float(np.sqrt(np.mean(noise**2))), 1.0, rel_tol=1e-9)

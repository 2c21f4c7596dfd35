"""`ming-edit dev conformance DIR` (the `dev` Typer sub-app) and conformance.report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from ming_edit.cli.dev import app
from ming_edit.dev.conformance.report import run_conformance

runner = CliRunner()


def _fixture_copy(golden_dir: Path, dest: Path) -> Path:
    shutil.copytree(golden_dir, dest)
    return dest


@pytest.mark.slow
def test_golden_set_passes_completely(golden_dir):
    """The goal: every golden case of tests/golden passes through our stack."""
    result = runner.invoke(app, ["conformance", str(golden_dir)], terminal_width=160)
    assert result.exit_code == 0, result.output[-4000:]
    assert "FAIL" not in result.output
    cases = json.loads((golden_dir / "cases.json").read_text())["cases"]
    n_outputs = sum(len(c["outputs"]) for c in cases)
    assert f"{n_outputs}/{n_outputs} outputs pass" in result.output


def test_selected_cases_pass(golden_dir):
    result = runner.invoke(app, ["conformance", str(golden_dir), "--case", "prompt_asr", "--case", "prompt_tts"],
                           terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "5/5 outputs pass" in result.output and "prompt_tts" in result.output


def test_wrong_expected_value_fails(golden_dir, tmp_path):
    fixtures = _fixture_copy(golden_dir, tmp_path / "set")
    tensors = load_file(str(fixtures / "cases.safetensors"))
    tensors["prompt_asr/input_ids"][0, 3] += 1
    save_file(tensors, str(fixtures / "cases.safetensors"))
    result = runner.invoke(app, ["conformance", str(fixtures), "--case", "prompt_asr"], terminal_width=160)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "3/4 outputs pass" in result.output


def test_missing_runner_and_raising_runner_count_as_failed(golden_dir, tmp_path):
    fixtures = _fixture_copy(golden_dir, tmp_path / "set")
    meta = json.loads((fixtures / "cases.json").read_text())
    base = next(c for c in meta["cases"] if c["name"] == "prompt_asr")
    no_runner = dict(base, name="made_up", runner="no_such_runner")
    broken = dict(base, name="broken_params", params={})  # the prompt runner needs params["text"]
    meta["cases"] += [no_runner, broken]
    (fixtures / "cases.json").write_text(json.dumps(meta))
    checks = run_conformance(fixtures, cases=["made_up", "broken_params", "prompt_asr"])
    by_case = {}
    for c in checks:
        by_case.setdefault(c.case, []).append(c)
    assert all(c.passed for c in by_case["prompt_asr"])
    assert not any(c.passed for c in by_case["made_up"] + by_case["broken_params"])
    assert "no runner registered for 'no_such_runner'" in by_case["made_up"][0].error
    assert by_case["broken_params"][0].error.startswith("KeyError")
    result = runner.invoke(app, ["conformance", str(fixtures), "--case", "made_up"], terminal_width=160)
    assert result.exit_code == 1 and "no_such_runner" in result.output


@pytest.mark.parametrize("what", ["missing_dir", "no_cases", "unknown_case", "bad_checkpoint"])
def test_bad_directory_is_one_line_on_stderr(golden_dir, tmp_path, what):
    target = tmp_path / "set"
    args = ["conformance", str(target)]
    if what == "no_cases":
        _fixture_copy(golden_dir, target)
        (target / "cases.json").unlink()
    elif what == "unknown_case":
        _fixture_copy(golden_dir, target)
        args += ["--case", "nope"]
    elif what == "bad_checkpoint":
        _fixture_copy(golden_dir, target)
        (target / "model.safetensors").write_bytes(b"\x00" * 16)
    from ming_edit.cli.app import app as cli_app

    result = runner.invoke(cli_app, ["dev", *args])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ming-edit: error: ") and str(target) in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_command_module_does_not_import_torch():
    code = "import sys, ming_edit.cli.dev; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

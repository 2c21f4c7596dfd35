"""The committed completion scripts equal what the Typer app generates, and completion answers."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from test_cli_support import REPO

GENERATOR = REPO / "completions" / "generate.py"


def _generator():
    spec = importlib.util.spec_from_file_location("completions_generate", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_scripts_are_current(shell: str) -> None:
    gen = _generator()
    committed = (REPO / "completions" / gen.SCRIPTS[shell]).read_text(encoding="utf-8")
    assert committed == gen.completion_script(shell), "run: python completions/generate.py"
    assert "_MING_EDIT_COMPLETE" in committed and "ming-edit" in committed


def _complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_MING_EDIT_COMPLETE": "complete_bash"}
    done = subprocess.run([sys.executable, "-m", "ming_edit"], env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion_answers_commands_options_and_choices() -> None:
    assert "edit" in _complete("ming-edit ed", 1)
    assert _complete("ming-edit edit a.wav x --eng", 4) == ["--engine"]
    assert _complete("ming-edit edit a.wav x --engine ", 5) == ["auto", "dsp", "model"]


@pytest.mark.parametrize("shell,installed", [("zsh", ".zfunc/_ming-edit"), ("bash", ".bash_completions/ming-edit.sh"),
                                             ("fish", ".config/fish/completions/ming-edit.fish")])
def test_install_completion_installs_the_named_shell(tmp_path, shell: str, installed: str) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}  # the named shell wins over $SHELL
    done = subprocess.run([sys.executable, "-m", "ming_edit", "--install-completion", shell], env=env,
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    script = (tmp_path / installed).read_text(encoding="utf-8")
    assert "_MING_EDIT_COMPLETE" in script and f"complete_{shell}" in script
    others = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()} - {installed}
    assert all(shell in name or name.endswith(f".{shell}rc") for name in others), others

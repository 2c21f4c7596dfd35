"""Regenerate the shell completion scripts from the Typer app.

    python completions/generate.py          # rewrite completions/ming-edit.bash, _ming-edit, ming-edit.fish
    python completions/generate.py --check  # exit 1 if any file is out of date

The scripts call back into `ming-edit` (env _MING_EDIT_COMPLETE) for the actual candidates, so
commands and options added later complete without regenerating; regenerate when Typer changes.
Install: bash: `source completions/ming-edit.bash`; zsh: put `_ming-edit` on $fpath;
fish: copy `ming-edit.fish` to ~/.config/fish/completions/ (or run `ming-edit --install-completion`).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {"bash": "ming-edit.bash", "zsh": "_ming-edit", "fish": "ming-edit.fish"}


def completion_script(shell: str) -> str:
    """The script `ming-edit --show-completion` prints in ``shell`` (Typer's own generator)."""
    import typer.main
    from typer._completion_shared import get_completion_script

    from ming_edit.cli.app import PROG, app

    typer.main.get_command(app)  # registers Typer's completion classes, as at runtime
    complete_var = "_{}_COMPLETE".format(PROG.replace("-", "_").upper())
    script = get_completion_script(prog_name=PROG, complete_var=complete_var, shell=shell)
    return script.rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for shell, name in SCRIPTS.items():
        text = completion_script(shell)
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python completions/generate.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

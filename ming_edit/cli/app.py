"""The `ming-edit` command line (Typer). Thin: parse, call a pipeline, render.

Start-up stays light: no torch, no scipy, no rich at import; each command imports what it needs.
The one error policy: a MingEditError anywhere becomes one line `ming-edit: error: ...` on stderr
and its exit code; Ctrl-C exits 130 and SIGTERM 143 (outputs being written are removed first).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from ming_edit import __version__
from ming_edit.cli.render import PROG, report, usage_error_line
from ming_edit.errors import MingEditError

try:  # recent typer vendors click as typer._click; older releases use click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException, NoArgsIsHelpError


def _completion_default(args: list[str]) -> list[str]:
    """`--install-completion` / `--show-completion` given without a shell mean this shell."""
    out: list[str] = []
    for index, arg in enumerate(args):
        out.append(arg)
        following = args[index + 1] if index + 1 < len(args) else None
        if arg in ("--install-completion", "--show-completion") and (following is None or following.startswith("-")):
            out.append("auto")
    return out


class MingGroup(TyperGroup):
    """Turns user-facing errors raised by any command into one line + exit code (no traceback)."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Like click's standalone mode, but usage errors are one line (`ming-edit: error: ...`)
        instead of typer's multi-line box, so scripts and logs see the same format as our errors."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        args = _completion_default(list(sys.argv[1:] if args is None else args))
        if "_MING_EDIT_COMPLETE" in os.environ:  # a shell asking for completions
            from typer.completion import completion_init

            completion_init()
        try:
            with warnings.catch_warnings():
                if not sys.warnoptions:  # a library's warning is not the user's business (-W shows them)
                    warnings.simplefilter("ignore")
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:  # bare `ming-edit` / `ming-edit models`: the help was shown
            if err.format_message().strip():
                err.show()
            sys.exit(err.exit_code)
        except ClickException as err:
            sys.stderr.write(usage_error_line(err) + "\n")
            sys.exit(err.exit_code)
        except typer.Abort:
            sys.exit(report(KeyboardInterrupt()))
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (MingEditError, KeyboardInterrupt) as err:
            raise typer.Exit(report(err)) from None


app = typer.Typer(
    cls=MingGroup,
    name=PROG,
    add_completion=False,  # ours below: typer's flag ignores a shell name and installs for the parent shell
    help="Edit speech recordings from plain-language instructions: exact DSP edits "
    "(volume, loudness, peak, speed, pitch, denoise) and the Ming-UniAudio model (words, emotion, dialect).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


def _shell(value: str) -> str | None:
    """'auto' (no value given) -> None, which lets typer detect the running shell."""
    if value == "auto":
        return None
    if value not in SHELLS:
        raise typer.BadParameter(f"unknown shell '{value}'; use one of {', '.join(SHELLS)}")
    return value


def _install_completion(ctx: typer.Context, value: Optional[str]) -> None:
    if value is None or ctx.resilient_parsing:
        return
    from typer._completion_shared import install

    shell, path = install(shell=_shell(value), prog_name=PROG, complete_var="_MING_EDIT_COMPLETE")
    typer.echo(f"{shell} completion installed in {path}; it takes effect in a new terminal")
    raise typer.Exit()


def _show_completion(ctx: typer.Context, value: Optional[str]) -> None:
    if value is None or ctx.resilient_parsing:
        return
    from typer._completion_shared import _get_shell_name, get_completion_script

    shell = _shell(value) or _get_shell_name() or "bash"
    typer.echo(get_completion_script(prog_name=PROG, complete_var="_MING_EDIT_COMPLETE", shell=shell), nl=False)
    raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    install_completion: Optional[str] = typer.Option(
        None, "--install-completion", callback=_install_completion, is_eager=True,
        metavar="[SHELL]", help="Install completion for SHELL (bash, zsh, fish, powershell; default: this shell)."),
    show_completion: Optional[str] = typer.Option(
        None, "--show-completion", callback=_show_completion, is_eager=True,
        metavar="[SHELL]", help="Print the completion script for SHELL (default: this shell)."),
) -> None:
    """Edit speech recordings from plain-language instructions."""


def _register_commands(root: typer.Typer) -> None:
    from ming_edit.cli import dev, edit, models, speech, splice
    from ming_edit.cli import info

    root.command("edit", epilog=edit.EDIT_EPILOG)(edit.edit_command)
    root.command("splice", epilog=splice.SPLICE_EPILOG)(splice.splice_command)
    root.command("info", epilog=info.INFO_EPILOG)(info.info_command)
    root.command("transcribe")(speech.transcribe_command)
    root.command("speak")(speech.speak_command)
    root.command("clone")(speech.clone_command)
    root.add_typer(models.app, name="models")
    root.add_typer(dev.app, name="dev")


_register_commands(app)


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name=PROG)
    except (MingEditError, KeyboardInterrupt) as err:  # raised outside a command (e.g. while completing)
        sys.exit(report(err))


if __name__ == "__main__":
    main()

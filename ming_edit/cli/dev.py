"""`ming-edit dev ...`: developer commands (numerical conformance against golden fixture sets).

No torch import at module level: the library is imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ming_edit.errors import UsageError

if TYPE_CHECKING:  # the library is imported inside the command (it pulls in torch)
    from ming_edit.dev.conformance.report import ConformanceCheck


app = typer.Typer(name="dev", help="Developer tools: conformance against upstream golden fixtures.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _group() -> None:
    """Developer tools: conformance against upstream golden fixtures."""


def _tolerance(check: ConformanceCheck) -> str:
    if check.exact:
        return "exact"
    return f"{check.atol:.3g} + {check.rtol:.0e}|x|"


def _error_text(value: float) -> str:
    return "-" if value == float("inf") else f"{value:.3g}"


@app.command("conformance")
def conformance(
    directory: Path = typer.Argument(..., help="Fixture directory: checkpoint + cases.json + cases.safetensors."),
    case: Optional[list[str]] = typer.Option(None, "--case", help="Only these cases (repeatable)."),
    device: str = typer.Option("cpu", "--device", help="Device: cpu, cuda or cuda:N (float32 either way)."),
    quantize: str = typer.Option("none", "--quantize", help="none, int8 or int4: quantise the LLM's linear layers and judge its cases by relative error / token agreement against float32 (looser, documented tolerances)."),
) -> None:
    """Run every golden case in DIRECTORY through our stack and compare with the recorded outputs."""
    from rich.console import Console
    from rich.table import Table

    from ming_edit.dev.conformance.report import run_conformance

    from ming_edit.model.session import select_device
    from ming_edit.options import ModelOptions

    # a MingEditError (bad directory or device, broken checkpoint) becomes the CLI's one error line
    mode = ModelOptions(device=device, quantize=quantize).resolved_quantize()
    if mode == "auto":
        raise UsageError("dev conformance --quantize takes none, int8 or int4 (not auto)")
    checks = run_conformance(directory, cases=case, device=select_device(ModelOptions(device=device).device),
                             quantize=mode)

    console = Console()
    if not console.is_terminal:  # piped / captured: do not squeeze the table into 80 columns
        console = Console(width=max(console.width, 200 if mode != "none" else 120))
    table = Table(title=f"conformance: {directory}")
    extra = ("rel err", "rel tol", "agree", "vs float32") if mode != "none" else ()
    for column in ("case", "output", "max abs err", "tolerance", "pass", *extra):
        table.add_column(column, justify="right" if column in ("max abs err", "rel err", "agree") else "left")
    for c in checks:
        mark = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        row = [c.case, c.output, _error_text(c.max_abs_err), "quantised" if c.status else _tolerance(c), mark]
        if extra:
            row += ["-" if c.rel_err is None else f"{c.rel_err:.3g}", "-" if c.rel_tol is None else f"{c.rel_tol:g}",
                    "-" if c.agreement is None else f"{c.agreement:.0%}", c.status or "float32 tolerance"]
        table.add_row(*row)
    console.print(table)
    errors: dict[str, str] = {}
    for c in checks:
        if c.error and not c.passed:
            errors.setdefault(f"{c.case}/{c.output}" if c.error.startswith(("shape", "values", "runner did"))
                              else c.case, c.error)
    for where, message in errors.items():
        console.print(f"[red]{where}[/red]: {message}", markup=True, highlight=False)
    passed = sum(c.passed for c in checks)
    console.print(f"{passed}/{len(checks)} outputs pass")
    if not checks or passed != len(checks):
        raise typer.Exit(1)

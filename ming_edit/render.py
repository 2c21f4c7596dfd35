"""What the edit command prints: human lines (results on stdout, notes on stderr), JSON, progress.

rich is imported only for the folder progress bar, so a single-file edit starts fast.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ming_edit.edit import EditResult
from ming_edit.plan import Plan


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def emit_json(obj: dict[str, Any]) -> None:
    out(json.dumps(obj, ensure_ascii=False))


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


def plan_lines(plan: Plan, engine: str) -> list[str]:
    lines = [f"plan ({engine}):"]
    for number, op in enumerate(plan.operations, 1):
        lines.append(f"  {number}. {op.describe()}")
    if engine == "model":
        lines.append(f"  model instruction: {plan.model_instruction()}")
    return lines


def print_result(result: EditResult) -> None:
    """Human summary of one edit: notes to stderr, the outcome to stdout."""
    for note in result.notes:
        err(f"note: {note}")
    durations = f"{_seconds(result.duration_in)} -> {_seconds(result.duration_out)}"
    steps = "; ".join(o.describe() for o in result.plan.operations)
    if result.dry_run:
        for line in plan_lines(result.plan, result.engine):
            out(line)
        out(f"dry run: would write {result.output} ({durations}); nothing written")
    else:
        out(f"wrote {result.output} ({result.engine}: {steps}; {durations})")


def cot_printer(json_mode: bool) -> Callable[[str, str], None]:
    """Shows the model's edit plan (its chain of thought, edits as [MASK]) before audio is made."""

    def show(raw: str, rendered: str) -> None:
        (err if json_mode else out)(f"model transcript plan: {rendered}")

    return show


@contextmanager
def batch_progress(enabled: bool) -> Iterator[tuple[Callable[[Path, int, int], None], Callable[[Path, Any], None]]]:
    """(on_start, on_done) callbacks driving a rich progress bar on stderr (no-ops if disabled)."""
    if not enabled:
        yield (lambda path, i, n: None), (lambda path, outcome: None)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]editing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=console, transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def on_start(path: Path, index: int, total: int) -> None:
            progress.update(task, total=total, description=path.name)

        def on_done(path: Path, outcome: Any) -> None:
            progress.advance(task)

        yield on_start, on_done


def print_batch_summary(done: list[EditResult], failed: list[Any], output_dir: Path, dry_run: bool) -> None:
    for result in done:
        if result.notes:  # one line per file keeps long batches readable
            err(f"note: {result.input}: " + "; ".join(result.notes))
    verb = "would edit" if dry_run else "edited"
    out(f"{verb} {len(done)} of {len(done) + len(failed)} files into {output_dir}")
    for failure in failed:
        err(f"FAILED {failure.input}: {failure.error}")

"""What the commands print: human lines (results on stdout, notes on stderr), JSON, progress bars.

rich is imported only when a progress bar is drawn, so a single-file edit starts fast.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ming_edit.errors import Terminated
from ming_edit.ops.model_phrasing import plan_phrase
from ming_edit.ops.operation import Plan
from ming_edit.options import BatchResult, EditResult, ProgressCallback, SpeakResult

PROG = "ming-edit"


def error_line(err: BaseException | str) -> str:
    return f"{PROG}: error: " + " ".join(str(err).split())


def usage_error_line(err: Any) -> str:
    """A click usage error (unknown option, missing argument, bad value) as one line."""
    message = " ".join(err.format_message().split()).replace("Value error, ", "")  # pydantic's prefix
    line = f"{PROG}: error: {message}"
    ctx = getattr(err, "ctx", None)
    if ctx is not None:
        line += f" (see '{ctx.command_path} --help')"
    return line


def report(err: BaseException) -> int:
    """The one mapping of an error to its line on stderr; returns the exit code."""
    if isinstance(err, Terminated):
        line, code = f"{PROG}: terminated", Terminated.exit_code
    elif isinstance(err, KeyboardInterrupt):
        line, code = f"{PROG}: interrupted", 130
    else:
        line, code = error_line(err), getattr(err, "exit_code", 1)
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return code


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
        lines.append(f"  model instruction: {plan_phrase(plan.operations)}")
    return lines


def print_result(result: EditResult) -> None:
    """Human summary of one edit: notes to stderr, the outcome to stdout."""
    for note in result.notes:
        err(f"note: {note}")
    durations = f"{_seconds(result.duration_in)} -> {_seconds(result.duration_out)}"
    steps = "; ".join(o.describe() for o in result.plan.operations)
    if result.clip_gain_db:  # the plan's gain is not what was applied: say so where it is read
        steps += f"; then {result.clip_gain_db:+.1f} dB so peaks stay under full scale"
    if result.dry_run:
        for line in plan_lines(result.plan, result.engine):
            out(line)
        for line in window_lines(result):
            out(line)
        out(f"dry run: would write {result.output} ({durations}); nothing written")
    else:
        for line in window_lines(result):
            err(line)
        out(f"wrote {result.output} ({result.engine}: {steps}; {durations})")


def window_lines(result: EditResult) -> list[str]:
    """One line per window a model edit touched (or would, in a dry run)."""
    lines = []
    for w in result.windows:
        where = f"window {w.start:.2f}-{w.end:.2f} s"
        text = f" \"{w.text}\"" if w.text else ""
        if result.dry_run and w.planned:
            lines.append(f"{where}: would be edited{text}")
        elif w.failed:
            lines.append(f"{where}: left as it was ({w.failed})")
        elif w.edited and w.is_global:
            lines.append(f"{where}: the model's output whole (it changed all of it)")
        elif w.edited:
            spans = ", ".join(f"{e['kind']} {w.start + e['source_start']:.2f}-{w.start + e['source_end']:.2f} s"
                              for e in w.edits) or "no change found"
            lines.append(f"{where}: {spans} (kept {100 * (w.kept_fraction or 0):.0f}% of the original)")
    return lines


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


def print_batch_summary(result: BatchResult, dry_run: bool) -> None:
    for edited in result.done:
        if edited.notes:  # one line per file keeps long batches readable
            err(f"note: {edited.input}: " + "; ".join(edited.notes))
    verb = "would edit" if dry_run else "edited"
    total = len(result.done) + len(result.failed)
    out(f"{verb} {len(result.done)} of {total} files into {result.output_dir}")
    batch_notes(result)
    for failure in result.failed:
        err(f"FAILED {failure.input}: {failure.error}")


def batch_notes(result: BatchResult) -> None:
    """What a folder run left out on purpose."""
    if result.existing:
        err(f"note: skipped {len(result.existing)} file(s) whose output already exists (--skip-existing)")
    if result.in_subfolders:
        err(f"note: {result.in_subfolders} audio file(s) in subfolders were not edited (add --recursive)")


@contextmanager
def task_progress(enabled: bool = True) -> Iterator[ProgressCallback]:
    """A ProgressCallback drawing one rich bar per task on stderr when it is a terminal. rich is
    imported on the first report, so commands that report nothing (DSP edits) never load it."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda task, done, total: None
        return
    with ExitStack() as stack:
        bars: list[Any] = []
        tasks: dict[str, Any] = {}

        def update(task: str, done: int, total: int | None) -> None:
            if not bars:
                from rich.console import Console
                from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

                bars.append(stack.enter_context(Progress(
                    SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True,
                )))
            if task not in tasks:
                tasks[task] = bars[0].add_task(task, total=total)
            bars[0].update(tasks[task], completed=done, total=total)

        yield update


def splice_lines(report: Any) -> list[str]:
    """Human summary of a splice (a pipelines.splice.SpliceReport): one line per edit, then the
    outcome."""
    if report.is_global:
        return [f"wrote {report.output}: a global change, the regenerated audio whole ({report.duration_out:.2f} s)"]
    lines = []
    for e in report.edits:
        if e.kind == "delete":
            lines.append(f"  deleted {e.source_start:.2f}-{e.source_end:.2f} s")
        elif e.kind == "insert":
            lines.append(f"  inserted regenerated {e.regenerated_start:.2f}-{e.regenerated_end:.2f} s at {e.source_start:.2f} s")
        else:
            lines.append(f"  replaced {e.source_start:.2f}-{e.source_end:.2f} s with regenerated "
                         f"{e.regenerated_start:.2f}-{e.regenerated_end:.2f} s")
    what = f"{len(report.edits)} edit(s)" if report.edits else "no change found"
    lines.append(f"wrote {report.output}: {what}, {100 * report.kept_fraction:.1f} % of the source kept sample for "
                 f"sample ({report.duration_in:.2f} s -> {report.duration_out:.2f} s)")
    return lines


def print_speech(result: SpeakResult) -> None:
    """What speak / clone say on stderr once the file is written."""
    if result.reference_text_transcribed:
        err(f"reference transcript: {result.reference_text}")
    if result.clipped_samples:
        err(f"note: {result.clipped_samples} generated samples exceeded full scale and were clipped")
    err(f"wrote {result.output} ({result.duration:.2f} s, {result.sentences} sentence(s))")

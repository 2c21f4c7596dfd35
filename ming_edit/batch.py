"""Folders: edit every audio file under a folder into an output folder that mirrors it.

Outputs keep each file's path relative to the input folder (a/x.wav -> OUT/a/x.wav), so equal
basenames in different subfolders never collide. A bad file is reported and skipped; the batch
keeps going and the caller exits non-zero if anything failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ming_edit.audio_io import EXTENSION_FORMATS
from ming_edit.edit import CotCallback, EditOptions, EditResult, edit_file, route
from ming_edit.errors import AudioError, CheckpointError, MingEditError, ModelNeededError, UsageError
from ming_edit.plan import Plan


@dataclass
class Failure:
    input: Path
    error: str


@dataclass
class BatchResult:
    input_dir: Path
    output_dir: Path
    done: list[EditResult] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "input": str(self.input_dir),
            "output": str(self.output_dir),
            "files": [r.to_json() for r in self.done],
            "failed": [{"input": str(f.input), "error": f.error} for f in self.failed],
        }


def default_output_dir(input_dir: Path) -> Path:
    """DIR -> DIR.edited next to it (never inside, so it is not walked again)."""
    resolved = input_dir.resolve()
    return resolved.with_name(resolved.name + ".edited")


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def iter_audio_files(folder: Path, *, recursive: bool, exclude: Path | None = None) -> Iterator[Path]:
    """Audio files (by extension) in ``folder``, sorted; hidden files/folders and ``exclude`` skipped."""
    pattern = "**/*" if recursive else "*"
    for path in sorted(folder.glob(pattern)):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and _is_within(path, exclude):
            continue
        if path.suffix.lower() in EXTENSION_FORMATS and not path.is_dir():
            yield path


def plan_outputs(input_dir: Path, output_dir: Path, *, recursive: bool) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs; the output folder itself is never an input."""
    if not input_dir.is_dir():
        raise UsageError(f"{input_dir} is not a folder")
    if output_dir.resolve() == input_dir.resolve():
        raise UsageError("the output folder is the input folder; choose another -o (inputs are never modified)")
    if not output_dir.parent.is_dir():
        raise UsageError(f"output folder's parent does not exist: {output_dir.parent}")
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"output {output_dir} is a file; give a folder for a folder input")
    exclude = output_dir if _is_within(output_dir, input_dir) else None
    pairs = [(p, output_dir / p.relative_to(input_dir)) for p in iter_audio_files(input_dir, recursive=recursive, exclude=exclude)]
    if not pairs:
        hint = "" if recursive else " (use --recursive to include subfolders)"
        raise UsageError(f"no audio files found in {input_dir}{hint}")
    return pairs


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the ones created (outermost first)."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    missing.reverse()
    try:
        for path in missing:
            path.mkdir()
    except OSError as err:
        remove_if_empty(missing)
        raise AudioError(f"cannot create the output folder {folder}: {err.strerror or err}") from None
    return missing


def remove_if_empty(created: list[Path]) -> None:
    """Undo make_folders for folders still empty (innermost first); others are kept."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            pass  # not empty (another file's output is there) or already gone


def run_batch(
    input_dir: Path,
    plan: Plan,
    output_dir: Path | None,
    options: EditOptions,
    *,
    recursive: bool = False,
    on_start: Callable[[Path, int, int], None] | None = None,
    on_done: Callable[[Path, EditResult | Failure], None] | None = None,
    on_cot: CotCallback | None = None,
) -> BatchResult:
    """Edit every audio file under ``input_dir`` into ``output_dir`` (default DIR.edited)."""
    output_dir = output_dir or default_output_dir(input_dir)
    pairs = plan_outputs(input_dir, output_dir, recursive=recursive)
    result = BatchResult(input_dir, output_dir)
    if not options.dry_run and route(plan, options.engine) == "model":
        from ming_edit.registry import resolve_model_dir

        resolve_model_dir(options.model, "edit")  # no weights: say so once, before writing anything
    for index, (source, target) in enumerate(pairs):
        if on_start is not None:
            on_start(source, index, len(pairs))
        outcome: EditResult | Failure
        created: list[Path] = []
        try:
            if not options.dry_run:
                created = make_folders(target.parent)
            outcome = edit_file(source, plan, target, options, on_cot=on_cot, allow_new_folder=True)
            result.done.append(outcome)
        except (ModelNeededError, CheckpointError):
            remove_if_empty(created)
            raise  # not about this file: every other file would fail the same way
        except MingEditError as err:
            outcome = Failure(source, str(err))
            result.failed.append(outcome)
        except Exception as err:  # noqa: BLE001 - one broken file must not stop the batch
            outcome = Failure(source, f"internal error ({type(err).__name__}: {err})")
            result.failed.append(outcome)
        if isinstance(outcome, Failure):
            remove_if_empty(created)  # a failed file leaves no trace, not even an empty subfolder
        if on_done is not None:
            on_done(source, outcome)
    return result

"""Folders: edit every audio file under a folder into an output folder that mirrors it.

Outputs keep each file's path relative to the input folder (a/x.wav -> OUT/a/x.wav), so equal
basenames in different subfolders never collide. A bad file is reported and skipped; the batch
keeps going and the caller exits non-zero if anything failed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from ming_edit.errors import CheckpointError, MingEditError, ModelNeededError, UsageError
from ming_edit.io.files import count_nested_audio, default_output_dir, make_folders, mirror_folder, remove_if_empty
from ming_edit.ops.operation import Plan
from ming_edit.options import BatchResult, CotCallback, EditOptions, EditResult, Failure
from ming_edit.pipelines.edit import edit_file, route

BatchStart = Callable[[Path, int, int], None]  # (file, index, total)
BatchDone = Callable[[Path, "EditResult | Failure"], None]


def run_batch(
    input_dir: Path,
    plan: Plan,
    output_dir: Path | None,
    options: EditOptions,
    *,
    recursive: bool = False,
    on_start: BatchStart | None = None,
    on_done: BatchDone | None = None,
    on_cot: CotCallback | None = None,
) -> BatchResult:
    """Edit every audio file under ``input_dir`` into ``output_dir`` (default DIR.edited)."""
    if options.transcript is not None:
        raise UsageError("--transcript is one recording's transcript; give it with a single file, not a folder")
    output_dir = output_dir or default_output_dir(input_dir)
    pairs = mirror_folder(input_dir, output_dir, recursive=recursive)
    done: list[EditResult] = []
    failed: list[Failure] = []
    existing = [target for _, target in pairs if options.skip_existing and target.exists()]
    pairs = [(source, target) for source, target in pairs if target not in existing]
    if not options.dry_run and route(plan, options.engine) == "model":
        from ming_edit.model.hub import resolve_model_dir

        resolve_model_dir(options.model.model, "edit")  # no weights: say so once, before writing anything
    for index, (source, target) in enumerate(pairs):
        if on_start is not None:
            on_start(source, index, len(pairs))
        outcome: EditResult | Failure
        created: list[Path] = []
        try:
            if not options.dry_run:
                created = make_folders(target.parent)
            outcome = edit_file(source, plan, target, options, on_cot=on_cot, allow_new_folder=True,
                                measure_dry_run=False)
            done.append(replace(outcome, model_run=None))  # a folder of model edits must not keep every latent
        except (ModelNeededError, CheckpointError, KeyboardInterrupt):
            remove_if_empty(created)
            raise  # not about this file (every other file would fail the same way), or the user stopped us
        except MingEditError as err:
            outcome = Failure(source, str(err))
            failed.append(outcome)
        except Exception as err:  # noqa: BLE001 - one broken file must not stop the batch
            outcome = Failure(source, f"internal error ({type(err).__name__}: {err})")
            failed.append(outcome)
        if isinstance(outcome, Failure):
            remove_if_empty(created)  # a failed file leaves no trace, not even an empty subfolder
        if on_done is not None:
            on_done(source, outcome)
    nested = 0 if recursive else count_nested_audio(input_dir)
    return BatchResult(input_dir, output_dir, tuple(done), tuple(failed), tuple(existing), nested)

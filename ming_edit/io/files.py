"""Which files a command reads and where its outputs go: the folder walk (one extension list),
mirrored output folders, default output names, and the rules that keep inputs safe."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

from ming_edit.errors import AudioError, UsageError
from ming_edit.io.formats import EXTENSION_FORMATS, is_audio_path


def resolved(path: Path) -> Path:
    """``path.resolve()``, with a symlink loop or an unreadable link as one usage error."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as err:
        reason = "a symlink loop" if "loop" in str(err).lower() or getattr(err, "errno", 0) == 40 else str(err)
        raise UsageError(f"cannot use {path}: {reason}") from None


def is_within(path: Path, folder: Path) -> bool:
    try:
        resolved(path).relative_to(resolved(folder))
        return True
    except ValueError:
        return False


def iter_audio_files(folder: Path, *, recursive: bool, exclude: Path | None = None) -> Iterator[Path]:
    """Audio files (by extension) in ``folder``, sorted; hidden files and folders (macOS "._x.wav"
    resource forks, .cache/...) and anything under ``exclude`` are skipped."""
    pattern = "**/*" if recursive else "*"
    for path in sorted(folder.glob(pattern)):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and is_within(path, exclude):
            continue
        if is_audio_path(path) and path.is_file():
            yield path


def expand_inputs(inputs: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(file, path relative to its root) for every input; folders are walked recursively."""
    found: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = list(iter_audio_files(item, recursive=True))
            if not files:
                known = ", ".join(sorted(EXTENSION_FORMATS))
                raise AudioError(f"{item}: no audio files ({known}) in this folder")
            found += [(p, p.relative_to(item)) for p in files]
        elif item.is_file():
            found.append((item, Path(item.name)))
        else:
            raise AudioError(f"{item}: no such file or folder")
    return found


def count_nested_audio(folder: Path) -> int:
    """Audio files in the subfolders of ``folder`` (what a walk without --recursive leaves out)."""
    return sum(1 for path in iter_audio_files(folder, recursive=True) if path.parent != folder)


def default_output_path(input_path: Path) -> Path:
    """NAME.EXT -> NAME.edited.EXT next to the input."""
    return input_path.with_name(f"{input_path.stem}.edited{input_path.suffix}")


def default_output_dir(input_dir: Path) -> Path:
    """DIR -> DIR.edited next to it (never inside, so it is not walked again)."""
    folder = resolved(input_dir)
    return folder.with_name(folder.name + ".edited")


def check_output_path(input_path: Path, output_path: Path, *, overwrite: bool, allow_new_folder: bool = False) -> None:
    """Refuse an output that is the input, sits in a missing folder, is a folder, or exists."""
    if resolved(output_path) == resolved(input_path) or (
        output_path.exists() and os.path.samefile(output_path, input_path)
    ):
        raise UsageError(f"the output would overwrite the input {input_path}; choose another -o (inputs are never modified)")
    parent = output_path.parent
    if not parent.is_dir() and not (allow_new_folder and not parent.exists()):
        raise UsageError(f"output folder does not exist: {parent}")
    if output_path.is_dir():
        raise UsageError(f"output {output_path} is a folder; give a file name (or pass a folder as input)")
    if output_path.exists() and not overwrite:
        raise UsageError(f"{output_path} already exists; pass --overwrite to replace it")


def mirror_folder(input_dir: Path, output_dir: Path, *, recursive: bool) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs keeping relative paths (a/x.wav -> OUT/a/x.wav); the output
    folder itself is never an input."""
    if not input_dir.is_dir():
        raise UsageError(f"{input_dir} is not a folder")
    if resolved(output_dir) == resolved(input_dir):
        raise UsageError("the output folder is the input folder; choose another -o (inputs are never modified)")
    if not output_dir.parent.is_dir():
        raise UsageError(f"output folder's parent does not exist: {output_dir.parent}")
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"output {output_dir} is a file; give a folder for a folder input")
    exclude = output_dir if is_within(output_dir, input_dir) else None
    files = iter_audio_files(input_dir, recursive=recursive, exclude=exclude)
    pairs = [(p, output_dir / p.relative_to(input_dir)) for p in files]
    if not pairs:
        hint = "" if recursive else " (use --recursive to include subfolders)"
        raise UsageError(f"no audio files found in {input_dir}{hint}")
    return pairs


def check_text_targets(targets: dict[str, Path]) -> None:
    """Refuse text outputs (transcripts) that would destroy a recording or each other: an audio file
    name (e.g. `-o talk.wav`), an input itself, or two inputs landing on one file (a.wav + a.flac)."""
    seen: dict[Path, str] = {}
    inputs = [Path(source) for source in targets]
    for source, target in targets.items():
        if is_audio_path(target):
            raise UsageError(f"-o {target} is an audio file name; transcripts are text "
                             "(use .txt, .json, .srt or .vtt)")
        if any(resolved(target) == resolved(i) or (target.exists() and target.samefile(i)) for i in inputs):
            raise UsageError(f"-o {target} would overwrite the input recording {target}")
        key = resolved(target)
        if key in seen:
            raise UsageError(f"{seen[key]} and {source} would both be written to {target}; "
                             "rename one, or transcribe them separately")
        seen[key] = source


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

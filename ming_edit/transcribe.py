"""Speech to text with the Ming-UniAudio model: files and folders, hotwords, forced language,
long recordings split at pauses and stitched with their timestamps.

The model is loaded once per process (runtime.get_stack) however many files one call handles.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ming_edit import runtime
from ming_edit.errors import AudioError, UsageError
from ming_edit.segment import (
    MAX_CHUNK_SECONDS,
    Span,
    is_silent,
    speech_extent,
    split_at_pauses,
    split_sentences,
    text_units,
)
from ming_edit.subtitles import Segment, Transcript

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".opus")
DEFAULT_MAX_NEW_TOKENS = 512  # the demo's limit for one utterance
# Nobody speaks faster than ~12 tokens a second (Chinese ~1 token per character, English less);
# capping each chunk at that stops a degenerate repetition loop early.
TOKENS_PER_SECOND_CAP = 12
# The model answers "<language>\t<text>" unless the language was forced.
_LANGUAGE_TAG = re.compile(r"^\s*([^\t\n]{1,40})\t(.*)$", re.S)


def read_hotwords(path: Path) -> list[str]:
    """Terms from a hotword file: one per line, commas also separate; '#' lines are comments."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"hotword file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"hotword file {path} is not readable UTF-8 text ({err.__class__.__name__})") from None
    terms: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for term in re.split(r"[,，]", line):
            term = " ".join(term.split())
            if term and term not in terms:
                terms.append(term)
    if not terms:
        raise UsageError(f"hotword file {path} is empty (one term per line, or comma-separated)")
    return terms


def expand_inputs(inputs: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(file, path relative to its root) for every input; folders are walked for audio files."""
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            files = sorted(
                p for p in item.rglob("*")
                if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                # hidden files and folders (macOS "._x.wav" resource forks, .cache/...) are not recordings
                and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
            if not files:
                raise AudioError(f"{item}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            found += [(p, p.relative_to(item)) for p in files]
        elif item.is_file():
            found.append((item, Path(item.name)))
        else:
            raise AudioError(f"{item}: no such file or folder")
    return found


def token_cap(seconds: float) -> int:
    """The most tokens a chunk of ``seconds`` can plausibly need (language tag included)."""
    return int(TOKENS_PER_SECOND_CAP * seconds) + 16


def split_language(text: str) -> tuple[str | None, str]:
    """'English\\tsome words' -> ('English', 'some words'); text without a tag is returned as is."""
    match = _LANGUAGE_TAG.match(text)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return None, text.strip()


def _time_at(spans: list[Span], fraction: float, sample_rate: int) -> float:
    """Seconds at ``fraction`` of the way through the speech in ``spans`` (pauses skipped)."""
    total = sum(s.length for s in spans)
    target = fraction * total
    for span in spans:
        if target <= span.length:
            return (span.start + target) / sample_rate
        target -= span.length
    return spans[-1].end / sample_rate


def chunk_segments(chunk: Segment, speech: list[Span], sample_rate: int) -> list[Segment]:
    """Subtitle-sized cues for one chunk: its sentences, timed in proportion to their length over
    the chunk's detected speech (the model gives no finer alignment)."""
    sentences = split_sentences(chunk.text, max_units=16, min_units=2) or [chunk.text]
    weights = [max(1, text_units(s)) for s in sentences]
    total, done = float(sum(weights)), 0.0
    cues = []
    for sentence, weight in zip(sentences, weights):
        start = _time_at(speech, done / total, sample_rate)
        done += weight
        cues.append(Segment(start, _time_at(speech, done / total, sample_rate), sentence))
    return cues


class Transcriber:
    """A loaded model plus the call-wide settings; transcribes file after file."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str | None = None,
        seed: int | None = None,
        noise: Any = None,
        task: str = "asr",
        stack: Any = None,
    ) -> None:
        from ming_edit.registry import resolve_model_dir

        if stack is None:
            torch_device = runtime.select_device(device)
            model_dir = resolve_model_dir(model, "asr")
            stack = runtime.get_stack(model_dir, task, torch_device, runtime.select_dtype(dtype, torch_device))
        self.stack = stack
        self.tokenizer = stack.text_tokenizer or runtime.load_text_tokenizer(Path(stack.path))
        self.noise = noise if noise is not None else runtime.make_noise(seed)

    def transcribe_array(
        self,
        mono16k: np.ndarray,
        *,
        source: str = "<audio>",
        hotwords: Sequence[str] = (),
        lang: str | None = None,
        batch_size: int = 4,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        max_chunk_seconds: float = MAX_CHUNK_SECONDS,
        on_segment: Callable[[Transcript, Segment], None] | None = None,
        progress: Any = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono audio; ``on_segment`` sees each cue as soon as its chunk is done."""
        from ming_edit.model.asr import transcribe_ids
        from ming_edit.model.prompts import asr_prompt

        rate = runtime.MODEL_SAMPLE_RATE
        transcript = Transcript(source=source, duration=len(mono16k) / rate, language=lang)
        spans = split_at_pauses(mono16k, rate, max_chunk_seconds)
        # A lone chunk reaches the model unchanged; among several, skip digital silence.
        todo = [s for s in spans if len(spans) == 1 or not is_silent(mono16k[s.start : s.end], -60.0)]
        task = progress.add_task(f"transcribing {Path(source).name}", total=len(todo)) if progress else None
        for first in range(0, len(todo), max(1, batch_size)):
            group = todo[first : first + batch_size]
            waves = [runtime.waveform_tensor(mono16k[s.start : s.end], self.stack.device) for s in group]
            prompts = [asr_prompt(self.tokenizer, s.length, language=lang, hotwords=hotwords) for s in group]
            cap = max(token_cap(s.length / rate) for s in group)
            with runtime.oom_guard():
                out = transcribe_ids(self.stack, waves, prompts, max_new_tokens=min(max_new_tokens, cap),
                                     eos_ids=[self.tokenizer.eos_id], noise=self.noise)
            for span, ids in zip(group, out.token_ids):
                raw = self.tokenizer.decode(ids, skip_special_tokens=True)
                tag, text = split_language(raw) if lang is None else (lang, raw.strip())
                chunk = Segment(span.start / rate, span.end / rate, text, list(ids))
                transcript.chunks.append(chunk)
                if transcript.language is None and tag:
                    transcript.language = tag
                if not text:
                    continue
                for cue in chunk_segments(chunk, speech_extent(mono16k, rate, span), rate):
                    transcript.segments.append(cue)
                    if on_segment is not None:
                        on_segment(transcript, cue)
            if progress is not None:
                progress.advance(task, len(group))
        return transcript

    def transcribe_file(self, path: Path, **kwargs: Any) -> Transcript:
        mono16k, _, _, _ = runtime.load_for_model(Path(path))
        return self.transcribe_array(mono16k, source=str(path), **kwargs)


def transcribe_files(
    paths: Sequence[Path],
    *,
    model: str | Path | None = None,
    device: str = "auto",
    dtype: str | None = None,
    seed: int | None = None,
    noise: Any = None,
    hotwords: Sequence[str] = (),
    lang: str | None = None,
    batch_size: int = 4,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    on_segment: Callable[[Transcript, Segment], None] | None = None,
    on_transcript: Callable[[Transcript], None] | None = None,
    show_progress: bool = True,
) -> list[Transcript]:
    """Transcribe several files with one model load; ``noise`` replaces the seeded source."""
    transcriber = Transcriber(model, device=device, dtype=dtype, seed=seed, noise=noise)
    results = []
    with runtime.progress(show_progress) as bar:
        for path in paths:
            transcript = transcriber.transcribe_file(
                Path(path), hotwords=hotwords, lang=lang, batch_size=batch_size,
                max_new_tokens=max_new_tokens, on_segment=on_segment, progress=bar,
            )
            results.append(transcript)
            if on_transcript is not None:
                on_transcript(transcript)
    return results


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` via a temporary file in the same folder and a rename: never a partial file."""
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as err:
        raise AudioError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        from ming_edit.speak import current_umask

        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as err:  # disk full, or the target is a folder
        Path(tmp).unlink(missing_ok=True)
        raise AudioError(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_targets(targets: dict[str, Path]) -> None:
    """Refuse transcript paths that would destroy a recording or each other: an audio file name
    (e.g. `-o talk.wav`), an input file itself, or two inputs landing on one file (a.wav + a.flac)."""
    from ming_edit.audio_io import EXTENSION_FORMATS

    seen: dict[Path, str] = {}
    inputs = [Path(source) for source in targets]
    for source, target in targets.items():
        if target.suffix.lower() in EXTENSION_FORMATS or target.suffix.lower() in AUDIO_SUFFIXES:
            raise UsageError(f"-o {target} is an audio file name; transcripts are text "
                             "(use .txt, .json, .srt or .vtt)")
        if any(target.resolve() == i.resolve() or (target.exists() and target.samefile(i)) for i in inputs):
            raise UsageError(f"-o {target} would overwrite the input recording {target}")
        key = target.resolve()
        if key in seen:
            raise UsageError(f"{seen[key]} and {source} would both be written to {target}; "
                             "rename one, or transcribe them separately")
        seen[key] = source


def _check_readable(path: Path) -> None:
    from ming_edit import audio_io

    audio_io.probe(path)


def run_transcribe_command(
    inputs: Sequence[Path],
    *,
    output: Path | None = None,
    fmt: str | None = None,
    context: Path | None = None,
    lang: str | None = None,
    write: Callable[[str], None] | None = None,
    with_tokens: bool = False,
    **options: Any,
) -> list[Transcript]:
    """The `transcribe` command: every check happens before the model loads; txt on stdout streams
    cue by cue; files are written atomically once their transcript is complete. Several inputs:
    a bad file is reported and skipped, the rest are transcribed, and the run ends with an error
    naming every failure."""
    import sys

    from ming_edit.subtitles import FORMATS, render

    write = write or (lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = suffix if suffix in FORMATS else "txt"
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use {', '.join(FORMATS)}")
    hotwords = read_hotwords(context) if context is not None else []
    if lang is not None and not lang.strip():
        raise UsageError("--lang is empty")
    files = expand_inputs(inputs)
    several = len(files) > 1 or any(Path(i).is_dir() for i in inputs)
    failures: list[tuple[Path, str]] = []
    if not several:
        _check_readable(files[0][0])
    else:  # a batch keeps going past a bad file, like `edit` on a folder, and names it at the end
        readable = []
        for path, rel in files:
            try:
                _check_readable(path)
                readable.append((path, rel))
            except AudioError as err:
                failures.append((path, str(err)))
                sys.stderr.write(f"ming-edit: skipping {path}: {err}\n")
        if not readable:
            raise AudioError(f"none of the {len(files)} inputs could be read (first: {failures[0][1]})")
        files = readable

    targets: dict[str, Path] = {}
    if output is not None:
        if several or output.is_dir():
            if output.exists() and not output.is_dir():
                raise UsageError(f"-o {output}: several inputs need an output folder, and this is a file")
            targets = {str(p): output / rel.with_suffix(f".{fmt}") for p, rel in files}
        else:
            targets = {str(files[0][0]): output}
        check_targets(targets)
    elif several and fmt in ("srt", "vtt"):
        raise UsageError(f"{fmt} for several files needs -o FOLDER (one subtitle file per input)")

    stream_txt = output is None and fmt == "txt"
    results: list[Transcript] = []

    def on_start(path: Path) -> None:
        if stream_txt and several:
            write(f"==> {path} <==\n")

    def on_segment(_: Transcript, cue: Segment) -> None:
        if stream_txt:
            write(cue.text.strip() + "\n")

    def on_transcript(transcript: Transcript) -> None:
        results.append(transcript)
        target = targets.get(transcript.source)
        if target is not None:
            atomic_write_text(target, render([transcript], fmt, with_tokens))
        elif not stream_txt and fmt != "json":
            write(render([transcript], fmt, with_tokens))

    transcriber = Transcriber(options.pop("model", None), device=options.pop("device", "auto"),
                              dtype=options.pop("dtype", None), seed=options.pop("seed", None),
                              noise=options.pop("noise", None))
    with runtime.progress(options.pop("show_progress", True)) as bar:
        for path, _ in files:
            on_start(path)
            try:
                transcript = transcriber.transcribe_file(path, hotwords=hotwords, lang=lang, on_segment=on_segment,
                                                         progress=bar, **options)
            except AudioError as err:  # this file's audio; model and usage errors still end the run
                if not several:
                    raise
                failures.append((path, str(err)))
                sys.stderr.write(f"ming-edit: failed {path}: {err}\n")
                continue
            on_transcript(transcript)
    if output is None and fmt == "json":
        write(render(results, "json", with_tokens))
    if failures:
        names = ", ".join(str(p) for p, _ in failures)
        raise AudioError(f"{len(failures)} of {len(failures) + len(results)} files failed: {names}")
    return results

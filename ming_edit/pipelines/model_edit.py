"""The edit model on a recording of any length: windows cut at pauses, word edits sent only to
the windows whose transcript holds the words, each edited window spliced back, so outside the
edited spans the output is the input's own samples.

1. Windows: the recording's 20 ms levels (read in blocks, never whole) are cut at the longest
   pause near WINDOW_SECONDS (speech/vad.split_levels), well inside the model's context.
2. Locating (word edits: delete / insert / substitute): the target words are matched in each
   window's transcript, from --transcript (segments assigned by their midpoint) or by
   transcribing the windows with the loaded checkpoint. Global edits go to every window.
3. Each edited window goes through the model (pipelines/regenerate.regenerate_clip), and its
   output through splice/splicer.splice against the window's native samples; a window the model
   fails on is left as it was (a note; exit 1 unless --keep-going).
4. The output is written in one pass: the input's native blocks copied, edited windows spliced in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ming_edit.errors import AudioError, MingEditError, UsageError
from ming_edit.io import audio as audio_in
from ming_edit.io import formats
from ming_edit.io.writer import audio_writer
from ming_edit.ops.operation import Operation
from ming_edit.options import CotCallback, EditOptions, EditResult, ProgressCallback, WindowReport
from ming_edit.speech.find import count_occurrences, read_transcript
from ming_edit.speech.subtitles import Transcript
from ming_edit.speech.vad import LevelMeter, Span, split_levels

WINDOW_SECONDS = 20.0  # the longest window sent to the model (it was trained on utterances of a few to ~30 s)
MIN_WINDOW_SECONDS = 4.0
WORD_OPS = ("delete", "insert", "substitute")


class TargetNotFoundError(MingEditError):
    """The words an edit names are in none of the windows."""


def window_spans(info: audio_in.AudioInfo) -> list[Span]:
    """Windows of at most WINDOW_SECONDS, cut in the longest pause near the limit."""
    meter = LevelMeter(info.sample_rate)
    frames = 0
    for block in audio_in.read_blocks(info):
        meter.feed(block.mean(axis=1))
        frames += block.shape[0]
    return split_levels(meter.finish(), meter.hop, frames, info.sample_rate, WINDOW_SECONDS, MIN_WINDOW_SECONDS)


def target_of(op: Operation) -> str | None:
    """The words a word edit must find (None: it needs no search, e.g. insert at the start)."""
    if op.op == "delete":
        return op.args.get("text")
    if op.op == "substitute":
        return op.args.get("old")
    if op.op == "insert":
        return op.args.get("before") or op.args.get("after")
    return None


def _by_index(op: Operation) -> bool:
    return any(key in op.args for key in ("start", "before_index", "after_index"))


def transcript_texts(transcript: Transcript, spans: Sequence[Span], sample_rate: int) -> list[str]:
    """Each window's text: the segments whose midpoint lies in it."""
    texts: list[list[str]] = [[] for _ in spans]
    ends = np.array([s.end for s in spans])
    for seg in transcript.segments:
        middle = 0.5 * (seg.start + seg.end) * sample_rate
        texts[min(int(np.searchsorted(ends, middle, side="right")), len(spans) - 1)].append(seg.text)
    return [" ".join(t) for t in texts]


def select_windows(operations: Sequence[Operation], texts: Sequence[str], occurrence: int | None) -> list[int]:
    """Windows each word edit targets (every occurrence, or the ``occurrence``-th in order)."""
    chosen: set[int] = set()
    for op in operations:
        if op.op not in WORD_OPS:
            return list(range(len(texts)))  # a global edit: every window
        if op.op == "insert" and "at" in op.args:
            chosen.add(0 if op.args["at"] == "beginning" else len(texts) - 1)
            continue
        target = target_of(op)
        counts = [count_occurrences(target, text) for text in texts]
        total = sum(counts)
        if total == 0:
            raise TargetNotFoundError(f"'{target}' is not in the transcript of any of the {len(texts)} windows "
                                      "searched; nothing was written")
        if occurrence is None:
            chosen.update(i for i, c in enumerate(counts) if c)
            continue
        if occurrence > total:
            raise UsageError(f"--occurrence {occurrence}: '{target}' occurs {total} time(s)")
        running = np.cumsum(counts)
        chosen.add(int(np.searchsorted(running, occurrence)))
    return sorted(chosen)


def _mono16k(window: np.ndarray, rate: int) -> np.ndarray:
    from ming_edit.model import session

    return session.to_model_rate(audio_in.to_float(window).mean(axis=1), rate)


@dataclass
class _Run:
    """What the loop over windows needs: the stack (loaded once), its noise, the callbacks."""

    options: EditOptions
    on_cot: CotCallback | None
    on_progress: ProgressCallback | None
    stack: Any = None
    noise: Any = None
    patch: int = 0
    last: Any = None  # the last window's RegeneratedClip (its ModelRun is reported)

    def open(self) -> Any:
        from ming_edit.model import session
        from ming_edit.model.hub import resolve_model_dir

        if self.stack is None:
            self.patch = session.patch_size(resolve_model_dir(self.options.model.model, "edit"))
            self.stack = session.open_stack(self.options.model, "edit")
            self.noise = session.make_noise(self.options.model.seed)
        return self.stack


def _transcribe_windows(run: _Run, reader: audio_in.RangeReader, spans: Sequence[Span], rate: int) -> list[str]:
    from ming_edit.pipelines.transcribe import Transcriber

    transcriber = Transcriber(run.open(), run.noise)
    texts = []
    for index, span in enumerate(spans):
        if run.on_progress is not None:
            run.on_progress("transcribing windows to find the words", index, len(spans))
        texts.append(transcriber.transcribe_array(_mono16k(reader.read(span.start, span.end), rate)).text)
    return texts


def _edit_window(run: _Run, window: np.ndarray, rate: int, operations: Sequence[Operation],
                 bounded: bool) -> tuple[np.ndarray, WindowReport]:
    """(the window with the model's edit spliced in, its report)."""
    from ming_edit.model.config import HOP_SAMPLES
    from ming_edit.model.edit_loop import NoEditAudioError
    from ming_edit.pipelines.regenerate import regenerate_clip
    from ming_edit.splice.splicer import splice

    mono = _mono16k(window, rate)
    run.open()
    if len(mono) < run.patch * HOP_SAMPLES:
        raise AudioError(f"too short for the edit model ({window.shape[0] / rate:.3f} s)")
    try:
        clip = regenerate_clip(run.stack, run.patch, mono, operations, noise=run.noise, on_cot=run.on_cot,
                               max_steps=run.options.max_steps)
    except NoEditAudioError as err:
        return window, WindowReport(0.0, 0.0, None, failed=str(err))
    regenerated = np.repeat(clip.mono16k[:, None], window.shape[1], axis=1)
    spliced = splice(window, rate, regenerated, 16000, bounded=bounded)
    report = WindowReport(0.0, 0.0, None, edited=True, is_global=spliced.is_global,
                          edits=tuple(e.to_json() for e in spliced.edits), kept_fraction=spliced.kept_fraction,
                          cot=clip.cot, cot_raw=clip.cot_raw)
    run.last = clip
    return spliced.audio, report


def _whole_clip(run: _Run, result: EditResult, info: audio_in.AudioInfo, fmt: str, subtype: str,
                operations: Sequence[Operation]) -> EditResult:
    """The model's whole output, at the input's rate and channels (upstream's behaviour)."""
    from ming_edit.io.writer import write_checked
    from ming_edit.model import session
    from ming_edit.model.config import HOP_SAMPLES
    from ming_edit.pipelines.regenerate import regenerate_clip

    mono16k, rate, channels, duration_in = session.load_for_model(result.input)
    run.open()
    if len(mono16k) < run.patch * HOP_SAMPLES:
        raise AudioError(f"{result.input}: too short for the edit model ({duration_in:.3f} s)")
    if run.on_progress is not None:
        run.on_progress("editing with the model", 0, None)
    clip = regenerate_clip(run.stack, run.patch, mono16k, operations, noise=run.noise, on_cot=run.on_cot,
                           max_steps=run.options.max_steps)
    samples = session.from_model_rate(clip.mono16k, rate, channels)
    note, clip_gain_db = write_checked(result.output, samples, rate, fmt=fmt, subtype=subtype,
                                       no_limit=run.options.no_limit, what="the generated audio",
                                       kbps=run.options.bitrate)
    return replace(result, duration_in=duration_in, duration_out=samples.shape[0] / rate,
                   notes=result.notes + ((note,) if note else ()), cot=clip.cot, cot_raw=clip.cot_raw,
                   model_run=clip.run, clip_gain_db=clip_gain_db)


def edit_with_model(result: EditResult, fmt: str, subtype: str, options: EditOptions, *,
                    on_cot: CotCallback | None = None, on_progress: ProgressCallback | None = None) -> EditResult:
    """Run the plan's model operations over ``result.input`` window by window (module note)."""
    operations = result.plan.operations
    info = audio_in.probe(result.input)
    rate = info.sample_rate
    spans = window_spans(info)
    words = all(op.op in WORD_OPS for op in operations)
    if words and len(spans) > 1 and any(_by_index(op) for op in operations):
        raise UsageError(f"index positions refer to one utterance, and this recording is {info.duration:.0f} s "
                         f"({len(spans)} windows): name the words instead, e.g. \"delete the word 'um'\"")
    if options.transcript is not None and not words:
        raise UsageError("--transcript locates word edits (delete / insert / substitute); this edit changes every window")
    transcript = read_transcript(options.transcript, info.duration) if options.transcript is not None else None
    run = _Run(options, on_cot, on_progress)
    if options.whole_clip:
        if len(spans) > 1:
            raise UsageError(f"--whole-clip writes the model's output for one clip; this recording is "
                             f"{info.duration:.0f} s ({len(spans)} windows of at most {WINDOW_SECONDS:g} s)")
        if options.dry_run:
            return replace(result, dry_run=True, duration_in=info.duration)
        return _whole_clip(run, result, info, fmt, subtype, operations)
    dtype = audio_in.native_dtype(info.subtype)
    bit_exact = subtype == info.subtype and info.subtype in audio_in.NATIVE_DTYPES
    with audio_in.RangeReader(info, dtype=dtype) as reader:
        texts: list[str | None] = [None] * len(spans)
        searched = False
        if words and (transcript is not None or len(spans) > 1):
            searched = True
            if transcript is not None:
                texts = list(transcript_texts(transcript, spans, rate))
            elif options.dry_run:
                raise UsageError(f"--dry-run without --transcript cannot say which of the {len(spans)} windows hold "
                                 "the words (that needs the model); give --transcript FILE from `ming-edit transcribe -f json`")
            else:
                texts = list(_transcribe_windows(run, reader, spans, rate))
            chosen = select_windows(operations, texts, options.occurrence)
        else:
            chosen = list(range(len(spans)))
        reports = [WindowReport(s.start / rate, s.end / rate, texts[i], searched=searched) for i, s in enumerate(spans)]
        if options.dry_run:
            reports = [replace(r, planned=i in chosen) for i, r in enumerate(reports)]
            return replace(result, dry_run=True, duration_in=info.duration, windows=tuple(reports))
        edited: dict[int, np.ndarray] = {}
        for done, index in enumerate(chosen):
            if on_progress is not None:
                on_progress("editing windows with the model", done, len(chosen))
            span = spans[index]
            audio, report = _edit_window(run, reader.read(span.start, span.end), rate, operations,
                                         formats.is_bounded(subtype))
            reports[index] = replace(report, start=reports[index].start, end=reports[index].end,
                                     text=reports[index].text, searched=searched)
            if report.edited:
                edited[index] = audio if bit_exact else audio_in.to_float(audio)
        if on_progress is not None:
            on_progress("editing windows with the model", len(chosen), len(chosen))
        failed = [r for r in reports if r.failed]
        if failed and not edited:
            raise AudioError(failed[0].failed)
        frames = _write(result.output, reader, spans, edited, info, fmt, subtype, options, bit_exact)
    notes = list(result.notes)
    notes += [f"window {r.start:.1f}-{r.end:.1f} s left as it was: {r.failed}" for r in failed]
    notes += [f"window {r.start:.1f}-{r.end:.1f} s: the model changed all of it (global edit)"
              for r in reports if r.is_global and words]
    last = next((r for r in reversed(reports) if r.cot is not None), None)
    out = replace(result, duration_in=info.duration, duration_out=frames / rate, notes=tuple(notes),
                  windows=tuple(reports), cot=last.cot if last else None, cot_raw=last.cot_raw if last else None,
                  model_run=run.last.run if run.last is not None else None)
    if failed and not options.keep_going:
        raise WindowsFailedError(out, f"{len(failed)} of {len(chosen)} window(s) got no audio from the model and "
                                      f"were left as they were; {result.output} holds the rest (--keep-going: exit 0)")
    return out


class WindowsFailedError(MingEditError):
    """Some windows were left unedited; the output was written. Carries the result for reports."""

    def __init__(self, result: EditResult, message: str) -> None:
        super().__init__(message)
        self.result = result


def _write(path: Path, reader: audio_in.RangeReader, spans: Sequence[Span], edited: dict[int, np.ndarray],
           info: audio_in.AudioInfo, fmt: str, subtype: str, options: EditOptions, bit_exact: bool) -> int:
    """The input's blocks copied, edited windows in their place; returns the frames written."""
    with audio_writer(path, info.sample_rate, info.channels, fmt=fmt, subtype=subtype, kbps=options.bitrate) as out:
        for index, span in enumerate(spans):
            if index in edited:
                out.write(edited[index])
                continue
            for start in range(span.start, span.end, audio_in.BLOCK_FRAMES):
                block = reader.read(start, min(span.end, start + audio_in.BLOCK_FRAMES))
                out.write(block if bit_exact else audio_in.to_float(block))
        return out.frames


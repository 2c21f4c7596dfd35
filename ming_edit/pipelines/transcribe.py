"""Speech to text with the Ming-UniAudio model: files and folders, hotwords, forced language,
long recordings split at pauses and stitched with their timestamps.

The model is loaded once per process (session.get_stack) however many files one call handles.
Library only: cues, finished transcripts and skipped files are reported through callbacks, and
the CLI decides what to print.

Limits (one UsageError line, exit 2, before the model loads):
* hotword file (--context): at most MAX_HOTWORD_FILE_BYTES (1 MB) and MAX_HOTWORDS (10,000) distinct
  terms, parsed in one linear pass; the prompt must still fit the model's context, which the ASR
  loop checks;
* --lang: one line, no tab, at most MAX_LANG_CHARS (40) characters (the model's language tag);
* hotwords and --lang may not contain a control-token string of the checkpoint's tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ming_edit.errors import AudioError, UsageError
from ming_edit.io import files
from ming_edit.io.audio import probe
from ming_edit.io.writer import write_text
from ming_edit.model import session
from ming_edit.model.config import MODEL_SAMPLE_RATE
from ming_edit.options import Failure, ModelOptions, ProgressCallback, TranscribeOptions
from ming_edit.speech.subtitles import FORMATS, Cue, Transcript, render
from ming_edit.speech.text import split_sentences, text_units
from ming_edit.speech.vad import MAX_CHUNK_SECONDS, Span, is_silent, speech_extent, split_at_pauses

# Nobody speaks faster than ~12 tokens a second (Chinese ~1 token per character, English less);
# capping each chunk at that stops a degenerate repetition loop early.
TOKENS_PER_SECOND_CAP = 12
# The model answers "<language>\t<text>" unless the language was forced.
_LANGUAGE_TAG = re.compile(r"^\s*([^\t\n]{1,40})\t(.*)$", re.S)
MAX_LANG_CHARS = 40
MAX_HOTWORD_FILE_BYTES = 1_000_000
MAX_HOTWORDS = 10_000
_TERM_SEPARATORS = re.compile(r"[,，]")

CueCallback = Callable[[Cue], None]


def read_hotwords(path: Path) -> list[str]:
    """Terms from a hotword file: one per line, commas also separate; '#' lines are comments."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"hotword file {path} does not exist")
    size = path.stat().st_size
    if size > MAX_HOTWORD_FILE_BYTES:
        raise UsageError(f"hotword file {path} is {size:,} bytes; the limit is {MAX_HOTWORD_FILE_BYTES:,} "
                         f"(and {MAX_HOTWORDS:,} terms): keep the names and terms this recording may contain")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"hotword file {path} is not readable UTF-8 text ({err.__class__.__name__})") from None
    terms: dict[str, None] = {}  # ordered and de-duplicated in one pass
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for term in _TERM_SEPARATORS.split(line):
            term = " ".join(term.split())
            if term:
                terms.setdefault(term)
        if len(terms) > MAX_HOTWORDS:
            raise UsageError(f"hotword file {path} has more than {MAX_HOTWORDS:,} terms; "
                             "keep the names and terms this recording may contain")
    if not terms:
        raise UsageError(f"hotword file {path} is empty (one term per line, or comma-separated)")
    return list(terms)


def check_lang(lang: str | None) -> None:
    """--lang is a short one-line name: it becomes the model's "<language>\t" answer prefix."""
    if lang is None:
        return
    if not lang.strip():
        raise UsageError("--lang is empty")
    if len(lang) > MAX_LANG_CHARS or any(ch in lang for ch in "\t\r\n"):
        raise UsageError(f"--lang takes a language or dialect name of at most {MAX_LANG_CHARS} characters on "
                         "one line, e.g. English, Chinese, Canton")


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
    target = fraction * sum(s.length for s in spans)
    for span in spans:
        if target <= span.length:
            return (span.start + target) / sample_rate
        target -= span.length
    return spans[-1].end / sample_rate


def chunk_cues(chunk: Cue, speech: list[Span], sample_rate: int) -> list[Cue]:
    """Subtitle-sized cues for one chunk: its sentences, timed in proportion to their length over
    the chunk's detected speech (the model gives no finer alignment)."""
    sentences = split_sentences(chunk.text, max_units=16, min_units=2) or [chunk.text]
    weights = [max(1, text_units(s)) for s in sentences]
    total, done = float(sum(weights)), 0.0
    cues = []
    for sentence, weight in zip(sentences, weights):
        start = _time_at(speech, done / total, sample_rate)
        done += weight
        cues.append(Cue(start, _time_at(speech, done / total, sample_rate), sentence))
    return cues


class Transcriber:
    """A loaded model plus its noise source; transcribes file after file."""

    def __init__(self, stack: Any, noise: Any) -> None:
        self.stack = stack
        self.tokenizer = stack.text_tokenizer
        self.noise = noise

    @classmethod
    def open(cls, model: ModelOptions, noise: Any = None) -> "Transcriber":
        stack = session.open_stack(model, "asr")
        return cls(stack, noise if noise is not None else session.make_noise(model.seed))

    def transcribe_array(
        self,
        mono16k: np.ndarray,
        *,
        source: str = "<audio>",
        options: TranscribeOptions = TranscribeOptions(),
        max_chunk_seconds: float = MAX_CHUNK_SECONDS,
        on_cue: CueCallback | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono audio; ``on_cue`` sees each cue as soon as its chunk is done."""
        from ming_edit.model.asr import transcribe_ids
        from ming_edit.model.prompts import asr_prompt

        rate, lang = MODEL_SAMPLE_RATE, options.lang
        spans = split_at_pauses(mono16k, rate, max_chunk_seconds)
        # A lone chunk reaches the model unchanged; among several, skip digital silence.
        todo = [s for s in spans if len(spans) == 1 or not is_silent(mono16k[s.start : s.end], rate, -60.0)]
        task = f"transcribing {Path(source).name}"
        language, chunks, cues = lang, [], []
        batch = max(1, options.batch_size)
        for first in range(0, len(todo), batch):
            if on_progress is not None:
                on_progress(task, first, len(todo))
            group = todo[first : first + batch]
            waves = [session.waveform_tensor(mono16k[s.start : s.end], self.stack.device) for s in group]
            prompts = [asr_prompt(self.tokenizer, s.length, language=lang, hotwords=options.hotwords) for s in group]
            cap = max(token_cap(s.length / rate) for s in group)
            with session.oom_guard():
                out = transcribe_ids(self.stack, waves, prompts, max_new_tokens=min(options.max_new_tokens, cap),
                                     eos_ids=[self.tokenizer.eos_id], noise=self.noise)
            for span, ids in zip(group, out.token_ids):
                raw = self.tokenizer.decode(ids, skip_special_tokens=True)
                tag, text = split_language(raw) if lang is None else (lang, raw.strip())
                chunk = Cue(span.start / rate, span.end / rate, text, tuple(ids))
                chunks.append(chunk)
                language = language or tag
                if not text:
                    continue
                for cue in chunk_cues(chunk, speech_extent(mono16k, rate, span), rate):
                    cues.append(cue)
                    if on_cue is not None:
                        on_cue(cue)
        if on_progress is not None:
            on_progress(task, len(todo), len(todo))
        return Transcript(source, len(mono16k) / rate, language, tuple(cues), tuple(chunks))

    def transcribe_file(self, path: Path, *, options: TranscribeOptions = TranscribeOptions(),
                        on_cue: CueCallback | None = None, on_progress: ProgressCallback | None = None) -> Transcript:
        mono16k, _, _, _ = session.load_for_model(Path(path))
        return self.transcribe_array(mono16k, source=str(path), options=options, on_cue=on_cue, on_progress=on_progress)


@dataclass(frozen=True)
class TranscribeReport:
    transcripts: tuple[Transcript, ...]
    failures: tuple[Failure, ...]
    written: tuple[Path, ...]  # transcript files written (with an output)


def output_format(fmt: str | None, output: Path | None) -> str:
    """The --format asked for, else the output's extension when it names one, else txt."""
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = suffix if suffix in FORMATS else "txt"
    if fmt.lower() not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use {', '.join(FORMATS)}")
    return fmt.lower()


def transcribe_inputs(
    inputs: Sequence[Path],
    output: Path | None,
    options: TranscribeOptions,
    model: ModelOptions = ModelOptions(),
    *,
    noise: Any = None,
    on_file: Callable[[Path], None] | None = None,
    on_cue: CueCallback | None = None,
    on_transcript: Callable[[Transcript], None] | None = None,
    on_skip: Callable[[Path, str, str], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> TranscribeReport:
    """The `transcribe` task: every check happens before the model loads; with ``output`` each
    transcript file is written atomically once complete. Several inputs: a bad file is reported
    (``on_skip(path, error, stage)``, stage "skipping" before the model loads, "failed" after) and
    skipped, the rest are transcribed; the report names every failure."""
    check_lang(options.lang)
    found = files.expand_inputs(inputs)
    several = len(found) > 1 or any(Path(i).is_dir() for i in inputs)
    failures: list[Failure] = []
    if not several:
        probe(found[0][0])
    else:  # a batch keeps going past a bad file, like `edit` on a folder, and names it at the end
        readable = []
        for path, rel in found:
            try:
                probe(path)
                readable.append((path, rel))
            except AudioError as err:
                failures.append(Failure(path, str(err)))
                if on_skip is not None:
                    on_skip(path, str(err), "skipping")
        if not readable:
            raise AudioError(f"none of the {len(found)} inputs could be read (first: {failures[0].error})")
        found = readable

    targets: dict[str, Path] = {}
    if output is not None:
        if several or output.is_dir():
            if output.exists() and not output.is_dir():
                raise UsageError(f"-o {output}: several inputs need an output folder, and this is a file")
            targets = {str(p): output / rel.with_suffix(f".{options.fmt}") for p, rel in found}
        else:
            targets = {str(found[0][0]): output}
        files.check_text_targets(targets)
    elif several and options.fmt in ("srt", "vtt"):
        raise UsageError(f"{options.fmt} for several files needs -o FOLDER (one subtitle file per input)")

    if options.hotwords or options.lang:  # the checkpoint's own control tokens, before the weights load
        from ming_edit.model.hub import text_tokenizer_for
        from ming_edit.model.text_tokenizer import check_asr_text

        check_asr_text(text_tokenizer_for(model.model, "asr"), options.lang, options.hotwords)
    transcriber = Transcriber.open(model, noise)
    results: list[Transcript] = []
    written: list[Path] = []
    for path, _ in found:
        if on_file is not None:
            on_file(path)
        try:
            transcript = transcriber.transcribe_file(path, options=options, on_cue=on_cue, on_progress=on_progress)
        except AudioError as err:  # this file's audio; model and usage errors still end the run
            if not several:
                raise
            failures.append(Failure(path, str(err)))
            if on_skip is not None:
                on_skip(path, str(err), "failed")
            continue
        results.append(transcript)
        target = targets.get(transcript.source)
        if target is not None:
            files.make_folders(target.parent)
            write_text(target, render([transcript], options.fmt, options.with_tokens))
            written.append(target)
        if on_transcript is not None:
            on_transcript(transcript)
    return TranscribeReport(tuple(results), tuple(failures), tuple(written))

"""Transcripts (timed cues) and their renderings: plain text, JSON, SubRip (srt) and WebVTT (vtt)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ming_edit.speech.text import is_cjk_text

FORMATS = ("txt", "json", "srt", "vtt")


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the start of the file
    end: float
    text: str
    tokens: tuple[int, ...] | None = None  # generated token ids (only reported when asked for)


@dataclass(frozen=True)
class Transcript:
    source: str
    duration: float
    language: str | None
    segments: tuple[Cue, ...] = ()  # subtitle cues
    chunks: tuple[Cue, ...] = ()  # one per model call, with its token ids

    @property
    def text(self) -> str:
        return join_texts([s.text for s in self.segments])


def join_texts(texts: list[str]) -> str:
    """Join segment texts: no space between CJK pieces, one space otherwise."""
    out = ""
    for text in (t.strip() for t in texts):
        if not text:
            continue
        if out and not (is_cjk_text(out[-1:]) and is_cjk_text(text[:1])):
            out += " "
        out += text
    return out


def _clock(seconds: float, decimal: str) -> str:
    millis = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def cue_segments(transcript: Transcript) -> list[Cue]:
    """Segments with text, for cue formats (empty chunks, e.g. pure silence, get no cue)."""
    return [s for s in transcript.segments if s.text.strip()]


def render_txt(transcript: Transcript) -> str:
    """One line per cue, as `transcribe` streams them."""
    return "".join(seg.text.strip() + "\n" for seg in cue_segments(transcript))


def render_srt(transcript: Transcript) -> str:
    blocks = []
    for index, seg in enumerate(cue_segments(transcript), start=1):
        blocks.append(f"{index}\n{_clock(seg.start, ',')} --> {_clock(seg.end, ',')}\n{seg.text.strip()}\n")
    return "\n".join(blocks)


def render_vtt(transcript: Transcript) -> str:
    lines = ["WEBVTT", ""]
    for seg in cue_segments(transcript):
        lines += [f"{_clock(seg.start, '.')} --> {_clock(seg.end, '.')}", seg.text.strip(), ""]
    return "\n".join(lines)


def transcript_json(transcript: Transcript, with_tokens: bool = False) -> dict[str, Any]:
    segments = []
    for seg in transcript.segments:
        segments.append({"start": round(seg.start, 3), "end": round(seg.end, 3), "text": seg.text})
    result: dict[str, Any] = {
        "file": transcript.source,
        "duration": round(transcript.duration, 3),
        "language": transcript.language,
        "text": transcript.text,
        "segments": segments,
    }
    if with_tokens:
        result["chunks"] = [
            {"start": round(c.start, 3), "end": round(c.end, 3), "text": c.text, "tokens": list(c.tokens or [])}
            for c in transcript.chunks
        ]
    return result


def render(transcripts: list[Transcript], fmt: str, with_tokens: bool = False) -> str:
    """All transcripts of one call in ``fmt``; several files become a JSON list / titled blocks."""
    if fmt == "json":
        items = [transcript_json(t, with_tokens) for t in transcripts]
        return json.dumps(items[0] if len(items) == 1 else items, ensure_ascii=False, indent=2) + "\n"
    if fmt == "txt":
        return "".join(render_txt(t) for t in transcripts)
    renderer = render_srt if fmt == "srt" else render_vtt
    return "".join(renderer(t) for t in transcripts)

"""Finding the words an edit names in a transcript: `transcribe -f json` files read back, and
matching that ignores case, punctuation and character width, in English and in Chinese."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from ming_edit.errors import UsageError
from ming_edit.speech.subtitles import Cue, Transcript
from ming_edit.speech.text import is_cjk_text

MAX_TRANSCRIPT_BYTES = 64 * 1024 * 1024
MAX_SEGMENTS = 200_000


def normalize_text(text: str) -> str:
    """NFKC (full-width -> ASCII), case-folded, punctuation and symbols as spaces, one space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in folded)
    return " ".join(kept.split())


def _pattern(target: str) -> re.Pattern[str] | None:
    words = normalize_text(target)
    if not words:
        return None
    if any(is_cjk_text(c) for c in words):  # no spaces in Chinese: match characters, spaces ignored
        chars = [re.escape(c) for c in words.replace(" ", "")]
        return re.compile(r"\s?".join(chars))
    return re.compile(r"(?<!\w)" + r"\s".join(re.escape(w) for w in words.split()) + r"(?!\w)")


def count_occurrences(target: str, text: str) -> int:
    """How often ``target`` occurs in ``text`` as whole words (any case, width, punctuation)."""
    pattern = _pattern(target)
    return 0 if pattern is None else len(pattern.findall(normalize_text(text)))


def read_transcript(path: Path, duration: float) -> Transcript:
    """A `ming-edit transcribe -f json` file, checked against a recording of ``duration`` s:
    segments inside it, in order, not overlapping. Any problem is one line naming it."""
    where = f"transcript {path}"
    try:
        if path.stat().st_size > MAX_TRANSCRIPT_BYTES:
            raise UsageError(f"{where} is larger than {MAX_TRANSCRIPT_BYTES >> 20} MB")
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{where} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
        raise UsageError(f"{where} is not readable JSON ({reason})") from None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, list):
        raise UsageError(f"{where} is not the JSON `ming-edit transcribe -f json` writes (no \"segments\" list)")
    if len(segments) > MAX_SEGMENTS:
        raise UsageError(f"{where} has more than {MAX_SEGMENTS} segments")
    cues: list[Cue] = []
    for index, seg in enumerate(segments, 1):
        fields = (seg.get("start"), seg.get("end"), seg.get("text")) if isinstance(seg, dict) else (None,) * 3
        start, end, text = fields
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end))
        if not numbers or not isinstance(text, str):
            raise UsageError(f"{where}: segment {index} needs numeric \"start\", \"end\" and a \"text\" string")
        if not 0.0 <= start <= end:
            raise UsageError(f"{where}: segment {index} runs from {start} s to {end} s")
        if end > duration + 0.05:
            raise UsageError(f"{where}: segment {index} ends at {end:.2f} s, after the recording ({duration:.2f} s)")
        if cues and start < cues[-1].end - 0.01:
            raise UsageError(f"{where}: segment {index} starts at {start:.2f} s, before segment {index - 1} "
                             f"ends ({cues[-1].end:.2f} s); segments must be in order and not overlap")
        cues.append(Cue(float(start), min(float(end), duration), text))
    language = data.get("language") if isinstance(data.get("language"), str) else None
    return Transcript(str(path), duration, language, tuple(cues))

"""Text for the model: sentence splitting of long text, CJK detection, what can be spoken."""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|(?<=[。！？；])")
_CLAUSE_END = re.compile(r"(?<=[,:，、：])\s*")


def is_cjk_text(text: str) -> bool:
    """Mostly CJK characters (decides the model's "zh" vs "en" length budget)."""
    cjk = len(_CJK.findall(text))
    words = len(re.findall(r"[A-Za-z]+", text))
    return cjk > words


def text_units(text: str) -> int:
    """Length in the unit the TTS budget uses: characters for CJK text, words otherwise."""
    return len(re.sub(r"\s+", "", text)) if is_cjk_text(text) else len(text.split())


def has_speakable_content(text: str) -> bool:
    """At least one letter or digit (emoji, symbols and punctuation alone cannot be spoken)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def split_sentences(text: str, max_units: int = 40, min_units: int = 3) -> list[str]:
    """Sentences for sentence-by-sentence synthesis (English and CJK punctuation).

    Pieces shorter than ``min_units`` join their neighbour (the model needs a few words to settle
    into a voice), pieces longer than ``max_units`` are split at commas, then by words.
    """
    text = " ".join(text.split())
    if not text:
        return []
    pieces = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    bounded: list[str] = []
    for piece in pieces:
        bounded.extend(_split_long(piece, max_units))
    merged: list[str] = []
    for piece in bounded:
        if merged and (text_units(merged[-1]) < min_units or text_units(piece) < min_units) and (
            text_units(merged[-1]) + text_units(piece) <= max_units
        ):
            merged[-1] = _join(merged[-1], piece)
        else:
            merged.append(piece)
    return merged


def _join(a: str, b: str) -> str:
    return a + b if is_cjk_text(a + b) else f"{a} {b}"


def _split_long(piece: str, max_units: int) -> list[str]:
    if text_units(piece) <= max_units:
        return [piece]
    out: list[str] = []
    for clause in (c.strip() for c in _CLAUSE_END.split(piece) if c.strip()):
        if out and text_units(out[-1]) + text_units(clause) <= max_units:
            out[-1] = _join(out[-1], clause)
        elif text_units(clause) <= max_units:
            out.append(clause)
        else:  # a single clause too long: hard split by words (or characters for CJK)
            units = list(re.sub(r"\s+", "", clause)) if is_cjk_text(clause) else clause.split()
            glue = "" if is_cjk_text(clause) else " "
            out.extend(glue.join(units[i : i + max_units]) for i in range(0, len(units), max_units))
    return out


# Ming-UniAudio speaks Mandarin (and dialects) and English: letters of other scripts are refused
# rather than turned into gibberish. Latin covers accented names ("café"); CJK covers Han characters.
_SPOKEN_SCRIPTS = ("LATIN", "FULLWIDTH LATIN", "CJK", "IDEOGRAPHIC")


def unsupported_letters(text: str) -> list[str]:
    """Letters (Unicode category L*) outside the scripts the model speaks, in order of appearance."""
    bad: list[str] = []
    for ch in text:
        if unicodedata.category(ch).startswith("L") and ch not in bad:
            if not unicodedata.name(ch, "").startswith(_SPOKEN_SCRIPTS):
                bad.append(ch)
    return bad

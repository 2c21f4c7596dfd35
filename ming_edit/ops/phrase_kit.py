"""The pieces phrase rows are built from: the Phrase row itself, regex building blocks and the
argument extractors (groups of a match -> operation arguments). The rows live in phrases_dsp.py,
phrases_model.py and acoustic.py; phrases.py joins them into the one table.

An extractor raises UsageError to refuse a request outright (a positive LUFS target, a pitch in
Hz), or ValueError/KeyError to let the parser try the next row.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from dataclasses import dataclass
from typing import Any, Callable

from ming_edit.errors import UsageError

Groups = dict[str, str]
Extract = Callable[[Groups], dict[str, Any]]

# Defaults for requests that name a direction but no amount ("louder", "slow down").
STEP_DB = 3.0  # "louder" / "quieter" / "放大": +-3 dB, clearly audible yet far from clipping
SPEED_STEP = 0.1  # "speed up" / "slow down": x1.1 / x0.9


@dataclass(frozen=True)
class Phrase:
    op: str
    pattern: str
    extract: Extract

    def compiled(self) -> re.Pattern[str]:
        """Compiled on first use (a clause usually matches early rows: start-up stays short)."""
        return _compile(self.pattern)


@lru_cache(maxsize=None)
def _compile(pattern: str) -> re.Pattern[str]:
    """A group name repeated across alternatives ("A NUM|NUM B") gets a __k suffix that
    ``groups_of`` folds back, since Python's re refuses duplicate names."""
    seen: dict[str, int] = {}

    def rename(m: re.Match[str]) -> str:
        name = m.group(1)
        seen[name] = seen.get(name, -1) + 1
        return f"(?P<{name}__{seen[name]}>" if seen[name] else m.group(0)

    return re.compile(re.sub(r"\(\?P<(\w+)>", rename, pattern), re.IGNORECASE)


def groups_of(m: re.Match[str]) -> Groups:
    """Matched groups by their base name (undoing the __k suffixes of ``Phrase.compiled``)."""
    out: Groups = {}
    for name, value in m.groupdict().items():
        if value is not None:
            out.setdefault(name.split("__")[0], value)
    return out


# ---- regex building blocks -------------------------------------------------------------------
NUM = r"(?P<n>[-+]?\d+(?:\.\d+)?)"
NUM2 = r"(?P<m>[-+]?\d+(?:\.\d+)?)"
PCT = NUM + r"\s*(?:%|percent|per ?cent)"
NUMP = NUM + r"\s*(?P<pct>%|percent|per ?cent)?\s*(?:x|×|times|倍)?"  # 0.5, 50%, 1.5x, 1.5倍
DB = NUM + r"\s*(?:db|decibels?|分贝)"
TEXT = r"(?P<text>⟦\d+⟧|[^\s⟦].*?)"
TEXT2 = r"(?P<text2>⟦\d+⟧|[^\s⟦].*?)"
END = r"\s*$"
# Pitch units, captured so cents/octaves scale and Hz/dB/% are refused instead of read as semitones.
_PITCH_WORDS = (r"semi-?tones?|half[- ]?(?:steps?|tones?)|whole[- ]?(?:steps?|tones?)|steps?|st\b|cents?\b|ct\b"
                r"|octaves?|k?hz\b|k?hertz|半音阶|半音|音分|全音|音|八度|赫兹")
PITCH_UNIT = r"(?P<unit>" + _PITCH_WORDS + r"|db\b|decibels?|%|percent|分贝)"  # rows that name the pitch
PITCH_ONLY = r"(?P<unit>" + _PITCH_WORDS + ")"  # rows that do not: "raise the audio by 6 dB" is volume
UNIT = r"\s*" + PITCH_UNIT  # a unit is required
ST = r"(?:\s*" + PITCH_UNIT + ")?"  # optional unit after a pitch amount (default: semitones)
SPEED = r"(?:playback |speaking |speech )?(?:speed|tempo|pace|rate)"
VOL = r"(?:volume|gain|level|loudness)"
THE = r"(?:(?:the|its|this|it) )?(?:audio |recording |sound |clip |voice |track )?"
EN_FILLER_TAIL = r"(?:\s+(?:from|in|of) (?:the |this )?(?:audio|recording|clip|speech|file|sentence))?"
# A true-peak ceiling after a loudness target: "true peak -2", "-2 dBTP", "真峰值-2dB".
TP_TAIL = (
    r"(?:.*?(?:(?:true[- ]?peak|\bpeak|\btp\b|真峰值|峰值)[^\d+-]*" + NUM2
    + r"|" + NUM2 + r"\s*(?:db\s*tp|db true[- ]?peak)))?"
)


# ---- argument extractors ---------------------------------------------------------------------
def num(g: Groups, key: str = "n") -> float:
    return float(g[key])


def ratio(g: Groups) -> dict[str, Any]:
    """'0.7' -> 0.7, '80%' -> 0.8, '1.5x' -> 1.5."""
    return {"factor": num(g) / 100.0 if g.get("pct") else num(g)}


def more_pct(g: Groups) -> dict[str, Any]:
    return {"factor": 1.0 + abs(num(g)) / 100.0}


def less_pct(g: Groups) -> dict[str, Any]:
    return {"factor": 1.0 - abs(num(g)) / 100.0}


def times(g: Groups) -> dict[str, Any]:
    return {"factor": abs(num(g))}


def inverse_times(g: Groups) -> dict[str, Any]:
    return {"factor": 1.0 / abs(num(g))}


def db_up(g: Groups) -> dict[str, Any]:
    return {"factor": 10.0 ** (abs(num(g)) / 20.0)}


def db_down(g: Groups) -> dict[str, Any]:
    return {"factor": 10.0 ** (-abs(num(g)) / 20.0)}


def db_signed(g: Groups) -> dict[str, Any]:
    return {"factor": 10.0 ** (num(g) / 20.0)}


def const(**args: Any) -> Extract:
    return lambda g: dict(args)


def refuse(message: str) -> Extract:
    """A row that recognises a request only to refuse it with ``message`` (one line)."""

    def build(g: Groups) -> dict[str, Any]:
        raise UsageError(message.format(**g))

    return build


HZ_HINT = ("a pitch change in Hz is ambiguous (the same Hz is a different interval for every voice); "
           'give it in semitones or cents, e.g. "raise the pitch by 2 semitones" or "lower the pitch 50 cents"')


def pitch_scale(unit: str | None) -> float:
    """Semitones per unit; Hz, dB and % are refused rather than read as semitones."""
    u = (unit or "").lower()
    if u.startswith(("cent", "ct")) or u == "音分":
        return 0.01
    if u.startswith("octave") or u == "八度":
        return 12.0
    if u.startswith("whole") or u == "全音":
        return 2.0
    if "hz" in u or "hertz" in u or u == "赫兹":
        raise UsageError(HZ_HINT)
    if u in ("db", "decibel", "decibels", "分贝", "%", "percent"):
        raise UsageError(f'a pitch change in "{unit}" is not understood; give it in semitones or cents, '
                         'e.g. "raise the pitch by 2 semitones" (for loudness say "turn it up 3 dB")')
    return 1.0


def semis(sign: int = 0, scale: float = 1.0) -> Extract:
    """sign 0 keeps the number's own sign; +1/-1 force the direction (raise/lower)."""

    def build(g: Groups) -> dict[str, Any]:
        value = num(g) if g.get("n") else 1.0  # "an octave", "a semitone"
        value = value if sign == 0 else sign * abs(value)
        return {"semitones": value * scale * pitch_scale(g.get("unit"))}

    return build


def semis_dir(g: Groups) -> dict[str, Any]:
    """'shift the pitch up/down by N': the direction word, if any, wins over the number's sign."""
    value = num(g)
    direction = (g.get("dir") or "").lower()
    if direction in ("up", "higher"):
        value = abs(value)
    elif direction in ("down", "lower"):
        value = -abs(value)
    return {"semitones": value * pitch_scale(g.get("unit"))}


def below_full_scale(g: Groups, key: str, unit: str) -> float:
    """A loudness or peak level as written. Levels are at or below full scale, so a positive one
    ("14 LUFS", "+14", "loudness 14") is refused with the likely meaning instead of flipped."""
    value = num(g, key)
    if value > 0:
        raise UsageError(f"{g[key].lstrip('+')} {unit} is above digital full scale; did you mean -{value:g} {unit}?")
    return value


def check_finite(args: dict[str, Any]) -> dict[str, Any]:
    for value in args.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
    return args


def text(*names: str) -> Extract:
    """Copy groups to args: text('text:old', 'text2:new') renames group text->old, text2->new."""

    def build(g: Groups) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in names:
            group, _, arg = spec.partition(":")
            out[arg or group] = g[group]
        return out

    return build

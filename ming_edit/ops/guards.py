"""Checks that keep the parser from silently misreading: every number is used, and a negated
clause ("don't normalize", "without denoising", "不要标准化") removes a step instead of adding it.

Both work on the prepared clause text of parser.py (quotes masked as ⟦0⟧, numbers as digits).
"""

from __future__ import annotations

import re

from ming_edit.errors import UsageError

# A number a user typed: not a quote placeholder (⟦0⟧) nor part of a name (r128, mp3, A/85); "x2" counts.
_NUMBER = re.compile(r"(?<![A-WYZa-wyz\d./⟦])[-+]?\d+(?:\.\d+)?")
_EN_NEGATION = r"(?:do not|don'?t|don’t|dont|never|no need to|no|not|without|skip(?:ping)?|avoid(?:ing)?|instead of|rather than)"
# a clause that opens with a negation: "don't normalize", "I don't want ...", "不要标准化"
_NEGATED_LEAD = re.compile(
    r"^(?:(?:i|we|you) )?" + _EN_NEGATION + r"\b(?!\s*(?:more|higher|louder|above|over|exceeding)\b)"  # "no more than": a ceiling
    r"\s*(?:(?:want|need) (?:to |it )?|to )?"
    r"|^(?:不要|不用|不需要|无需|不必|别|勿|不想|而不是|而不|不)(?:要|做|进行|再)?",
    re.IGNORECASE,
)
# a negation word anywhere before the matched phrase: "make sure it's not normalized"
_NEGATION_BEFORE = re.compile(r"\b" + _EN_NEGATION + r"\b|不要|不用|不需要|无需|不必|不$", re.IGNORECASE)


def unused_number(clause: str, match: re.Match[str]) -> str | None:
    """The first number in ``clause`` outside every group of ``match``, or None."""
    spans = [match.span(i) for i in range(1, (match.re.groups or 0) + 1) if match.span(i) != (-1, -1)]
    for number in _NUMBER.finditer(clause):
        if not any(start < number.end() and number.start() < end for start, end in spans):
            return number.group()
    return None


def has_number(clause: str) -> bool:
    return _NUMBER.search(clause) is not None


def check_numbers_used(clause: str, match: re.Match[str], shown: str, understood: str) -> None:
    """Refuse a clause with a number no step uses ("normalize to -16 LUFS -2 dB": what is -2?)."""
    number = unused_number(clause, match)
    if number is not None:
        raise UsageError(
            f'cannot tell what "{number}" is for in "{shown}" (understood: {understood}); '
            'name its unit, e.g. "-2 dBTP", "3 dB", "2 semitones", "50 cents", "80%"'
        )


def strip_negation(clause: str) -> str | None:
    """The clause without its leading negation, or None when it is not negated."""
    m = _NEGATED_LEAD.match(clause)
    return clause[m.end():].strip() if m else None


def negated_before(clause: str, start: int) -> bool:
    """Whether a negation word precedes the matched phrase starting at ``start``."""
    return start > 0 and _NEGATION_BEFORE.search(clause[:start].rstrip()) is not None


def check_negations(text: str, kept: list[str], excluded: list[tuple[str, str]], negated: int) -> None:
    """``kept``: the ops of the plan; ``excluded``: (op, clause) the user said not to do; ``negated``:
    how many clauses were negated. A step both asked for and refused, or a plan of nothing but
    negations ("don't denoise"), is refused."""
    for op, clause in excluded:
        if op in kept:
            raise UsageError(f'"{clause}" contradicts another step of "{text}" that asks for {op}; say it once')
    if negated and not kept:
        what = ", ".join(dict.fromkeys(op for op, _ in excluded))
        raise UsageError(f'"{text}" only says what not to do{f" ({what})" if what else ""}; say what to do, e.g. "denoise"')

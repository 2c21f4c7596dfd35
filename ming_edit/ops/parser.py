"""Instruction text -> Plan: the list of operations an edit instruction asks for.

The parser is data-driven: it splits an instruction into clauses ("denoise and normalize to -16 LUFS",
"先降噪再把音量调到0.8"), normalises numbers, and matches each clause against the phrase table
in phrases.py. Clause order is operation order. guards.py keeps it honest: a number no step uses
is refused, and a negated clause ("don't normalize", "without denoising") removes its step.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ming_edit.errors import UsageError
from ming_edit.ops import guards
from ming_edit.ops.operation import Operation, Plan, expand_master
from ming_edit.ops.phrases import EXAMPLES, TABLE, check_finite, groups_of

# ---- text preparation ------------------------------------------------------------------------
_QUOTED = re.compile(
    r"(?<![A-Za-z0-9])'([^']+)'(?![A-Za-z0-9])|\"([^\"]+)\"|‘([^’]+)’|“([^”]+)”|「([^」]+)」|『([^』]+)』"
)
_PLACEHOLDER = re.compile(r"⟦(\d+)⟧")
_PROMPT_NOISE = re.compile(
    r"</?prompt>|please recognize the language of this speech and transcribe it\.?|format: ?oral\.?",
    re.IGNORECASE,
)

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_EN_NUMBER = re.compile(
    r"\b(?:(?P<tens>" + "|".join(_TENS) + r")(?:[- ](?P<unit>" + "|".join(_ONES[1:10]) + r"))?"
    r"|(?P<small>" + "|".join(_ONES) + r"))(?P<half> and a half)?\b",
    re.IGNORECASE,
)
_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUMBER = re.compile(
    r"(?P<neg>负)?(?P<int>[零〇一二两三四五六七八九十百]+)(?:点(?P<frac>[零〇一二三四五六七八九]+))?"
)
_ZH_PERCENT = re.compile(r"百分之(?P<n>[零〇一二两三四五六七八九十百点]+|\d+(?:\.\d+)?)")
# Words that contain numeral characters but are not numbers (四川 is a province, 八度 an octave).
_ZH_NOT_NUMBERS = ("四川", "八度", "一半", "一倍", "一下", "一些", "一点儿", "一起", "一样", "一直", "万一", "统一", "十分", "第一")
# A lone 一 is usually "a"/"one" in prose (一下, 一点, 一些); only read it as 1 before a unit.
_LONE_ONE_UNITS = ("个", "倍", "半音", "八度", "分贝", "db", "%")

# "and" joins two steps, except inside one: "at the start and the end", "fade in and (fade) out"
_AND = (r"\band\b(?!\s+(?:at\s+)?(?:the\s+)?(?:end|ending|beginning|start)\b)(?!\s+out\b)"
        r"(?!(?<=fade in and)\s+fade[- ]?out\b)(?!(?<=fade-in and)\s+fade[- ]?out\b)")
_SPLIT = re.compile(
    r"\s*(?:[,;，；。、！!？?]|\.(?:\s+|$)|\band then\b|\bthen\b|\band also\b|" + _AND + r"|\bafter that\b"
    r"|\bafterwards\b|\bfollowed by\b|\bplus\b|\bbut\b|&|然后|接着|之后再|再|并且|并|和(?!结尾|末尾|淡出)|同时|但是|但"
    # a negation starts a clause of its own: "denoise without normalizing", "降噪不要标准化"
    r"|(?=\b(?:without|instead of|rather than)\b)|(?=而不是|而不|不要|不用|不需要|无需|不必))\s*",
    re.IGNORECASE,
)
# "between 5 and 10 seconds": "and" would split it into two steps
_BETWEEN = re.compile(r"\bbetween\s+(\d[\d:.]*(?:\s*[a-z]+)?)\s+and\s+(?=\d)", re.IGNORECASE)
_LEAD = re.compile(
    r"^(?:(?:and|then|also|first(?:ly)?|finally|next|please|pls|kindly|now|just|"
    r"can you|could you|would you|i want to|i'd like to|i would like to|let's|let us)\b[\s,]*"
    r"|请|帮我|麻烦|首先|先|然后|最后|接着|我想|我要|我们|我|只要|只|仅|就)+",
    re.IGNORECASE,
)
_TAIL = re.compile(r"(?:[\s,]*(?:please|thanks|thank you|for me)\b|吧|一下|谢谢|[.!?。！？\s])+$", re.IGNORECASE)


def _zh_int(text: str) -> int:
    if not any(c in text for c in "十百"):
        return int("".join(str(_ZH_DIGIT[c]) for c in text))  # digit by digit: 一二 -> 12
    total, current = 0, 0
    for c in text:
        if c in _ZH_DIGIT:
            current = _ZH_DIGIT[c]
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        elif c == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


def _zh_number(m: re.Match[str]) -> str:
    whole = m.group(0)
    if whole == "一" and not m.string[m.end():].lower().startswith(_LONE_ONE_UNITS):
        return whole
    try:
        value = str(_zh_int(m["int"]))
    except (KeyError, ValueError):
        return whole
    if m["frac"]:
        value += "." + "".join(str(_ZH_DIGIT[c]) for c in m["frac"])
    return ("-" if m["neg"] else "") + value


def _en_number(m: re.Match[str]) -> str:
    if m["small"]:
        value = float(_ONES.index(m["small"].lower()))
    else:
        value = float(20 + 10 * _TENS.index(m["tens"].lower()))
        if m["unit"]:
            value += _ONES.index(m["unit"].lower())
    if m["half"]:
        value += 0.5
    return f"{value:g}"


def normalise_numbers(text: str) -> str:
    """'two' -> '2', 'one and a half' -> '1.5', '两个' -> '2个', '零点八' -> '0.8', '百分之二十' -> '20%'."""
    text = _ZH_PERCENT.sub(lambda m: normalise_numbers(m["n"]) + "%", text)
    kept = [w for w in _ZH_NOT_NUMBERS if w in text]
    for i, word in enumerate(kept):
        text = text.replace(word, f"⟪{i}⟫")
    text = _ZH_NUMBER.sub(_zh_number, text)
    for i, word in enumerate(kept):
        text = text.replace(f"⟪{i}⟫", word)
    text = re.sub(r"(?<=\d)\s*[−–]|[−–](?=\d)", "-", text)  # unicode minus signs
    return _EN_NUMBER.sub(_en_number, text)


def _mask_quotes(text: str) -> tuple[str, list[str]]:
    quoted: list[str] = []

    def keep(m: re.Match[str]) -> str:
        quoted.append(next(g for g in m.groups() if g is not None))
        return f"⟦{len(quoted) - 1}⟧"

    return _QUOTED.sub(keep, text), quoted


def _unmask(text: str, quoted: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: quoted[int(m.group(1))], text)


def split_clauses(masked: str) -> list[str]:
    clauses = []
    for part in _SPLIT.split(masked):
        part = _TAIL.sub("", _LEAD.sub("", part.strip())).strip()
        if part:
            clauses.append(part)
    return clauses


# ---- matching --------------------------------------------------------------------------------
def _table() -> Iterator[tuple[str, re.Pattern[str], Any]]:
    return ((p.op, p.compiled(), p.extract) for p in TABLE)


def match_clause(clause: str, quoted: list[str]) -> Operation | None:
    """The first phrase-table row found in ``clause`` (masked text), as an Operation."""
    found = _match(clause, quoted)
    return found[0] if found else None


def _match(clause: str, quoted: list[str]) -> tuple[Operation, re.Match[str]] | None:
    for op, regex, extract in _table():
        m = regex.search(clause)
        if m is None:
            continue
        groups = {k: _unmask(v.strip(" \t.,;:!?"), quoted) for k, v in groups_of(m).items()}
        try:
            args = check_finite(extract(groups))
        except (ValueError, ZeroDivisionError, KeyError):
            continue
        return Operation(op, args), m
    return None


def _check_no_hidden_step(clause: str, span: tuple[int, int], op: Operation, quoted: list[str]) -> None:
    """One clause gives one step. When the text around the matched phrase names another kind of
    step ("降噪后标准化响度": denoise, then normalise), refuse instead of silently dropping it."""
    for before, rest in ((True, clause[: span[0]]), (False, clause[span[1]:])):
        if not re.search(r"\w", rest):
            continue
        other = match_clause(rest.strip(), quoted)
        if other is not None and other.op not in (op.op, "_true_peak"):
            first, second = (other.op, op.op) if before else (op.op, other.op)
            raise UsageError(
                f'"{_unmask(clause, quoted)}" holds two steps ({first} and {second}); write them in '
                'order joined by "then", e.g. "denoise then normalize" or "先降噪再标准化响度"'
            )


def _negated_step(body: str, quoted: list[str]) -> str | None:
    """The step a negated clause names ("normalize" in "don't normalize"), if any. A refusal
    row ("don't remove the pauses") names no step: not doing it is already the case."""
    try:
        found = match_clause(body, quoted)
    except UsageError:
        return None
    return found.op if found is not None and not found.op.startswith("_") else None


def unknown_instruction_error(fragment: str, instruction: str | None = None) -> UsageError:
    """``fragment`` is the clause after number normalisation; when the user wrote it differently
    ("one and a half times" -> "1.5 times") their own words are quoted instead."""
    if instruction is not None and fragment not in instruction:
        fragment = instruction
    examples = ", ".join(f'"{e}"' for e in EXAMPLES[:8])
    return UsageError(f'cannot understand "{fragment}"; try e.g. {examples} (see `ming-edit edit --help`)')


def parse_instruction(instruction: str, *, allow_freeform: bool = False) -> Plan:
    """Parse a free-form English/Chinese instruction into a Plan.

    Raises UsageError for text it cannot map to operations, unless ``allow_freeform`` (the user
    asked for the model engine), in which case the whole instruction becomes one freeform step.
    """
    text = " ".join(instruction.split())
    if not text:
        raise UsageError("the instruction is empty; say what to do, e.g. \"normalize for podcasts\"")
    masked, quoted = _mask_quotes(_PROMPT_NOISE.sub(" ", text))
    masked = _BETWEEN.sub(r"from \1 to ", normalise_numbers(masked))
    operations: list[Operation] = []
    excluded: list[tuple[str, str]] = []  # (op, clause) the user said not to do
    negated = 0
    for clause in split_clauses(masked):
        shown = _unmask(clause, quoted)
        shown = shown if shown in text else text  # the user's own words, not "1" for "one"
        body = guards.strip_negation(clause)
        if body is not None:
            negated += 1
            step = _negated_step(body, quoted)
            if step is not None:
                excluded.append((step, shown))
            elif guards.has_number(body):  # "don't exceed -2 dBTP": a limit not understood, not nothing
                if allow_freeform:
                    return Plan(text, (Operation("freeform", {"instruction": text}),))
                raise unknown_instruction_error(shown, text)
            continue
        found = _match(clause, quoted)
        if found is None:
            if allow_freeform:
                return Plan(text, (Operation("freeform", {"instruction": text}),))
            raise unknown_instruction_error(_unmask(clause, quoted), text)
        op, m = found
        if guards.negated_before(clause, m.start()):  # "make sure it is not normalized"
            negated += 1
            excluded.append((op.op, shown))
            continue
        try:
            _check_no_hidden_step(clause, m.span(), op, quoted)
            guards.check_numbers_used(clause, m, shown, op.describe())
        except UsageError:
            if allow_freeform:  # --engine model: the model reads the request as a whole
                return Plan(text, (Operation("freeform", {"instruction": text}),))
            raise
        if op.op == "_true_peak":  # "... and a true peak of -2 dB" refines the loudness step
            if not operations or operations[-1].op != "loudness":
                raise UsageError("a true-peak limit needs a loudness target, e.g. \"normalize to -16 LUFS\"")
            operations[-1] = Operation("loudness", {**operations[-1].args, **op.args})
            continue
        if op.op == "master":  # a preset of three steps
            operations.extend(expand_master(op.args))
            continue
        operations.append(op)
    guards.check_negations(text, [o.op for o in operations], excluded, negated)
    if not operations:
        raise unknown_instruction_error(text)
    return Plan(text, tuple(operations))

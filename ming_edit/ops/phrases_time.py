"""Phrase rows of the time edits (dsp/timeline.py): cut / keep a range, fades, padding with
silence, trimming the silence at the ends, shortening long pauses. English and Chinese.

Times are seconds ("5 s", "2.5 seconds"), minutes ("2 minutes"), milliseconds, or clock forms
("0:05", "1:02:03", "1分30秒"). "between 5 and 10 seconds" is not supported: "and" separates
steps; say "from 5 to 10 seconds".
"""

from __future__ import annotations

from typing import Any

from ming_edit.errors import UsageError
from ming_edit.ops.phrase_kit import END, Groups, Phrase, refuse

DEFAULT_FADE_SECONDS = 1.0  # "fade in" / "fade out" without a length
DEFAULT_PAUSES = (1.0, 0.5)  # "remove the long pauses": longer than 1 s -> 0.5 s (dsp/timeline.py)
_UNITS = {"ms": 0.001, "millisecond": 0.001, "s": 1.0, "sec": 1.0, "second": 1.0, "秒": 1.0, "m": 60.0,
          "min": 60.0, "minute": 60.0, "分": 60.0, "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "小时": 3600.0}


def _t(name: str) -> str:
    """A time: clock form, or a number with an optional unit (default seconds); "1分30秒" too."""
    return (rf"(?:(?P<{name}zm>\d+)\s*分钟?\s*(?P<{name}zs>\d+(?:\.\d+)?)\s*秒钟?"
            rf"|(?P<{name}>\d+(?::[0-5]?\d){{0,2}}(?:\.\d+)?)\s*(?P<{name}u>ms\b|milliseconds?|s\b|secs?\b|seconds?\b"
            rf"|m\b|mins?\b|minutes?\b|h\b|hrs?\b|hours?\b|秒钟?|分钟|分|小时)?)")


A, B = _t("a"), _t("b")
SEP = r"\s*(?:-|–|—|~|to|until|till|through|up to|到|至)\s*(?:the )?第?"
ZH_CUT = r"(?:删除|删掉|剪掉|去掉|切掉|剪去|裁掉|截掉|去除)"


def seconds(g: Groups, name: str) -> float:
    if g.get(name + "zm"):
        return float(g[name + "zm"]) * 60.0 + float(g[name + "zs"])
    value = g[name]
    if ":" in value:
        total = 0.0
        for part in value.split(":"):
            total = total * 60.0 + float(part)
        return total
    unit = (g.get(name + "u") or "s").lower()
    if unit not in ("ms", "s"):
        unit = unit.rstrip("s")  # seconds -> second, mins -> min, hrs -> hr
    return float(value) * _UNITS.get(unit.replace("钟", ""), 1.0)


def span(g: Groups) -> dict[str, Any]:
    return {"start": seconds(g, "a"), "end": seconds(g, "b")}


def first(g: Groups) -> dict[str, Any]:
    return {"first": seconds(g, "a")}


def last(g: Groups) -> dict[str, Any]:
    return {"last": seconds(g, "a")}


def after(g: Groups) -> dict[str, Any]:
    return {"start": seconds(g, "a"), "end": None}


def before(g: Groups) -> dict[str, Any]:
    return {"start": 0.0, "end": seconds(g, "a")}


ONE = r"(?P<one>second|minute|hour|half (?:a )?second|half (?:a )?minute)"  # "the first second"


def one_unit(g: Groups) -> dict[str, Any]:
    length = {"second": 1.0, "minute": 60.0, "hour": 3600.0}.get(g["one"].lower().split()[-1], 1.0)
    if g["one"].lower().startswith("half"):
        length /= 2.0
    return {"first" if g["pos"].lower() == "first" else "last": length}


def fade(g: Groups) -> dict[str, Any]:
    length = seconds(g, "a") if g.get("a") or g.get("azm") else DEFAULT_FADE_SECONDS
    direction = (g.get("dir") or "").lower()
    if direction in ("in", "淡入"):
        return {"in": length}
    if direction in ("out", "淡出"):
        return {"out": length}
    return {"in": length, "out": length}


def pad(g: Groups) -> dict[str, Any]:
    edge = (g.get("edge") or "end").lower()
    return {"start" if edge in ("start", "beginning", "开头", "前面", "最前面") else "end": seconds(g, "a")}


def trim(g: Groups) -> dict[str, Any]:
    edges = " ".join((g.get(k) or "") for k in ("edge", "edge2", "edge3", "both")).lower()
    start = any(w in edges for w in ("start", "beginning", "leading", "开头", "首", "前", "头"))
    end = any(w in edges for w in ("end", "trailing", "结尾", "末尾", "尾", "后"))
    if not (start or end) or "both" in edges:
        start = end = True
    return {"start": start, "end": end}


def pauses(g: Groups) -> dict[str, Any]:
    if g.get("b") or g.get("bzm"):
        to = seconds(g, "b")
        longer = seconds(g, "a") if g.get("a") or g.get("azm") else to
        if to > longer:
            raise UsageError(f"pauses longer than {longer:g} s cannot be shortened to {to:g} s; give a length "
                             f"under {longer:g} s")
        return {"longer_than": longer, "to": to}
    if g.get("a") or g.get("azm"):  # "remove pauses longer than 2 s": down to the default length
        longer = seconds(g, "a")
        return {"longer_than": longer, "to": min(DEFAULT_PAUSES[1], longer)}
    return {"longer_than": DEFAULT_PAUSES[0], "to": DEFAULT_PAUSES[1]}


P = Phrase
PAUSE_WORDS = r"(?:pauses?|silences?|gaps?|silent (?:parts|bits|gaps|stretches)|dead air)"
ZH_PAUSE = r"(?:停顿|静音|空白|间隙|沉默)"
LONGER = r"(?:longer than|more than|over|above|exceeding|of more than|beyond) "
TIME_ROWS: tuple[Phrase, ...] = (
    # -- pauses (before cut/trim: "cut pauses longer than 2 s" is about pauses)
    P("pauses", r"(?:shorten|cut|trim|reduce|compress|limit|shrink|remove|delete)(?: down)? (?:all |any |every )?(?:the )?"
      + PAUSE_WORDS + r"(?: that are| that last)? " + LONGER + A + r"(?: (?:to|down to|into) " + B + r")?" + END, pauses),
    P("pauses", r"(?:shorten|cut|trim|reduce|compress|limit|shrink)(?: down)? (?:all |any |every )?(?:the )?(?:long |longer )?"
      + PAUSE_WORDS + r" (?:to|down to) (?:at most )?" + B + END, pauses),
    P("pauses", r"(?:remove|delete|cut|shorten|reduce|get rid of|tighten|eliminate)(?: out)? (?:all |any )?(?:the |those )?"
      r"(?:(?:long|longer|awkward|excessive|extra|unnecessary|big|dead)(?:,? )?)*" + PAUSE_WORDS + r"(?: between (?:words|sentences))?" + END, pauses),
    P("pauses", r"^(?:tighten|shorten) (?:up )?(?:the )?(?:pauses|gaps|pacing|timing)" + END, pauses),
    P("pauses", r"(?:把)?(?:超过|大于|长于|多于)" + A + r"的?" + ZH_PAUSE + r"(?:都)?(?:缩短|减少|压缩|剪短|缩减)(?:到|为|至|成)" + B, pauses),
    P("pauses", r"(?:把)?(?:所有的?)?" + ZH_PAUSE + r"(?:都)?(?:缩短|压缩|缩减)(?:到|为|至|成)" + B, pauses),
    P("pauses", r"(?:去掉|删除|缩短|减少|剪掉|去除|压缩)(?:过长的?|长的?|多余的?)?" + ZH_PAUSE + r"$", pauses),
    # -- trim the silence at the ends
    P("trim", r"(?:trim|cut|remove|delete|strip|drop|get rid of|chop)(?: off| out)? (?:the |any )?(?:(?P<edge>leading|trailing|initial|final) )?"
      r"(?:silence|silent part|quiet part|dead air|silent bit|quiet)s? (?:at|from|in|on) (?:the (?P<edge2>start|beginning|end|ending)"
      r"(?: and (?:at )?the (?P<edge3>start|beginning|end|ending))?|(?P<both>both ends))" + END, trim),
    P("trim", r"(?:trim|cut|remove|delete|strip|drop)(?: off| out)? (?:the |any )?(?P<edge>leading|trailing|initial|final|start|end) (?:silence|dead air)" + END, trim),
    P("trim", r"(?:trim|strip)(?: off)? (?:the )?(?:silences?|dead air)(?: (?:at|from|on) both ends)?" + END, trim),
    P("trim", r"(?:trim|strip)(?: off)? (?:the )?(?:silences?|dead air) (?:at|from|on) both ends" + END, lambda g: {"start": True, "end": True}),
    P("trim", r"(?:去掉|删除|剪掉|切掉|去除|裁掉)(?P<edge>开头和结尾|开头|结尾|末尾|首尾|前后|头尾)(?:的)?(?:静音|空白|沉默|无声部分)", trim),
    # -- fades
    P("fade", r"fade[- ]?in and (?:fade[- ]?)?out(?: (?:over|for|of|across|in))? " + A + END, fade),
    P("fade", r"fade[- ]?in and (?:fade[- ]?)?out" + END, fade),
    P("fade", r"fade[- ]?(?P<dir>in|out)(?: (?:the )?(?:audio|it|start|beginning|end|ending|at the (?:start|beginning|end)))?"
      r"(?: (?:over|for|of|across|during|in|by|with))? " + A + END, fade),
    P("fade", A + r"(?: long)?[- ]?fade[- ]?(?P<dir>in|out)(?: (?:at|to) the (?:start|beginning|end))?" + END, fade),
    P("fade", r"(?:add )?(?:an? )?fade[- ]?(?P<dir>in|out)(?: (?:at|to) the (?:start|beginning|end)| (?:the )?(?:audio|it|start|end))?" + END, fade),
    P("fade", r"淡入淡出" + END, fade),
    P("fade", r"(?:开头|开始)?(?P<dir>淡入|淡出)" + A + END, fade),
    P("fade", A + r"的?(?P<dir>淡入|淡出)" + END, fade),
    P("fade", r"(?:(?:开头|开始)(?=淡入)|(?:结尾|末尾)(?=淡出))?(?P<dir>淡入|淡出)" + END, fade),
    # -- padding with silence
    P("pad", r"(?:add|insert|put|append|prepend)(?: an?)? " + A + r"(?: of)? (?:silence|quiet|silent (?:gap|space))"
      r"(?: (?:at|to) the (?P<edge>start|beginning|end))?" + END, pad),
    P("pad", r"pad (?:it |the audio )?(?:at )?(?:the )?(?P<edge>start|beginning|end) with " + A + r"(?: of silence)?" + END, pad),
    P("pad", r"pad (?:it |the audio )?with " + A + r"(?: of silence)?(?: (?:at|to) the (?P<edge>start|beginning|end))?" + END, pad),
    P("pad", r"(?:在)?(?P<edge>开头|结尾|末尾|最后|前面|后面)(?:加|添加|增加|插入|补)(?:上)?" + A + r"(?:的)?(?:静音|空白)", pad),
    # -- cut a range
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|skip|chop)(?: out| off)? (?:the )?(?P<pos>first|last|final) " + ONE + END, one_unit),
    P("keep", r"(?:keep|trim (?:it )?(?:down )?to|cut (?:it )?(?:down )?to|extract)(?: only)? (?:the )?(?P<pos>first|last|final) " + ONE + END, one_unit),
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|skip|chop)(?: out| off)? (?:the )?first " + A + END, first),
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|skip|chop)(?: out| off)? (?:the )?(?:last|final) " + A + END, last),
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|chop)(?: out| off)? (?:everything|all|the rest|the audio) after " + A + END, after),
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|chop)(?: out| off)? (?:everything|all|the audio) before " + A + END, before),
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|skip|chop)(?: out)? (?:the )?(?:part |section |bit |segment |audio |stretch |portion |piece )?"
      r"(?:from )?(?:the )?" + A + SEP + B + END, span),
    P("cut", r"(?:cut|delete|remove|drop|trim|erase|chop)(?: out)? (?:everything |the audio |the rest )?from " + A
      + r"(?: (?:to|until|till) the end| on(?:wards?)?)?" + END, after),
    P("cut", ZH_CUT + r"(?:从)?第?" + A + r"(?:之后|以后|后)的?(?:所有|全部)?(?:内容|部分|音频)?" + END, after),
    P("cut", ZH_CUT + r"(?:从)?第?" + A + r"(?:到|至|-|–|~)第?" + B + END, span),
    P("cut", ZH_CUT + r"(?:开头的?|最开始的?)?前" + A + END, first),
    P("cut", ZH_CUT + r"(?:最后|结尾的?|末尾的?)" + A + END, last),
    # -- keep a range
    P("keep", r"(?:keep|trim (?:it )?(?:down )?to|cut (?:it )?(?:down )?to|crop (?:it )?to|extract|shorten (?:it )?to)(?: only)? (?:the )?first " + A + END, first),
    P("keep", r"(?:keep|trim (?:it )?(?:down )?to|cut (?:it )?(?:down )?to|crop (?:it )?to|extract)(?: only)? (?:the )?(?:last|final) " + A + END, last),
    P("keep", r"(?:keep|extract|crop (?:it )?to|trim (?:it )?to)(?: only)? (?:the )?(?:part |section |bit |segment |audio )?(?:from )?(?:the )?"
      + A + SEP + B + END, span),
    P("keep", r"(?:keep|extract)(?: only)? (?:the )?(?:part |audio |rest )?from " + A + r"(?: (?:to|until|till) the end| on(?:wards?)?)" + END, after),
    P("keep", r"保留(?:从)?第?" + A + r"(?:到|至|-|–|~)第?" + B + END, span),
    P("keep", r"保留(?:开头的?|最开始的?)?前" + A + END, first),
    P("keep", r"保留(?:最后|结尾的?|末尾的?|后)" + A + END, last),
    # a time range the rows above could not read is refused, never sent to the model as words
    P("cut", r"(?P<what>(?:cut|delete|remove|trim|keep)\b.*\d+:\d.*)",
      refuse('cannot read the times in "{what}"; write e.g. "cut from 0:05 to 0:10" or "keep the first 20 seconds"')),
)

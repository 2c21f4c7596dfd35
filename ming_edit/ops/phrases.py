"""The phrase table: how instruction text maps to operations (English + Chinese).

Each row is ``Phrase(op, regex, extract)``. The parser (plan.py) prepares a clause before matching:
quoted spans become placeholders ``⟦0⟧``, number words and Chinese numerals become digits, and
"百分之二十" becomes "20%". So the regexes only ever see ASCII digits. Rows are tried in order and
the first whose regex is found in a clause wins, so specific rows (DSP, emotion, dialect) come
before the generic word-editing rows ("change X to Y", "delete X").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from ming_edit.errors import UsageError
from ming_edit.ops.operation import DEFAULT_LUFS, DEFAULT_TRUE_PEAK
from ming_edit.ops.vocabulary import (
    DIALECTS, EMOTIONS, EN_DIAL, EN_EMO, EN_PRESET, PRESETS, SOUNDS_ZH, ZH_DIAL, ZH_EMO,
)

Groups = dict[str, str]


@dataclass(frozen=True)
class Phrase:
    op: str
    pattern: str
    extract: Callable[[Groups], dict[str, Any]]

    def compiled(self) -> re.Pattern[str]:
        """Compile; a group name repeated across alternatives ("A NUM|NUM B") gets a __k suffix
        that ``groups_of`` folds back, since Python's re refuses duplicate names."""
        seen: dict[str, int] = {}

        def rename(m: re.Match[str]) -> str:
            name = m.group(1)
            seen[name] = seen.get(name, -1) + 1
            return f"(?P<{name}__{seen[name]}>" if seen[name] else m.group(0)

        return re.compile(re.sub(r"\(\?P<(\w+)>", rename, self.pattern), re.IGNORECASE)


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
UNIT = r"(?:semi-?tones?|half[- ]?steps?|steps?|st\b)"
ST = r"\s*" + UNIT + "?"  # optional unit after a semitone count
SPEED = r"(?:playback |speaking |speech )?(?:speed|tempo|pace|rate)"
VOL = r"(?:volume|gain|level|loudness)"
THE = r"(?:(?:the|its|this|it) )?(?:audio |recording |sound |clip |voice |track )?"
EN_FILLER_TAIL = r"(?:\s+(?:from|in|of) (?:the |this )?(?:audio|recording|clip|speech|file|sentence))?"



# ---- argument extractors ---------------------------------------------------------------------
def _n(g: Groups, key: str = "n") -> float:
    return float(g[key])


def ratio(g: Groups) -> dict[str, Any]:
    """'0.7' -> 0.7, '80%' -> 0.8, '1.5x' -> 1.5."""
    return {"factor": _n(g) / 100.0 if g.get("pct") else _n(g)}


def more_pct(g: Groups) -> dict[str, Any]:
    return {"factor": 1.0 + abs(_n(g)) / 100.0}


def less_pct(g: Groups) -> dict[str, Any]:
    return {"factor": 1.0 - abs(_n(g)) / 100.0}


def times(g: Groups) -> dict[str, Any]:
    return {"factor": abs(_n(g))}


def inverse_times(g: Groups) -> dict[str, Any]:
    return {"factor": 1.0 / abs(_n(g))}


def db_up(g: Groups) -> dict[str, Any]:
    return {"factor": 10.0 ** (abs(_n(g)) / 20.0)}


def db_down(g: Groups) -> dict[str, Any]:
    return {"factor": 10.0 ** (-abs(_n(g)) / 20.0)}


def db_signed(g: Groups) -> dict[str, Any]:
    return {"factor": 10.0 ** (_n(g) / 20.0)}


def const(**args: Any) -> Callable[[Groups], dict[str, Any]]:
    return lambda g: dict(args)


def semis(sign: int = 0, scale: float = 1.0) -> Callable[[Groups], dict[str, Any]]:
    """sign 0 keeps the number's own sign; +1/-1 force the direction (raise/lower)."""

    def build(g: Groups) -> dict[str, Any]:
        value = _n(g) if g.get("n") else 1.0  # "an octave", "a semitone"
        value = value if sign == 0 else sign * abs(value)
        return {"semitones": value * scale}

    return build


def semis_dir(g: Groups) -> dict[str, Any]:
    """'shift the pitch up/down by N': the direction word, if any, wins over the number's sign."""
    value = _n(g)
    direction = (g.get("dir") or "").lower()
    if direction in ("up", "higher"):
        value = abs(value)
    elif direction in ("down", "lower"):
        value = -abs(value)
    return {"semitones": value * (12.0 if g.get("oct") else 1.0)}


def _below_full_scale(g: Groups, key: str, unit: str) -> float:
    """A loudness or peak level: "16 LUFS" means -16 (people drop the sign), but an explicit "+5"
    asks for something above full scale, which is refused rather than silently flipped."""
    text = (g.get(key) or "").strip()
    if text.startswith("+") and float(text) > 0:
        raise UsageError(f"{text} {unit} is above digital full scale; did you mean -{text[1:]} {unit}?")
    return -abs(_n(g, key))


def loudness(g: Groups) -> dict[str, Any]:
    lufs = _below_full_scale(g, "n", "LUFS") if g.get("n") else DEFAULT_LUFS
    tp = _below_full_scale(g, "m", "dBTP") if g.get("m") else DEFAULT_TRUE_PEAK
    return {"lufs": lufs, "true_peak_db": tp}


def preset(g: Groups) -> dict[str, Any]:
    lufs, tp = PRESETS[g["preset"].lower()]
    if g.get("m"):
        tp = _below_full_scale(g, "m", "dBTP")
    return {"lufs": lufs, "true_peak_db": tp}


def true_peak(g: Groups) -> dict[str, Any]:
    return {"true_peak_db": _below_full_scale(g, "n", "dBTP")}


def text(*names: str) -> Callable[[Groups], dict[str, Any]]:
    """Copy groups to args: text('text:old', 'text2:new') renames group text->old, text2->new."""

    def build(g: Groups) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in names:
            group, _, arg = spec.partition(":")
            out[arg or group] = g[group]
        return out

    return build


def index_range(g: Groups) -> dict[str, Any]:
    out: dict[str, Any] = {"start": int(_n(g)), "end": int(_n(g, "m"))}
    if g.get("text"):
        out["new"] = g["text"]
    return out


def insert_at(g: Groups) -> dict[str, Any]:
    where = g["where"].lower()
    if where.startswith(("before", "在")) or where in ("前", "前面", "之前"):
        key = "before"
    else:
        key = "after"
    if g.get("n"):
        return {"text": g["text"], f"{key}_index": int(_n(g))}
    return {"text": g["text"], key: g["text2"]}


def insert_edge(g: Groups) -> dict[str, Any]:
    edge = g["edge"].lower()
    return {"text": g["text"], "at": "end" if edge in ("end", "末尾", "结尾", "最后") else "beginning"}


def emotion(g: Groups) -> dict[str, Any]:
    return {"emotion": EMOTIONS[g["emo"].lower()]}


def dialect(g: Groups) -> dict[str, Any]:
    return {"dialect": DIALECTS[g["dial"].lower()]}


def sound(g: Groups) -> dict[str, Any]:
    name = g["sound"].strip()
    name = re.sub(r"^(?:some|a|an|the)\s+|(?:\s+(?:sounds?|noises?|effects?))$", "", name, flags=re.I)
    return {"sound": SOUNDS_ZH.get(name, name)}


def check_finite(args: dict[str, Any]) -> dict[str, Any]:
    for value in args.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
    return args


# ---- the table -------------------------------------------------------------------------------
P = Phrase
TABLE: tuple[Phrase, ...] = (
    # -- benchmark / function-call forms ("time_stretch(0.7)", "vol(0.5)", "pitch_shift(-4)")
    P("speed", r"\btime[_ ]?stretch\s*\(?\s*" + NUM, ratio),
    P("volume", r"\bvol(?:ume)?\s*\(\s*" + NUM, ratio),
    P("pitch", r"\bpitch[_ ]shift\s*\(?\s*" + NUM, semis()),
    # -- loudness
    P("loudness", r"(?:normali[sz]|loudness|level|master)[^⟦]*?(?:for|to) (?:an? )?" + EN_PRESET + r"s?\b(?:.*?(?:peak|tp)[^\d+-]*" + NUM2 + ")?", preset),
    P("loudness", EN_PRESET + r"s? (?:loudness|level|standard)", preset),
    P("loudness", NUM + r"\s*lufs(?:.*?(?:peak|tp)[^\d+-]*" + NUM2 + ")?", loudness),
    P("loudness", r"(?:标准化|归一化|规范化|调整|调)(?:到|为|至)?" + NUM + r"\s*lufs", loudness),
    P("loudness", r"播客(?:响度|标准|音量)?", const(lufs=DEFAULT_LUFS, true_peak_db=DEFAULT_TRUE_PEAK)),
    P("loudness", r"(?<!peak )(?<!peak-)\bnormali[sz]e (?:the )?(?:loudness |audio |it |volume )?(?:to|at) " + NUM + r"(?:\s*(?:db|lu)\b)?" + END, loudness),
    P("loudness", r"(?<!peak )(?<!peak-)\bnormali[sz](?:e|es|ed|ing)\b|\bloudness normali[sz]ation\b", loudness),
    P("loudness", r"响度(?:标准化|归一化|规范化)|(?:标准化|归一化)响度", loudness),
    P("_true_peak", r"^(?:with |and )?(?:an? )?(?:true[- ]?peak|peak|tp)\b[^\d+-]*" + NUM, true_peak),
    # -- speed
    P("speed", r"(?:adjusts?|set|sets|change|changes|put|bring) (?:the )?" + SPEED + r" to " + NUMP, ratio),
    P("speed", PCT + r" (?:faster|quicker)", more_pct),
    P("speed", PCT + r" slower", less_pct),
    P("speed", NUM + r"\s*(?:x|×|times) (?:faster|quicker|as fast)", times),
    P("speed", NUM + r"\s*(?:x|×|times) slower", inverse_times),
    P("speed", r"speed (?:\w+ )?up (?:by )?" + PCT, more_pct),
    P("speed", r"speed (?:\w+ )?up (?:by |to )?" + NUMP, ratio),
    P("speed", r"slow (?:\w+ )?down (?:by )?" + PCT, less_pct),
    P("speed", r"slow (?:\w+ )?down by " + NUM + r"\s*(?:x|×|times)", inverse_times),
    P("speed", r"slow (?:\w+ )?down (?:to )?" + NUMP, ratio),
    P("speed", r"(?:increase|raise) (?:the )?" + SPEED + r" by " + PCT, more_pct),
    P("speed", r"(?:decrease|reduce|lower) (?:the )?" + SPEED + r" by " + PCT, less_pct),
    P("speed", r"(?:increase|raise|decrease|reduce|lower) (?:the )?" + SPEED + r" to " + NUMP, ratio),
    P("speed", r"(?:at |to )?" + NUM + r"\s*(?:x|×) (?:the )?(?:speed|tempo)", times),
    P("speed", r"play (?:it |this )?(?:back )?at " + NUMP, ratio),
    P("speed", r"\bspeed (?:of |to )?" + NUM + r"\s*(?:x|×)", times),
    P("speed", r"\bhalf (?:the )?speed\b|half as fast", const(factor=0.5)),
    P("speed", r"\b(?:double|twice the) speed\b|twice as fast", const(factor=2.0)),
    P("speed", r"(?:语速|速度|播放速度|语速)(?:调整|调节|调|设置|设|改|变)?(?:到|为|成|至)" + NUMP, ratio),
    P("speed", r"(?:语速|速度)?(?:放慢|减慢|变慢)(?:到|至)" + NUMP, ratio),
    P("speed", r"(?:语速|速度)?(?:加快|加速|变快)(?:到|至)" + NUMP, ratio),
    P("speed", r"(?:语速|速度)(?:降低|提高|提升|减少|增加)(?:到|至)" + NUMP, ratio),
    P("speed", r"(?:语速|速度)(?:降低|减少)了?" + PCT, less_pct),
    P("speed", r"(?:语速|速度)(?:提高|提升|增加)了?" + PCT, more_pct),
    P("speed", r"(?:放慢|减慢|变慢)了?" + PCT, less_pct),
    P("speed", r"(?:加快|加速|变快)了?" + PCT, more_pct),
    P("speed", NUM + r"\s*倍速", times),
    P("speed", r"(?:语速|速度)(?:放慢|减慢|降低)一半|半速", const(factor=0.5)),
    P("speed", r"(?:faster|quicker) by " + PCT, more_pct),
    P("speed", r"slower by " + PCT, less_pct),
    # terse forms: "speed 1.5", "speed: 0.8", "tempo x1.25", "1.5x", "x2", "语速0.8倍" (0 or 100 then
    # reach the range check with a clear message instead of "cannot understand")
    P("speed", r"^(?:playback |speaking )?(?:speed|tempo)\s*[:=]?\s*(?:x|×)?\s*" + NUMP + END, ratio),
    P("speed", r"^(?:x|×)\s*" + NUM + END + "|^" + NUM + r"\s*(?:x|×)" + END, ratio),
    P("speed", r"^(?:语速|速度)\s*" + NUMP + END, ratio),
    # -- pitch
    P("pitch", r"(?:shifts?|changes?|adjusts?|moves?) (?:the )?pitch (?:(?P<dir>up|down) )?(?:by )?" + NUM + r"\s*(?P<oct>octaves?)?" + ST, semis_dir),
    P("pitch", r"(?:raise|increase|lift|shift up|move up|pitch up) (?:the )?(?:pitch|voice|it)? ?(?:by )?(?:(?:an?|" + NUM + r") )?octaves?", semis(+1, 12.0)),
    P("pitch", r"(?:lower|decrease|drop|reduce|shift down|move down|pitch down) (?:the )?(?:pitch|voice|it)? ?(?:by )?(?:(?:an?|" + NUM + r") )?octaves?", semis(-1, 12.0)),
    P("pitch", r"(?:(?:an?|" + NUM + r") )?octaves? (?:higher|up)", semis(+1, 12.0)),
    P("pitch", r"(?:(?:an?|" + NUM + r") )?octaves? (?:lower|down)", semis(-1, 12.0)),
    P("pitch", r"(?:raise|increase|lift|shift|move|bring|pitch) (?:the |its )?(?:pitch|voice|key)(?: up)? (?:by )?(?:an?\b|" + NUM + ")" + ST, semis(+1)),
    P("pitch", r"(?:lower|decrease|drop|reduce|shift|move|bring|pitch) (?:the |its )?(?:pitch|voice|key)(?: down)? (?:by )?(?:an?\b|" + NUM + ")" + ST, semis(-1)),
    P("pitch", r"(?:raise|increase|lift|pitch up|shift up|move up)(?: it| the audio)?(?: up)? (?:by )?(?:an?|" + NUM + r")\s*" + UNIT, semis(+1)),
    P("pitch", r"(?:lower|decrease|drop|reduce|pitch down|shift down|move down)(?: it| the audio)?(?: down)? (?:by )?(?:an?|" + NUM + r")\s*" + UNIT, semis(-1)),
    P("pitch", r"pitch (?:it |the voice )?(?P<dir>up|down) (?:by )?" + NUM + ST, semis_dir),
    P("pitch", NUM + r"\s*(?:semi-?tones?|half[- ]?steps?|steps?) (?:higher|up)", semis(+1)),
    P("pitch", NUM + r"\s*(?:semi-?tones?|half[- ]?steps?|steps?) (?:lower|down)", semis(-1)),
    P("pitch", r"transpose (?:it |the audio )?(?:by )?" + NUM + ST, semis()),
    P("pitch", r"(?:音调|音高|声调|调)?(?:升高|提高|调高|上升|升)" + NUM + r"个?八度", semis(+1, 12.0)),
    P("pitch", r"(?:音调|音高|声调|调)?(?:降低|调低|下降|降)" + NUM + r"个?八度", semis(-1, 12.0)),
    P("pitch", r"(?:音调|音高|声调)?(?:升高|提高|调高|上升|升调|升)" + NUM + r"个?(?:半音|半音阶|音)", semis(+1)),
    P("pitch", r"(?:音调|音高|声调)?(?:降低|调低|下降|降调|降)" + NUM + r"个?(?:半音|半音阶|音)", semis(-1)),
    P("pitch", r"(?:音调|音高|声调)(?:调整|移动|偏移|变化|改变)" + NUM + r"个?半音", semis()),
    P("pitch", r"^pitch\s*[:=]?\s*" + NUM + ST + END, semis()),  # terse: "pitch +2", "pitch -3 semitones"
    # -- volume
    P("volume", r"(?:adjusts?|set|sets|change|changes|put|bring) (?:the )?" + VOL + r" to " + NUMP, ratio),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?down (?:by )?" + DB, db_down),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?up (?:by )?" + DB, db_up),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?down (?:by )?" + PCT, less_pct),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?up (?:by )?" + PCT, more_pct),
    P("volume", r"(?:reduce|decrease|lower|cut|drop|attenuate) " + THE + r"(?:" + VOL + r" )?by " + DB, db_down),
    P("volume", r"(?:increase|raise|boost|amplify) " + THE + r"(?:" + VOL + r" )?by " + DB, db_up),
    P("volume", r"(?:reduce|decrease|lower|cut|drop|attenuate) " + THE + r"(?:" + VOL + r" )?by " + PCT, less_pct),
    P("volume", r"(?:increase|raise|boost|amplify) " + THE + r"(?:" + VOL + r" )?by " + PCT, more_pct),
    P("volume", r"(?:louder|increase the volume) by " + DB + "|" + DB + r" louder", db_up),
    P("volume", r"(?:quieter|softer) by " + DB + "|" + DB + r" (?:quieter|softer)", db_down),
    P("volume", r"louder by " + PCT + "|" + PCT + r" louder", more_pct),
    P("volume", r"(?:quieter|softer) by " + PCT + "|" + PCT + r" (?:quieter|softer)", less_pct),
    P("volume", NUM + r"\s*(?:x|×|times) (?:louder|as loud)", times),
    P("volume", r"\bhal(?:f|ve) (?:the )?(?:volume|loudness|level)\b|half as loud", const(factor=0.5)),
    P("volume", r"\bdouble (?:the )?(?:volume|loudness|level)\b|twice as loud", const(factor=2.0)),
    P("volume", r"(?:apply )?(?:an? )?(?:gain|volume) (?:change )?(?:of )?" + DB + "|" + DB + r" (?:of )?gain", db_signed),
    P("volume", r"^" + DB + END, db_signed),
    P("volume", r"音量(?:调整|调节|调|设置|设|改|变)?(?:到|为|成|至)" + NUMP, ratio),
    P("volume", r"(?:音量|声音)?(?:降低|减小|调低|减少|调小|减)(?:音量)?了?" + DB, db_down),
    P("volume", r"(?:音量|声音)?(?:提高|增大|调高|增加|调大|加大|增)(?:音量)?了?" + DB, db_up),
    P("volume", r"音量(?:降低|减小|调低|减少|调小)(?:了)?" + PCT, less_pct),
    P("volume", r"音量(?:提高|增大|调高|增加|调大|加大)(?:了)?" + PCT, more_pct),
    P("volume", r"音量(?:减半|降低一半|减小一半|调小一半)", const(factor=0.5)),
    P("volume", r"音量(?:加倍|翻倍|提高一倍|增大一倍|调大一倍)", const(factor=2.0)),
    P("volume", r"增益" + DB, db_signed),
    P("volume", r"^(?:volume|gain)\s*[:=]?\s*(?:to )?(?:x|×)?\s*" + NUMP + END, ratio),  # terse: "volume 0.5"
    # -- denoise
    P("denoise", r"\bde-?nois(?:e|ing)\b|\bnoise[- ](?:reduction|removal|suppression|cancell?ation)\b", const()),
    P("denoise", r"(?:remove|reduce|cut|get rid of|eliminate|clean up|suppress|filter out|kill) (?:the |all |any |some )?(?:background |ambient |room |the )*(?:noise|hiss|hum|static|buzz)\b", const()),
    P("denoise", r"降噪|去噪|除噪|(?:去除|消除|去掉|减少|降低|过滤)(?:背景|环境)?(?:噪音|噪声|杂音)", const()),
    # -- add a background sound (before insert: both start with "add")
    P("add_sound", r"add (?:a |an |some |the )?background (?P<sound>music|noise)", sound),
    P("add_sound", r"add (?:the )?(?:sound of )?(?P<sound>[^⟦]+?) (?:in the background|to (?:the )?(?:audio|background|speech|recording)|as (?:a )?background(?: sound)?|behind (?:the )?(?:voice|speech))", sound),
    P("add_sound", r"add (?:a |an |some |the )?(?P<sound>\w+(?: \w+)?) (?:sounds?|sound effects?)\b", sound),
    P("add_sound", r"(?:添加|加入|加上|增加|加)(?:一些|一段|点)?(?P<sound>背景音乐)", sound),
    P("add_sound", r"(?:添加|加入|加上|增加|加)(?:一些|一段|点)?(?P<sound>[^⟦，,]+?)(?:的声音|声音|音效|声)(?:作为背景|背景音|背景)?" + END, sound),
    # -- insert
    P("insert", r"(?:insert|add) " + TEXT + r" (?P<where>before|after) (?:the (?:character or word|characters or words|word|character|words|phrase) )?at (?:index|position) " + NUM, insert_at),
    P("insert", r"(?:insert|add) " + TEXT + r" (?:at|to) the (?P<edge>end|beginning|start)", insert_edge),
    P("insert", r"(?:insert|add|put) " + TEXT + r" (?P<where>before|after|in front of|right before|right after) (?:the (?:character or word|characters or words|word|character|words|phrase) )?" + TEXT2 + END, insert_at),
    P("insert", r"在" + TEXT2 + r"(?P<where>前面|之前|前|后面|之后|后)(?:插入|加上|添加|加入|加)" + TEXT + END, insert_at),
    P("insert", r"在(?:音频|句子|这句话)?的?(?P<edge>开头|末尾|结尾|最后)(?:插入|加上|添加|加入|加)" + TEXT + END, insert_edge),
    # -- emotion
    P("emotion", r"(?:change|convert|switch|turn) (?:the )?(?:emotion|mood|tone|feeling)(?: of (?:the )?(?:speech|speaker|voice|audio))? (?:to|into) (?:an? )?" + EN_EMO, emotion),
    P("emotion", r"(?:make|have) (?:it|this|the (?:voice|speaker|speech|audio)|him|her) (?:sound )?(?:more )?" + EN_EMO, emotion),
    P("emotion", r"(?:sound|speak|say it|read it)(?: more)? (?:in an? )?" + EN_EMO, emotion),
    P("emotion", r"(?:in|with) an? " + EN_EMO + r" (?:tone|voice|mood|emotion|way)", emotion),
    P("emotion", r"(?:情绪|情感|语气|感情)(?:改|换|变|转换|调整|调)?(?:成|为|到)(?:更)?" + ZH_EMO, emotion),
    P("emotion", r"(?:用|以)" + ZH_EMO + r"的?(?:语气|情绪|口吻|声音)", emotion),
    P("emotion", r"(?:听起来|变得|显得|变|更)(?:更)?" + ZH_EMO, emotion),
    # -- dialect / accent
    P("dialect", r"(?:change|convert|switch|turn) (?:the )?(?:accent|dialect)(?: of (?:the )?(?:speech|speaker|voice|audio))? (?:to|into) (?:an? )?" + EN_DIAL, dialect),
    P("dialect", r"(?:convert|translate|change|turn|switch)(?: it| this| the speech| the audio)? (?:in)?to (?:an? )?" + EN_DIAL, dialect),
    P("dialect", EN_DIAL + r" (?:dialect|accent)|(?:in|with) (?:an? )?" + EN_DIAL + r"(?: accent| dialect)?" + END, dialect),
    P("dialect", r"(?:speak|say it|read it) (?:in )?" + EN_DIAL, dialect),
    P("dialect", r"(?:转换|转|改|变|换|翻译)(?:成|为|到)" + ZH_DIAL + "|(?:用|说)" + ZH_DIAL + "|" + ZH_DIAL + r"(?:话|方言|口音)|^" + ZH_DIAL + "$", dialect),
    # -- substitute (index form first, then "replace X with Y", then the Chinese 把A换成B)
    P("substitute", r"substitute (?:the )?(?:characters or words|character or word|words|characters) from index " + NUM + r" to index " + NUM2 + r" with " + TEXT + END, index_range),
    P("substitute", r"(?:substitute|replace|swap|switch) (?:the (?:word|words|phrase|character|characters) )?" + TEXT + r" (?:with|by|for) " + TEXT2 + END, text("text:old", "text2:new")),
    P("substitute", r"(?:把|将)" + TEXT + r"(?:替换|换|改|修改|更换)(?:成|为)" + TEXT2 + END, text("text:old", "text2:new")),
    P("substitute", r"用" + TEXT2 + r"(?:替换|代替|取代)" + TEXT + END, text("text:old", "text2:new")),
    P("substitute", r"(?:change|correct|turn) (?:the (?:word|words|phrase) )?" + TEXT + r" (?:to|into) " + TEXT2 + END, text("text:old", "text2:new")),
    # -- delete
    P("delete", r"(?:delete|remove|cut|erase) (?:the )?(?:characters or words|character or word|words|characters) from index " + NUM + r" to index " + NUM2, index_range),
    P("delete", r"(?:delete|remove|cut|erase|drop|take out|get rid of|cut out) (?:the (?:word|words|phrase|character|characters|sentence) )?" + TEXT + EN_FILLER_TAIL + END, text("text")),
    P("delete", r"(?:删除|删掉|去掉|删去|去除)(?:词|字|单词|词语)?" + TEXT + END, text("text")),
    P("delete", r"(?:把|将)" + TEXT + r"(?:删除|删掉|去掉|删去)" + END, text("text")),
)

# Shown when an instruction is not understood (also in --help and the README).
EXAMPLES = (
    "normalize for podcasts",
    "normalize to -14 LUFS",
    "turn it down 6 dB",
    "make it 20% faster",
    "adjust the speed to 0.7",
    "raise the pitch by two semitones",
    "denoise and normalize to -16 LUFS",
    "delete the word 'um'",
    "replace 'cat' with 'dog'",
    "make it sound happy",
    "把音量调到0.5",
    "先降噪再把音量调到0.8",
)

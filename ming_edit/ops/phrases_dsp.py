"""Phrase rows of the DSP operations: peak, loudness, speed (and target lengths), pitch, volume,
denoise, and the format steps (mono / stereo, resample, convert).

Rows are tried in order (see phrases.py), so within each block the specific forms come first and
the defaults ("louder", "slow down"), anchored to the whole clause, last.
"""

from __future__ import annotations

from typing import Any

from ming_edit.ops.operation import DEFAULT_LUFS, DEFAULT_TRUE_PEAK
from ming_edit.ops.phrase_kit import (
    DB, END, NUM, NUMP, PCT, PITCH_ONLY, SPEED, SPEED_STEP, ST, STEP_DB, THE, TP_TAIL, UNIT, VOL,
    Groups, Phrase, below_full_scale, const, db_down, db_signed, db_up, inverse_times, less_pct,
    more_pct, ratio, refuse, semis, semis_dir, times,
)
from ming_edit.ops.vocabulary import EN_PRESET, PRESETS

UP = const(factor=10.0 ** (STEP_DB / 20.0))
DOWN = const(factor=10.0 ** (-STEP_DB / 20.0))
FASTER = const(factor=1.0 + SPEED_STEP)
SLOWER = const(factor=1.0 - SPEED_STEP)
BIT = r"(?:(?:a (?:little )?bit|a little|a touch|slightly|somewhat) )?"  # "a bit louder"
BIT_AFTER = r"(?: (?:a (?:little )?bit|a little|a touch|slightly|somewhat))?"  # "slow down a bit"
IT = r"(?:it |this |things |the (?:audio|speech|recording|voice|sound|playback) )?"
ZH_BIT = r"(?:一点儿?|一些|点儿?)?"
PEAK_UNIT = r"(?:\s*(?P<pu>db\s*tp|dbfs|db|decibels?|分贝))?"
ONLY_ST = r"(?:\s*" + PITCH_ONLY + ")?"
ONLY_UNIT = r"\s*" + PITCH_ONLY
ZH_UNIT = r"个?(?P<unit>半音阶|半音|音分|全音|音|赫兹|hz\b)"


# ---- extractors only these rows use ----------------------------------------------------------
def peak(g: Groups) -> dict[str, Any]:
    """Sample peak, or true peak when the user says "true peak" / "dBTP"."""
    true_peak = bool(g.get("tp")) or "tp" in (g.get("pu") or "").lower()
    return {"peak_db": below_full_scale(g, "n", "dBTP" if true_peak else "dBFS"), "true_peak": true_peak}


def loudness(g: Groups) -> dict[str, Any]:
    lufs = below_full_scale(g, "n", "LUFS") if g.get("n") else DEFAULT_LUFS
    tp = below_full_scale(g, "m", "dBTP") if g.get("m") else DEFAULT_TRUE_PEAK
    return {"lufs": lufs, "true_peak_db": tp}


def preset(g: Groups) -> dict[str, Any]:
    lufs, tp = PRESETS[g["preset"].lower()]
    if g.get("m"):
        tp = below_full_scale(g, "m", "dBTP")
    return {"lufs": lufs, "true_peak_db": tp}


def true_peak(g: Groups) -> dict[str, Any]:
    return {"true_peak_db": below_full_scale(g, "n", "dBTP")}


P = Phrase
NORMALIZE = r"(?<!peak )(?<!peak-)\bnormali[sz]"
PEAK_NORMALIZE = r"(?P<tp>true[- ]?)?peak[- ]?normali[sz](?:e|ed|ing|ation)?"
OBJECT = r"(?: (?:the |this )?(?:audio|it|this|recording|file|track|clip|loudness|volume|sound))?"  # "normalize the audio"
BENCHMARK: tuple[Phrase, ...] = (  # "time_stretch(0.7)", "vol(0.5)", "pitch_shift(-4)"
    P("speed", r"\btime[_ ]?stretch\s*\(?\s*" + NUM, ratio),
    P("volume", r"\bvol(?:ume)?\s*\(\s*" + NUM, ratio),
    P("pitch", r"\bpitch[_ ]shift\s*\(?\s*" + NUM, semis()),
)
PEAK: tuple[Phrase, ...] = (  # before loudness: "peak normalize" is not a loudness target
    P("peak", PEAK_NORMALIZE + OBJECT + r"(?: (?:to|at))? " + NUM + PEAK_UNIT, peak),
    P("peak", r"normali[sz]e (?:the |its |all )?(?:audio's |audio )?(?P<tp>true[- ]?)?peaks?(?: levels?)? (?:to|at) " + NUM + PEAK_UNIT, peak),
    P("peak", r"(?:把|将)?(?P<tp>真)?峰值(?:电平)?(?:标准化|归一化|规范化|调整|调)?(?:到|为|至)" + NUM + PEAK_UNIT, peak),
    P("peak", r"(?P<tp>真)?峰值(?:电平)?(?:标准化|归一化|规范化)" + NUM + PEAK_UNIT, peak),
    P("peak", r"(?:true[- ]?)?peak[- ]?normali[sz]|normali[sz]e (?:the |its |all )?(?:true[- ]?)?peaks?\b|峰值(?:标准化|归一化)",
      refuse('peak normalisation needs a target, e.g. "normalize peaks to -1 dB" (sample peak) or "... to -1 dBTP" (true peak)')),
)
LOUDNESS: tuple[Phrase, ...] = (
    P("loudness", r"(?:normali[sz]|loudness|level|master)[^⟦]*?(?:for|to) (?:an? )?" + EN_PRESET + r"s?\b" + TP_TAIL, preset),
    P("loudness", EN_PRESET + r"s? (?:loudness|level|standard)" + TP_TAIL, preset),
    P("loudness", NUM + r"\s*lufs" + TP_TAIL, loudness),
    P("loudness", r"播客(?:响度|标准|音量)?", const(lufs=DEFAULT_LUFS, true_peak_db=DEFAULT_TRUE_PEAK)),
    P("loudness", NORMALIZE + r"e (?:the )?(?:loudness |audio |it |volume )?(?:to|at) " + NUM + r"(?:\s*(?:db|lu)\b)?" + END, loudness),
    P("loudness", r"(?:响度)?(?:标准化|归一化|规范化)(?:到|为|至)" + NUM + r"(?:\s*(?:db|lu|分贝))?" + END, loudness),
    P("loudness", r"^(?:integrated )?(?:loudness|lufs)(?: target)?\s*[:=]?\s*(?:to |of |at )?" + NUM + r"(?:\s*lufs)?" + TP_TAIL + END, loudness),
    # a target that is neither a number nor a preset ("to banana", "to nan LUFS") is refused, not defaulted
    P("loudness", NORMALIZE + r"(?:e|ed)\b" + OBJECT + r" (?:to|at|for) (?P<target>[^⟦\s].*)$",
      refuse('cannot understand the loudness target "{target}"; give it in LUFS (e.g. "normalize to -16 LUFS") '
             "or name a preset (podcast, youtube, broadcast, audiobook)")),
    P("loudness", r"(?:响度)?(?:标准化|归一化|规范化)(?:到|为|至)(?P<target>[^⟦\s].*)$",
      refuse('cannot understand the loudness target "{target}"; give it in LUFS, e.g. "响度标准化到-16 LUFS"')),
    P("loudness", NORMALIZE + r"(?:e|es|ed|ing|ation)\b|\bloudness normali[sz]ation\b", loudness),
    P("loudness", r"响度(?:标准化|归一化|规范化)|(?:标准化|归一化)响度|^(?:标准化|归一化|规范化)(?:音频|一下)?$", loudness),
    # a true-peak ceiling in its own clause refines the loudness step before it (parser.py)
    P("_true_peak", r"^(?:with |and )?(?:an? )?(?:true[- ]?peak|peak|tp)\b[^\d+-]*" + NUM + r"(?:\s*(?:db\s*tp|dbfs|db))?", true_peak),
    P("_true_peak", r"^(?:with |and )?(?:an? )?(?:(?:ceiling|limit|max(?:imum)?) (?:of )?|(?:no|not) (?:more|higher) than |at most |under |below )?"
      + NUM + r"\s*(?:db\s*tp|db true[- ]?peak)" + END, true_peak),
    P("_true_peak", r"^(?:真峰值|峰值)(?:上限|不超过|最大|为|到|是)?[^\d+-]*" + NUM + r"(?:\s*(?:db\s*tp|db|分贝))?", true_peak),
)
SPEED_ROWS: tuple[Phrase, ...] = (
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
    P("speed", r"\b(?:double|twice) the speed\b|\bdouble speed\b|twice as fast", const(factor=2.0)),
    P("speed", r"(?:语速|速度|播放速度)(?:调整|调节|调|设置|设|改|变)?(?:到|为|成|至)" + NUMP, ratio),
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
    # terse forms: "speed 1.5", "speed to 70%", "tempo x1.25", "1.5x", "语速0.8倍" (0 or 100 then
    # reach the range check with a clear message instead of "cannot understand")
    P("speed", r"^(?:playback |speaking )?(?:speed|tempo)\s*[:=]?\s*(?:to |of |at )?(?:x|×)?\s*" + NUMP + END, ratio),
    P("speed", r"^(?:x|×)\s*" + NUM + END + "|^" + NUM + r"\s*(?:x|×)" + END, ratio),
    P("speed", r"^(?:语速|速度)\s*" + NUMP + END, ratio),
    # a direction without an amount: SPEED_STEP
    P("speed", r"^(?:make " + IT + r"|play " + IT + r"|talk |speak )?" + BIT + r"(?:faster|quicker)" + END, FASTER),
    P("speed", r"^(?:make " + IT + r"|play " + IT + r"|talk |speak )?" + BIT + r"slower" + END, SLOWER),
    P("speed", r"^speed " + IT + r"up" + BIT_AFTER + END, FASTER),
    P("speed", r"^slow " + IT + r"down" + BIT_AFTER + END, SLOWER),
    P("speed", r"^(?:语速|速度|说话|播放)?再?(?:加快|变快|快|加速)(?:语速|速度)?" + ZH_BIT + END, FASTER),
    P("speed", r"^(?:语速|速度|说话|播放)?再?(?:放慢|减慢|变慢|慢)(?:语速|速度)?" + ZH_BIT + END, SLOWER),
)
PITCH: tuple[Phrase, ...] = (
    P("pitch", r"(?:shifts?|changes?|adjusts?|moves?) (?:the )?pitch (?:(?P<dir>up|down) )?(?:by )?" + NUM + ST, semis_dir),
    P("pitch", r"(?:raise|increase|lift|shift up|move up|pitch up) (?:the )?(?:pitch|voice|it)? ?(?:by )?(?:(?:an?|" + NUM + r") )?octaves?", semis(+1, 12.0)),
    P("pitch", r"(?:lower|decrease|drop|reduce|shift down|move down|pitch down) (?:the )?(?:pitch|voice|it)? ?(?:by )?(?:(?:an?|" + NUM + r") )?octaves?", semis(-1, 12.0)),
    P("pitch", r"(?:(?:an?|" + NUM + r") )?octaves? (?:higher|up)", semis(+1, 12.0)),
    P("pitch", r"(?:(?:an?|" + NUM + r") )?octaves? (?:lower|down)", semis(-1, 12.0)),
    P("pitch", r"(?:raise|increase|lift|shift|move|bring|pitch) (?:the |its )?(?:pitch|voice|key)(?: up)? (?:by )?(?:an?" + UNIT + "|" + NUM + ST + ")", semis(+1)),
    P("pitch", r"(?:lower|decrease|drop|reduce|shift|move|bring|pitch) (?:the |its )?(?:pitch|voice|key)(?: down)? (?:by )?(?:an?" + UNIT + "|" + NUM + ST + ")", semis(-1)),
    P("pitch", r"(?:raise|increase|lift|pitch up|shift up|move up)(?: it| the audio)?(?: up)? (?:by )?(?:an?|" + NUM + r")" + ONLY_UNIT, semis(+1)),
    P("pitch", r"(?:lower|decrease|drop|reduce|pitch down|shift down|move down)(?: it| the audio)?(?: down)? (?:by )?(?:an?|" + NUM + r")" + ONLY_UNIT, semis(-1)),
    P("pitch", r"pitch (?:it |the voice )?(?P<dir>up|down) (?:by )?" + NUM + ST, semis_dir),
    P("pitch", NUM + ONLY_UNIT + r" (?:higher|up)", semis(+1)),
    P("pitch", NUM + ONLY_UNIT + r" (?:lower|down)", semis(-1)),
    P("pitch", r"transpose (?:it |the audio )?(?:by )?" + NUM + ONLY_ST, semis()),
    P("pitch", r"(?:音调|音高|声调|调)?(?:升高|提高|调高|上升|升)" + NUM + r"个?八度", semis(+1, 12.0)),
    P("pitch", r"(?:音调|音高|声调|调)?(?:降低|调低|下降|降)" + NUM + r"个?八度", semis(-1, 12.0)),
    P("pitch", r"(?:音调|音高|声调)?(?:升高|提高|调高|上升|升调|升)" + NUM + ZH_UNIT, semis(+1)),
    P("pitch", r"(?:音调|音高|声调)?(?:降低|调低|下降|降调|降)" + NUM + ZH_UNIT, semis(-1)),
    P("pitch", r"(?:音调|音高|声调)(?:调整|移动|偏移|变化|改变)" + NUM + ZH_UNIT, semis()),
    # terse: "pitch +2", "pitch -3 semitones", "50 cents", "+2 semitones"
    P("pitch", r"^pitch\s*[:=]?\s*" + NUM + ST + END, semis()),
    P("pitch", r"^" + NUM + ONLY_UNIT + END, semis()),
)
VOLUME: tuple[Phrase, ...] = (
    P("volume", r"(?:adjusts?|set|sets|change|changes|put|bring) (?:the )?" + VOL + r" to " + NUMP, ratio),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?down (?:by )?" + DB, db_down),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?up (?:by )?" + DB, db_up),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?down (?:by )?" + PCT, less_pct),
    P("volume", r"(?:turn|bring) (?:it |this |the volume |the audio )?up (?:by )?" + PCT, more_pct),
    P("volume", r"(?:reduce|decrease|lower|cut|drop|attenuate) " + THE + r"(?:" + VOL + r" )?by " + DB, db_down),
    P("volume", r"(?:increase|raise|boost|amplify) " + THE + r"(?:" + VOL + r" )?by " + DB, db_up),
    P("volume", r"(?:reduce|decrease|lower|cut|drop|attenuate) " + THE + r"(?:" + VOL + r" )?by " + PCT, less_pct),
    P("volume", r"(?:increase|raise|boost|amplify) " + THE + r"(?:" + VOL + r" )?by " + PCT, more_pct),
    P("volume", r"(?:increase|raise|boost|reduce|decrease|lower|turn (?:up|down)) (?:the )?(?:volume|gain) to " + NUMP, ratio),
    P("volume", r"(?:louder|increase the volume) by " + DB + "|" + DB + r" louder", db_up),
    P("volume", r"(?:quieter|softer) by " + DB + "|" + DB + r" (?:quieter|softer)", db_down),
    P("volume", r"louder by " + PCT + "|" + PCT + r" louder", more_pct),
    P("volume", r"(?:quieter|softer) by " + PCT + "|" + PCT + r" (?:quieter|softer)", less_pct),
    P("volume", NUM + r"\s*(?:x|×|times) (?:louder|as loud)", times),
    P("volume", r"\bhal(?:f|ve) (?:the )?(?:volume|loudness|level)\b|half as loud", const(factor=0.5)),
    P("volume", r"\bdouble (?:the )?(?:volume|loudness|level)\b|twice as loud", const(factor=2.0)),
    P("volume", r"(?:apply )?(?:an? )?(?:gain|volume) (?:change )?(?:of )?" + DB + "|" + DB + r" (?:of )?gain", db_signed),
    P("volume", r"^" + DB + END, db_signed),
    P("volume", r"(?:(?:音量|声音)(?:放大|增大|提高|调大|加大|增加|降低|减小|调小|减少|调整|调节|调|设置|设|改|变)?|放大)(?:到|为|成|至)" + NUMP, ratio),
    P("volume", r"(?:音量|声音)?(?:降低|减小|调低|减少|调小|减)(?:音量)?了?" + DB, db_down),
    P("volume", r"(?:音量|声音)?(?:提高|增大|调高|增加|调大|加大|放大|增)(?:音量)?了?" + DB, db_up),
    P("volume", r"音量(?:降低|减小|调低|减少|调小)(?:了)?" + PCT, less_pct),
    P("volume", r"音量(?:提高|增大|调高|增加|调大|加大)(?:了)?" + PCT, more_pct),
    P("volume", r"音量(?:减半|降低一半|减小一半|调小一半)", const(factor=0.5)),
    P("volume", r"音量(?:加倍|翻倍|提高一倍|增大一倍|调大一倍)", const(factor=2.0)),
    P("volume", r"(?:音量|声音)?放大" + NUM + r"\s*倍", times),
    P("volume", r"增益" + DB, db_signed),
    P("volume", r"^(?:volume|gain)\s*[:=]?\s*(?:to )?(?:x|×)?\s*" + NUMP + END, ratio),  # terse: "volume 0.5"
    # a direction without an amount: STEP_DB
    P("volume", r"^(?:make " + IT + r"|turn " + IT + r")?" + BIT + r"louder" + END, UP),
    P("volume", r"^(?:make " + IT + r"|turn " + IT + r")?" + BIT + r"(?:quieter|softer|less loud)" + END, DOWN),
    P("volume", r"^(?:(?:turn|bring) (?:it |this |the (?:volume|audio|sound|gain) )?up|(?:turn up|raise|increase|boost) the (?:volume|gain|level)|volume up)" + BIT_AFTER + END, UP),
    P("volume", r"^(?:(?:turn|bring) (?:it |this |the (?:volume|audio|sound|gain) )?down|(?:turn down|lower|decrease|reduce) the (?:volume|gain|level)|volume down)" + BIT_AFTER + END, DOWN),
    P("volume", r"^(?:把)?(?:(?:音量|声音)(?:放大|调大|增大|提高|加大|大)|放大|调大|大声)(?:音量|声音)?" + ZH_BIT + END, UP),
    P("volume", r"^(?:把)?(?:(?:音量|声音)(?:缩小|调小|减小|降低|小)|调小|小声)(?:音量|声音)?" + ZH_BIT + END, DOWN),
)
DENOISE: tuple[Phrase, ...] = (
    P("denoise", r"(?:\bde-?nois(?:e|ing)|\b(?:reduce|remove|clean up) (?:the )?(?:background )?noise) (?:it |the audio )?(?:gently|lightly|a (?:little )?bit|a little|slightly|softly|subtly)\b"
      r"|\b(?:gentle|light|mild|subtle|soft) (?:de-?nois(?:e|ing)|noise reduction)\b", const(gentle=True)),
    P("denoise", r"(?:轻度|轻微|稍微|轻轻)(?:地)?降噪|降噪(?:轻一点|轻一些|温和一点)", const(gentle=True)),
    P("denoise", r"\bde-?nois(?:e|ing)\b|\bnoise[- ](?:reduction|removal|suppression|cancell?ation)\b", const()),
    P("denoise", r"(?:remove|reduce|cut|get rid of|eliminate|clean up|suppress|filter out|kill|delete|erase|take out|lower|minimi[sz]e)"
      r" (?:(?:the|all|any|some|that|this|of|out) )*(?:(?:background|ambient|room|constant|steady|annoying|unwanted|white|tape|fan|the) )*"
      r"(?:noise|hiss|hissing|static)\b(?: floor)?", const()),
    P("denoise", r"降噪|去噪|除噪|(?:去除|消除|去掉|减少|降低|过滤|删除|删掉|清除)(?:背景|环境|本底)?(?:噪音|噪声|杂音|底噪|嘶嘶声|沙沙声)", const()),
)
def seconds(g: Groups) -> dict[str, Any]:
    """A target length: seconds, minutes ("2 minutes") or m:ss ("1:30")."""
    value = float(g["n"]) * (60.0 if (g.get("u") or "").lower().startswith(("m", "分")) else 1.0)
    if g.get("s"):
        value = float(g["n"]) * 60.0 + float(g["s"])
    return {"duration": value}


def rate_hz(g: Groups) -> dict[str, Any]:
    """"48 kHz", "44.1k", "16000 Hz", "48k" (a bare number under 1000 is read as kHz)."""
    value = float(g["n"])
    if (g.get("k") or "").lower().startswith("k") or value < 1000:
        value *= 1000.0
    return {"sample_rate": int(round(value))}


def convert_to(g: Groups) -> dict[str, Any]:
    """"convert to mp3": the container, when named, picks the default output's extension."""
    return {"to": g["to"].lower().replace("wave", "wav")} if g.get("to") else {}


LENGTH = NUM + r"(?::(?P<s>[0-5]\d))?\s*(?P<u>s\b|secs?\b|seconds?\b|m\b|mins?\b|minutes?\b|秒|分钟)?"
TARGET_LENGTH: tuple[Phrase, ...] = (  # a duration target is a speed change (pitch kept)
    P("speed", r"make (?:it |this |the (?:audio|recording|clip) )?(?:last|be) (?:exactly )?" + LENGTH + r"(?: long)?" + END, seconds),
    P("speed", r"make (?:it |this |the (?:audio|recording|clip) )?(?:exactly )?" + NUM + r"\s*(?P<u>s|secs?|seconds?|mins?|minutes?) long" + END, seconds),
    P("speed", r"(?:stretch|squeeze|fit|time-?stretch|speed (?:it )?up|slow (?:it )?down) (?:it |this |the audio )?(?:to|into) (?:exactly )?"
      + LENGTH + END, seconds),
    P("speed", r"(?:时长|长度|总时长)(?:调整|调|改|变|设置|设)?(?:为|到|成|至)" + LENGTH + END, seconds),
)
HZ = NUM + r"\s*(?P<k>khz|k\b|hz)?"
FORMAT: tuple[Phrase, ...] = (
    P("channels", r"^(?:make|convert|turn|change|mix|downmix|render|save)? ?(?:it |this |the (?:audio|file|recording) )?(?:(?:in)?to |as )?(?:a )?mono(?:phonic)?\b(?: (?:file|audio|track))?" + END, const(channels=1)),
    P("channels", r"^(?:downmix|mix down)(?: (?:it|this|the audio|to one channel))?" + END, const(channels=1)),
    P("channels", r"^(?:make|convert|turn|change|save)? ?(?:it |this |the (?:audio|file|recording) )?(?:(?:in)?to |as )?(?:a )?stereo\b(?: (?:file|audio|track))?" + END, const(channels=2)),
    P("channels", r"(?:转换?|变|改|设置?)?(?:成|为|到)?单声道", const(channels=1)),
    P("channels", r"(?:转换?|变|改|设置?)?(?:成|为|到)?(?:双声道|立体声)", const(channels=2)),
    P("resample", r"(?:re-?sample|convert|change|set|bring) (?:it |this |the audio )?(?:the )?(?:sample[- ]?rate )?(?:to|at) " + HZ, rate_hz),
    P("resample", r"^(?:sample[- ]?rate|re-?sample)\s*[:=]?\s*(?:of |to |at )?" + HZ + END, rate_hz),
    P("resample", r"(?:采样率|重采样)(?:改为|改成|设为|设置为|转为|调整为|调为|到|为|至)?" + HZ, rate_hz),
    P("convert", r"^(?:just |only |simply )?(?:convert|transcode|re-?encode|re-?save|export)(?: (?:it|this|the (?:file|audio|format|recording)))?"
      r"(?: (?:to|into|as) (?:an? )?(?P<to>mp3|wav|wave|flac|ogg|opus|aiff?|caf|w64|rf64)(?: file)?)?" + END, convert_to),
    P("convert", r"^(?:只|仅)?(?:转换格式|格式转换|转码|转格式|转换)$", const()),
)
AMBIGUOUS: tuple[Phrase, ...] = (  # a bare amount that could be volume or speed
    P("volume", r"^(?:提高|提升|增加|降低|减少|调整|调|改|变)(?:到|至|为|成)(?P<amount>" + NUMP + ")" + END,
      refuse('"{amount}" does not say what to change; say e.g. "音量提高到{amount}" (volume) or "语速提高到{amount}" (speed)')),
)
DSP_ROWS = BENCHMARK + PEAK + LOUDNESS + TARGET_LENGTH + SPEED_ROWS + PITCH + VOLUME + DENOISE + FORMAT + AMBIGUOUS

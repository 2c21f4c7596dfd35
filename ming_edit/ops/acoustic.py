"""Deletion targets that are sounds, not words: routed so they never reach the model as text.

"remove the long pauses" or "去掉开头的静音" would otherwise match the generic delete rows and ask
the speech model to delete the *words* "the long pauses". Noise is the DSP denoise (phrases_dsp.py
rows, tried first); every other kind below is refused with one line naming what ming-edit can do
instead. When an operation for a kind exists, replace its refusal by a row mapping to it.
A quoted target (`delete the word 'um'`, `删除'嗯'`) is a placeholder by now, so it never matches.
"""

from __future__ import annotations

from ming_edit.ops.phrase_kit import Phrase, refuse

_DENOISE = '"denoise" reduces steady background noise'
_QUOTE = "quote a spoken word to delete it, e.g. \"delete the word 'um'\""
_CAN = ("it can denoise, remove hum and rumble, level, change volume, loudness, peak, speed and pitch, cut and trim, "
        "and delete quoted words")
# kind: (English nouns, Chinese nouns, what to say instead)
KINDS: dict[str, tuple[str, str, str]] = {
    "silence": (
        r"silences?|silent (?:parts?|bits?|gaps?|sections?|stretches)|pauses?|gaps?|dead air|quiet (?:parts?|bits?|sections?)",
        r"静音|沉默|停顿|空白|留白|间隙",
        'say "remove the long pauses", "shorten pauses longer than 1 second to 0.5 seconds" or '
        '"trim the silence at the start and the end"',
    ),
    "hum": (r"hum|humming|buzz(?:ing)?", r"嗡嗡声|电流声|交流声|嗡声", 'say "remove the hum" (mains hum) or "remove the rumble" (a high-pass)'),
    "echo": (r"echo(?:es)?|reverb(?:eration)?|reflections?", r"回声|回音|混响",
             "ming-edit cannot remove echo or reverb yet; " + _CAN),
    "breaths": (r"breaths?|breathing|breath sounds?|inhales?|gasps?", r"呼吸声|喘气声|换气声|吸气声|气口",
                "ming-edit cannot remove breaths yet; " + _QUOTE),
    "clicks": (
        r"clicks?|clicking|pops?|popping|plosives?|crackles?|crackling|mouth (?:noises?|sounds?)|lip smacks?|smacks?",
        r"咔哒声|咔嗒声|爆音|爆破音|喷麦|口水音|咂嘴声|噼啪声",
        "ming-edit cannot remove clicks or pops yet; " + _CAN,
    ),
    "music": (r"(?:background )?music|songs?|jingles?|soundtrack", r"背景音乐|音乐|伴奏",
              "ming-edit cannot separate music from speech; " + _CAN),
    "fillers": (
        r"ums|uhs|uhms|ahs|ers|erms|hmms|filler(?:s| words?| sounds?)|disfluenc(?:y|ies)|(?:um|uh)s? (?:or|and) (?:um|uh)s?",
        r"语气词|口头禅|填充词|赘词|嗯啊",
        "the speech model deletes filler words one quoted word at a time, e.g. \"delete the word 'um'\"",
    ),
}
_VERB = (r"(?:delete|remove|cut(?: out)?|erase|drop|take out|get rid of|eliminate|reduce|trim|strip(?: out)?"
         r"|clean up|kill|suppress|filter out|shorten|lose)")
_DET = (r"(?:(?:the|all|any|some|every|those|these|that|this|of|out|many|few|several|\d+|excess(?:ive)?|extra|long|longer|short|awkward"
        r"|dead|annoying|loud|background|unwanted|little|small|big|audible|heavy|room|electrical|mains|constant) )*")
_ZH_VERB = r"(?:删除|删掉|去掉|删去|去除|消除|剪掉|切掉|剪去|减少|降低|清除|除去|拿掉)"
_ZH_DET = r"(?:所有的?|全部的?|多余的?|一些|那些|这些|长的?|开头的?|结尾的?|中间的?|句间的?)*"


def _rows() -> tuple[Phrase, ...]:
    rows = []
    for kind, (en, zh, instead) in KINDS.items():
        message = 'cannot remove "{what}": ' + instead
        rows.append(Phrase("_refused", _VERB + " " + _DET + r"(?P<what>" + en + r")\b", refuse(message)))
        rows.append(Phrase("_refused", _ZH_VERB + _ZH_DET + r"(?P<what>" + zh + ")", refuse(message)))
    rows.append(Phrase("_refused", r"\bde-?(?P<what>hum|reverb|echo|click|crackle|breath|ess)(?:er|ing)?\b",
                       refuse('cannot "de-{what}": ming-edit has no such filter yet; ' + _CAN)))
    return tuple(rows)


ACOUSTIC_ROWS = _rows()

"""Phrase rows of the model operations: add_sound, insert, emotion, dialect, substitute, delete.

They come after the DSP and acoustic rows (phrases.py), since the generic word-editing rows
("change X to Y", "delete X") would match almost anything.
"""

from __future__ import annotations

import re
from typing import Any

from ming_edit.ops.phrase_kit import EN_FILLER_TAIL, END, NUM, NUM2, TEXT, TEXT2, Groups, Phrase, num, text
from ming_edit.ops.vocabulary import DIALECTS, EMOTIONS, EN_DIAL, EN_EMO, SOUNDS_ZH, ZH_DIAL, ZH_EMO


def index_range(g: Groups) -> dict[str, Any]:
    out: dict[str, Any] = {"start": int(num(g)), "end": int(num(g, "m"))}
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
        return {"text": g["text"], f"{key}_index": int(num(g))}
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


# "delete the word" whose word was split off ("... but", "... without") is not the text "the word"
NOT_A_WORD = r"(?!(?:the )?(?:words?|phrases?|characters?|sentences?)\s*$)"
P = Phrase
MODEL_ROWS: tuple[Phrase, ...] = (
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
    P("delete", r"(?:delete|remove|cut|erase|drop|take out|get rid of|cut out) (?:the (?:word|words|phrase|character|characters|sentence) )?" + NOT_A_WORD + TEXT + EN_FILLER_TAIL + END, text("text")),
    P("delete", r"(?:删除|删掉|去掉|删去|去除)(?:词|字|单词|词语)?" + TEXT + END, text("text")),
    P("delete", r"(?:把|将)" + TEXT + r"(?:删除|删掉|去掉|删去)" + END, text("text")),
)

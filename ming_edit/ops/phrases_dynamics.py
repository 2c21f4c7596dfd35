"""Phrase rows of the leveler and the compressor (dsp/dynamics.py). Tried before the loudness
rows: "level the speakers" is not a loudness target ("level for podcasts" still is)."""

from __future__ import annotations

from typing import Any

from ming_edit.ops.phrase_kit import END, NUM, Groups, Phrase, const
from ming_edit.ops.vocabulary import EN_PRESET, PRESETS


def cutoff(g: Groups) -> dict[str, Any]:
    return {"cutoff_hz": float(g["n"]) * (1000.0 if (g.get("k") or "").lower().startswith("k") else 1.0)}


def master(g: Groups) -> dict[str, Any]:
    lufs, tp = PRESETS[g["preset"].lower()]
    return {"lufs": lufs, "true_peak_db": tp}


HZ = NUM + r"\s*(?P<k>khz|hz)?"

_WHAT = r"(?:speakers?|voices?|volume|volumes|levels?|audio|dialog(?:ue)?|conversation|interview|loudness|guests?|hosts?)"
DYNAMICS_ROWS: tuple[Phrase, ...] = (
    # -- "master for podcasts": high-pass, leveler, loudness (the parser expands it)
    Phrase("master", r"^master(?:ing)? (?:it |this |the (?:audio|episode|recording|show) )?(?:for|to) (?:an? )?" + EN_PRESET + r"s?\b" + END, master),
    Phrase("master", r"(?:播客|podcast)(?:母带|混音)?(?:处理|制作)|母带处理", const(lufs=-16.0, true_peak_db=-1.0)),
    # -- rumble and hum (dsp/filters.py)
    Phrase("highpass", r"\b(?:high[- ]?pass|low[- ]?cut|hpf)(?: filter)?(?: (?:it|the audio))?(?: (?:at|to|of|from|above|below))? " + HZ + END, cutoff),
    Phrase("highpass", r"\b(?:cut|remove|filter out|reduce) (?:everything |the (?:frequencies|lows) )?below " + HZ + END, cutoff),
    Phrase("highpass", r"\b(?:remove|reduce|cut|filter out|get rid of|eliminate|kill)(?: the| any| all| some)? (?:low(?:[- ]frequency)? )?(?:rumble|rumbling|wind noise|handling noise|low[- ]end (?:noise|rumble))\b" + END, const(cutoff_hz=80.0)),
    Phrase("highpass", r"^(?:high[- ]?pass|low[- ]?cut|hpf)(?: filter)?(?: it| the audio)?" + END, const(cutoff_hz=80.0)),
    Phrase("highpass", r"高通(?:滤波)?(?:到|在|为)?" + HZ, cutoff),
    Phrase("highpass", r"(?:去除|去掉|消除|减少|过滤)(?:低频)?(?:隆隆声|轰鸣声|低频噪音|低频噪声|风噪)", const(cutoff_hz=80.0)),
    Phrase("hum", r"\b(?:remove|reduce|cut|filter out|get rid of|eliminate|kill|suppress|fix|clean up)(?: the| any| all| some| that)? (?:(?:mains|electrical|electric|power|ground|(?P<mains>60|50) ?hz|annoying|background|constant|low) )*(?:hum|humming|buzz(?:ing)?)\b" + END, const()),
    Phrase("hum", r"\bde-?hum(?:mer|ming)?\b", const()),
    Phrase("hum", r"(?:去除|去掉|消除|减少|过滤|降低)(?:一下)?(?:背景)?(?:嗡嗡声|电流声|交流声|嗡声|哼声|电源噪声)", const()),
    Phrase("level", r"^(?:auto[- ]?)?level(?:l?ing)? (?:out )?(?:the |all )?(?:the )?" + _WHAT + END, const()),
    Phrase("level", r"\b(?:even out|even up|balance|equali[sz]e|match) (?:the )?(?:volume |loudness )?(?:levels? )?(?:of )?(?:the )?" + _WHAT + END, const()),
    Phrase("level", r"^(?:auto[- ]?level(?:l?er|l?ing)?|(?:an? )?(?:adaptive )?level(?:l?er))" + END, const()),
    Phrase("level", r"^make (?:the )?(?:speakers?|voices?|guests?) (?:equally loud|the same (?:volume|loudness|level))" + END, const()),
    Phrase("level", r"(?:平衡|统一|均衡|拉平)(?:一下)?(?P<who>说话人|人声|(?:两|2)个?人|嘉宾)?的?(?:音量|响度|电平)|音量(?:均衡|平衡|统一)|自动电平", const()),
    Phrase("compress", r"\bcompress (?:the )?(?:dynamics|dynamic range|voice|vocals?|speech|audio|it)" + END, const()),
    Phrase("compress", r"^(?:apply |add )?(?:some |a )?(?:light |gentle |speech |vocal )?(?:dynamic range )?compression(?: to (?:the )?(?:voice|speech|audio))?" + END, const()),
    Phrase("compress", r"^(?:reduce|narrow|tame) (?:the )?dynamic range" + END, const()),
    Phrase("compress", r"(?:压缩|减小|降低)(?:一下)?动态(?:范围)?|动态压缩", const()),
)

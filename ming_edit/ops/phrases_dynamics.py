"""Phrase rows of the leveler and the compressor (dsp/dynamics.py). Tried before the loudness
rows: "level the speakers" is not a loudness target ("level for podcasts" still is)."""

from __future__ import annotations

from ming_edit.ops.phrase_kit import END, Phrase, const

_WHAT = r"(?:speakers?|voices?|volume|volumes|levels?|audio|dialog(?:ue)?|conversation|interview|loudness|guests?|hosts?)"
DYNAMICS_ROWS: tuple[Phrase, ...] = (
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

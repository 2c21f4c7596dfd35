"""The words the phrase table knows: emotions, dialects, background sounds, loudness presets
(English and Chinese), each mapped to the value an operation carries, plus their regex groups."""

from __future__ import annotations

EMOTIONS = {
    "happy": "happy", "happier": "happy", "cheerful": "happy", "glad": "happy", "excited": "happy",
    "joyful": "joyful", "sad": "sad", "sadder": "sad", "unhappy": "sad", "sorrowful": "sad",
    "angry": "angry", "angrier": "angry", "mad": "angry", "furious": "angry",
    "fearful": "fearful", "scared": "fearful", "afraid": "fearful", "frightened": "fearful",
    "surprised": "surprised", "amazed": "surprised", "disgusted": "disgusted",
    "neutral": "neutral", "calm": "neutral",
    "开心": "happy", "高兴": "happy", "快乐": "happy", "愉快": "happy", "欢快": "joyful",
    "悲伤": "sad", "难过": "sad", "伤心": "sad", "生气": "angry", "愤怒": "angry",
    "害怕": "fearful", "恐惧": "fearful", "惊讶": "surprised", "吃惊": "surprised",
    "厌恶": "disgusted", "恶心": "disgusted", "平静": "neutral", "中性": "neutral", "平淡": "neutral",
}
EN_EMO = "(?P<emo>" + "|".join(k for k in EMOTIONS if k.isascii()) + r")\b"
ZH_EMO = "(?P<emo>" + "|".join(k for k in EMOTIONS if not k.isascii()) + ")"

DIALECTS = {
    "cantonese": "Cantonese", "yue": "Cantonese", "sichuan": "Chengdu", "sichuanese": "Chengdu",
    "chengdu": "Chengdu", "chuanyu": "Chengdu", "dongbei": "Dongbei", "northeastern": "Dongbei",
    "guangxi": "Guangxi", "shanghainese": "Shanghai", "shanghai": "Shanghai", "hunan": "Hunan",
    "minnan": "Minnan", "hokkien": "Minnan",
    "粤语": "Cantonese", "广东话": "Cantonese", "四川": "Chengdu", "成都": "Chengdu", "川渝": "Chengdu",
    "东北": "Dongbei", "广西": "Guangxi", "上海": "Shanghai", "湖南": "Hunan", "闽南": "Minnan",
}
EN_DIAL = "(?P<dial>" + "|".join(k for k in DIALECTS if k.isascii()) + r")\b"
ZH_DIAL = "(?P<dial>" + "|".join(k for k in DIALECTS if not k.isascii()) + ")"

SOUNDS_ZH = {"雨": "rain", "下雨": "rain", "雷": "thunder", "鸟": "birds", "鸟叫": "birds",
             "海浪": "waves", "风": "wind", "掌声": "applause", "音乐": "music", "背景音乐": "music"}

# Loudness presets: (LUFS, true peak dBTP). "normalize" without a target means podcast.
PRESETS = {
    "podcast": (-16.0, -1.0), "speech": (-16.0, -1.0), "youtube": (-14.0, -1.0),
    "spotify": (-14.0, -1.0), "streaming": (-14.0, -1.0), "music": (-14.0, -1.0),
    "apple": (-16.0, -1.0), "broadcast": (-23.0, -1.0), "ebu": (-23.0, -1.0), "r128": (-23.0, -1.0),
    "tv": (-23.0, -1.0), "atsc": (-24.0, -2.0), "a/85": (-24.0, -2.0), "audiobook": (-18.0, -3.0),
}
EN_PRESET = r"(?P<preset>podcast|speech|youtube|spotify|streaming|music|apple|broadcast|ebu|r128|tv|atsc|a/85|audiobook)"

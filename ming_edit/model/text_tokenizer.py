"""The Bailing text tokenizer, read from a checkpoint's tokenizer.json with `tokenizers` (no remote code).

Upstream wraps the same file in ``BailingTokenizer(PreTrainedTokenizerFast)`` under transformers 4.52.
Behaviour that decides the ids, and that we reproduce:

* ``tokenizer.encode(text)`` and ``tokenizer(text)`` use ``add_special_tokens=True``, which in a fast
  tokenizer of that version means "apply tokenizer.json's post-processor" (the released file and the
  golden one have none, so nothing is added). ``add_bos_token`` / ``add_eos_token`` in
  tokenizer_config.json are stored but not applied by PreTrainedTokenizerFast 4.52.
* Added tokens (``<audio>``, ``<role>`` ...) are matched in the raw text before BPE, so the rendered
  chat strings can be tokenized in one piece.
* Tokens named in tokenizer_config.json / special_tokens_map.json but absent from tokenizer.json are
  appended as special tokens, as transformers does when it loads the files.
* ``decode`` keeps special tokens and does not clean up spaces (clean_up_tokenization_spaces=False).

User text never carries control tokens: ``control_tokens`` are the tokenizer's own added tokens
(every special one, and markup-looking ``<...>`` / ``[...]`` ones), the strings of SpecialIds and
the prompts' ``<AUDIO>`` placeholder; ``refuse_control_tokens`` turns a text containing one of them
(as typed, or after the tokenizer's normalizer) into a UsageError naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tokenizers import AddedToken, Tokenizer

from ming_edit.errors import CheckpointError, UsageError
from ming_edit.model.config import read_json_object

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

# Token strings exactly as upstream's processor / modeling code spells them.
AUDIO_START = "<audio>"
AUDIO_END = "</audio>"
AUDIO_PATCH = "<audioPatch>"
GEN_AUDIO_START = "<gen_audio>"
GEN_AUDIO_END = "</gen_audio>"
GEN_AUDIO_PATCH = "<gen_audioPatch>"
END_OF_AUDIO = "<end_of_audio>"
EDIT_START = "<edit>"
EDIT_END = "</edit>"
PROMPT_START = "<prompt>"
PROMPT_END = "</prompt>"
ANSWER = "<answer>"
COT_TEXT_START = "<cot_text>"
COT_TEXT_END = "</cot_text>"
ROLE_START = "<role>"
ROLE_END = "</role>"
END_OF_TEXT = "<|endoftext|>"
START_OF_TEXT = "<|startoftext|>"
AUDIO_PLACEHOLDER = "<AUDIO>"  # not a token: prompts.expand_audio replaces it by audio patches

# SpecialIds field -> token string; every one must exist in a Ming-UniAudio tokenizer.
_SPECIAL_FIELDS: dict[str, str] = {
    "audio_start": AUDIO_START,
    "audio_end": AUDIO_END,
    "audio_patch": AUDIO_PATCH,
    "gen_audio_start": GEN_AUDIO_START,
    "gen_audio_end": GEN_AUDIO_END,
    "gen_audio_patch": GEN_AUDIO_PATCH,
    "end_of_audio": END_OF_AUDIO,
    "edit_start": EDIT_START,
    "edit_end": EDIT_END,
    "prompt_start": PROMPT_START,
    "prompt_end": PROMPT_END,
    "answer": ANSWER,
    "cot_text_start": COT_TEXT_START,
    "cot_text_end": COT_TEXT_END,
    "role_start": ROLE_START,
    "role_end": ROLE_END,
    "end_of_text": END_OF_TEXT,
    "start_of_text": START_OF_TEXT,
}


# Refused in user text even if a tokenizer lacks them (they are how our prompts are built).
KNOWN_CONTROL_TOKENS = (*_SPECIAL_FIELDS.values(), AUDIO_PLACEHOLDER)


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the special tokens the prompts and generation loops use."""

    audio_start: int
    audio_end: int
    audio_patch: int
    gen_audio_start: int
    gen_audio_end: int
    gen_audio_patch: int
    end_of_audio: int
    edit_start: int
    edit_end: int
    prompt_start: int
    prompt_end: int
    answer: int
    cot_text_start: int
    cot_text_end: int
    role_start: int
    role_end: int
    end_of_text: int
    start_of_text: int


def _token_content(value: Any) -> str | None:
    """A special token from tokenizer_config.json: a plain string or a serialized AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, "tokenizer file") if path.is_file() else {}


class TextTokenizer:
    """Text <-> ids for the Bailing LLM. Build with :meth:`from_dir`."""

    def __init__(self, tokenizer: Tokenizer, settings: dict[str, Any], source: str = "<memory>") -> None:
        self._tok = tokenizer
        self.source = source
        self.bos_token = _token_content(settings.get("bos_token")) or START_OF_TEXT
        self.eos_token = _token_content(settings.get("eos_token")) or END_OF_TEXT
        # BailingTokenizer ignores its pad_token argument and pads with the eos token.
        self.pad_token = self.eos_token
        self._add_declared_tokens(settings)
        missing = [tok for tok in _SPECIAL_FIELDS.values() if self._tok.token_to_id(tok) is None]
        if missing:
            raise CheckpointError(
                f"{source}: not a Ming-UniAudio tokenizer, missing special tokens {', '.join(missing[:5])}"
            )
        self.special = SpecialIds(**{f: int(self._tok.token_to_id(t)) for f, t in _SPECIAL_FIELDS.items()})
        self.control_tokens = self._find_control_tokens()
        # Longest first, so '<gen_audioPatch>' is named rather than a shorter token inside it.
        self._control = re.compile("|".join(re.escape(t) for t in self.control_tokens))

    @classmethod
    def from_dir(cls, directory: str | Path) -> "TextTokenizer":
        """Load tokenizer.json (+ tokenizer_config.json, special_tokens_map.json) from a checkpoint dir."""
        root = Path(directory)
        path = root / TOKENIZER_FILE
        if not path.is_file():
            raise CheckpointError(f"{root}: no {TOKENIZER_FILE} (the text tokenizer is needed for this task)")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises plain Exception subclasses for bad files
            raise CheckpointError(f"{path}: unreadable tokenizer ({str(err).splitlines()[0]})") from None
        settings = _read_json(root / SPECIAL_TOKENS_MAP_FILE)
        settings.update(_read_json(root / TOKENIZER_CONFIG_FILE))
        return cls(tokenizer, settings, source=str(root))

    def _add_declared_tokens(self, settings: dict[str, Any]) -> None:
        """Append tokens the config declares but tokenizer.json lacks (transformers does the same)."""
        declared: list[tuple[str, bool]] = []
        decoder = settings.get("added_tokens_decoder") or {}
        for _, entry in sorted(decoder.items(), key=lambda kv: int(kv[0])):
            content = _token_content(entry)
            if content is not None:
                declared.append((content, bool(entry.get("special", True))))
        for key in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                    "mask_token", "gmask_token"):
            content = _token_content(settings.get(key))
            if content is not None:
                declared.append((content, True))
        for value in settings.get("additional_special_tokens") or []:
            content = _token_content(value)
            if content is not None:
                declared.append((content, True))
        for content, special in declared:
            if self._tok.token_to_id(content) is None:
                token = AddedToken(content, normalized=False, special=special)
                if special:
                    self._tok.add_special_tokens([token])
                else:
                    self._tok.add_tokens([token])

    def _find_control_tokens(self) -> tuple[str, ...]:
        """Added tokens matched in raw text before BPE: all special ones, and non-special ones that look
        like markup (a plain added word such as a name is vocabulary, not control)."""
        found = set(KNOWN_CONTROL_TOKENS)
        for token in self._tok.get_added_tokens_decoder().values():
            text = token.content
            markup = len(text) > 2 and (text[0], text[-1]) in (("<", ">"), ("[", "]"))
            if text.strip() and (token.special or markup):
                found.add(text)
        return tuple(sorted(found, key=lambda t: (-len(t), t)))

    def find_control_token(self, text: str) -> str | None:
        """The first control-token string in ``text`` (also after the normalizer), or None."""
        match = self._control.search(text)
        if match is None and self._tok.normalizer is not None:
            match = self._control.search(self._tok.normalizer.normalize_str(text))
        return match.group(0) if match else None

    # ---- text <-> ids -------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` exactly as upstream ``tokenizer.encode(text)`` returns them."""
        return list(self._tok.encode(text, add_special_tokens=True).ids)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [list(e.ids) for e in self._tok.encode_batch(list(texts), add_special_tokens=True)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Text of ``ids``; special tokens are kept unless ``skip_special_tokens``."""
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int:
        """Id of one token string; KeyError if the vocabulary lacks it."""
        found = self._tok.token_to_id(token)
        if found is None:
            raise KeyError(f"token {token!r} is not in the vocabulary")
        return int(found)

    def id_to_token(self, token_id: int) -> str:
        found = self._tok.id_to_token(int(token_id))
        if found is None:
            raise KeyError(f"id {token_id} is not in the vocabulary")
        return found

    @property
    def vocab_size(self) -> int:
        """Number of ids including added tokens (the LLM's embedding may have more rows)."""
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    @property
    def eos_id(self) -> int:
        return self.token_to_id(self.eos_token)

    @property
    def bos_id(self) -> int:
        return self.token_to_id(self.bos_token)

    @property
    def pad_id(self) -> int:
        return self.token_to_id(self.pad_token)


def refuse_control_tokens(tokenizer: TextTokenizer, text: str, what: str) -> None:
    """UsageError if user text ``what`` contains a control-token string (it must reach the model as text)."""
    found = tokenizer.find_control_token(text)
    if found is not None:
        raise UsageError(f"{what} contains {found!r}, a control token of the model's tokenizer; "
                         "remove it (the model would read it as a command, not as text)")


def check_asr_text(tokenizer: TextTokenizer, language: str | None, hotwords: Iterable[str]) -> None:
    """UsageError if a hotword or the forced language holds a control-token string."""
    for word in hotwords:
        refuse_control_tokens(tokenizer, word, f"the hotword {word.strip()[:60]!r}")
    if language:
        refuse_control_tokens(tokenizer, language, "--lang")


def check_tts_text(tokenizer: TextTokenizer, text: str, prompt_text: str | None) -> None:
    """UsageError if the text to speak or the reference transcript holds a control-token string."""
    refuse_control_tokens(tokenizer, text, "the text")
    if prompt_text:
        refuse_control_tokens(tokenizer, prompt_text, "the reference transcript")

"""The one table of the edit model's trained phrasings, and the display form of its answer.

The instruction bodies are the ones of upstream's demo notebook (cookbooks/demo.ipynb) and of the
Ming-Freeform-Audio-Edit benchmark. Each Operation is rendered through EDIT_TEMPLATES; the whole
instruction is ``<prompt>`` + EDIT_LEAD + bodies + ``\\n</prompt>``, which model/prompts.py tokenises.
Content edits run with the chain of thought (CoT_OPS, the demo's use_cot=True); its text comes back
with ``<edit>...</edit>`` spans, shown to the user as [MASK].
"""

from __future__ import annotations

import re
from typing import Iterable

from ming_edit.errors import UsageError
from ming_edit.ops.operation import DYNAMICS_OPS, TIME_OPS, Operation

EDIT_LEAD = "Please recognize the language of this speech and transcribe it. "
# Index-based forms count characters (Chinese) or words (English) from 1, as the benchmark does.
EDIT_TEMPLATES: dict[str, str] = {
    "insert_before_index": "And insert '{text}' before the character or word at index {index}.",
    "insert_after_index": "And insert '{text}' after the character or word at index {index}.",
    "insert_before_word": "And insert '{text}' before the character or word '{target}'.",
    "insert_after_word": "And insert '{text}' after the character or word '{target}'.",
    "insert_at_beginning": "And insert '{text}' at the beginning.",
    "insert_at_end": "And insert '{text}' at the end.",
    "delete_range": "And delete the characters or words from index {start} to index {end}.",
    "delete_word": "And delete the word '{target}'.",
    "substitute": "And substitute '{target}' with '{text}'.",
    "substitute_range": "And substitute the characters or words from index {start} to index {end} with '{text}'.",
    "denoise": "And denoise the audio.",
    "speed": "And adjusts the speed to {factor}.",
    "pitch": "And shifts the pitch by {steps} steps.",
    "volume": "And adjusts the volume to {factor}.",
    "add_sound": "And add {sound} to audio.",
    "emotion": "And change the emotion to {emotion} mood.",
    "dialect": "And change the accent of the speech to {dialect}.",
    # not in upstream's table: our own operations, phrased the same way
    "loudness": "And normalize the loudness to {lufs} LUFS.",
    "peak": "And normalize the peak to {peak_db} {unit}.",
    "speed_duration": "And make it last {duration} seconds.",
    "channels": "And convert it to {layout}.",
    "resample": "And resample it to {sample_rate} Hz.",
    "convert": "And keep the audio as it is.",
    "freeform": "And {instruction}.",
    "time_edit": "And {description}.",
}
COT_OPS = frozenset({"delete", "insert", "substitute"})
MASK = "[MASK]"
_EDIT_SPAN = re.compile(r"<edit>.*?</edit>", re.S)
_COT_WRAPPERS = re.compile(r"</?cot_text>|<answer>|<gen_audio>")


def _num(value: object) -> str:
    return f"{float(value):g}"  # type: ignore[arg-type]


def _template_and_fields(op: Operation) -> tuple[str, dict[str, object]]:
    a = op.args
    if op.op == "delete":
        return ("delete_range", dict(a)) if "start" in a else ("delete_word", {"target": a["text"]})
    if op.op == "substitute":
        if "start" in a:
            return "substitute_range", {"start": a["start"], "end": a["end"], "text": a["new"]}
        return "substitute", {"target": a["old"], "text": a["new"]}
    if op.op == "insert":
        for key in ("before", "after"):
            if f"{key}_index" in a:
                return f"insert_{key}_index", {"text": a["text"], "index": a[f"{key}_index"]}
            if key in a:
                return f"insert_{key}_word", {"text": a["text"], "target": a[key]}
        return ("insert_at_beginning" if a.get("at") == "beginning" else "insert_at_end"), {"text": a["text"]}
    if op.op == "channels":
        return "channels", {"layout": {1: "mono", 2: "stereo"}.get(a["channels"], f"{a['channels']} channels")}
    if op.op == "speed" and "duration" in a:
        return "speed_duration", {"duration": _num(a["duration"])}
    if op.op in ("speed", "volume"):
        return op.op, {"factor": _num(a["factor"])}
    if op.op == "pitch":
        return "pitch", {"steps": _num(a["semitones"])}
    if op.op == "loudness":
        return "loudness", {"lufs": _num(a["lufs"])}
    if op.op == "peak":
        return "peak", {"peak_db": _num(a["peak_db"]), "unit": "dBTP" if a.get("true_peak") else "dB"}
    if op.op == "freeform":
        return "freeform", {"instruction": a["instruction"].strip().rstrip(".")}
    if op.op in TIME_OPS or op.op in DYNAMICS_OPS:
        return "time_edit", {"description": op.describe()}
    if op.op in EDIT_TEMPLATES:
        return op.op, dict(a)
    raise ValueError(f"unknown operation {op.op!r}")


def operation_body(op: Operation) -> str:
    """One Operation in the trained phrasing, e.g. "And delete the word 'um'."."""
    kind, fields = _template_and_fields(op)
    return EDIT_TEMPLATES[kind].format(**fields)


def operation_phrase(op: Operation) -> str:
    """The same without the leading "And " and final full stop: "delete the word 'um'"."""
    return operation_body(op).removeprefix("And ").removesuffix(".")


def plan_phrase(operations: Iterable[Operation]) -> str:
    """What the model is asked for a plan, for display: the phrases joined with 'and'."""
    return " and ".join(operation_phrase(op) for op in operations)


def wrap_edit_instruction(body: str) -> str:
    """``<prompt>`` + EDIT_LEAD + body + ``\\n</prompt>`` (a body already starting with EDIT_LEAD is kept)."""
    body = body.strip()
    if not body.startswith(EDIT_LEAD.strip()):
        body = EDIT_LEAD + body
    return f"<prompt>{body}\n</prompt>"


def edit_instruction(kind: str, **fields: object) -> str:
    """Full edit text for one EDIT_TEMPLATES kind, e.g. edit_instruction("delete_word", target="hi")."""
    if kind not in EDIT_TEMPLATES:
        raise KeyError(f"unknown edit kind {kind!r}; known: {', '.join(EDIT_TEMPLATES)}")
    return wrap_edit_instruction(EDIT_TEMPLATES[kind].format(**fields))


def model_prompt(operations: Iterable[Operation]) -> tuple[str, bool]:
    """(``<prompt>...\\n</prompt>`` text, use_cot) for the operations of a plan."""
    ops = list(operations)
    if not ops:
        raise UsageError("the edit instruction is empty")
    raw = ops[0].args.get("instruction", "").strip() if len(ops) == 1 else ""
    if raw.startswith("<prompt>"):  # a prompt typed in upstream's own form is passed on verbatim
        body = raw[len("<prompt>"):].replace("</prompt>", "").strip()
        return wrap_edit_instruction(body), bool(re.search(rf"\b({'|'.join(sorted(COT_OPS))})\b", body, re.I))
    if len(ops) == 1 and ops[0].op == "freeform":  # a lone request reads as a sentence after "And "
        free = ops[0].args["instruction"].strip()
        ops = [Operation("freeform", {"instruction": free[:1].lower() + free[1:]})]
    return wrap_edit_instruction(" ".join(operation_body(op) for op in ops)), any(op.op in COT_OPS for op in ops)


def render_cot(raw: str) -> str:
    """The CoT for display: edit spans -> [MASK], wrappers dropped; an unclosed <edit> masks the rest."""
    text = _EDIT_SPAN.sub(MASK, raw)
    if "<edit>" in text:
        text = text[: text.index("<edit>")] + MASK
    return _COT_WRAPPERS.sub("", text).replace("</edit>", "").strip()

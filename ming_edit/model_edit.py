"""Model-driven edits (delete/insert/substitute words, emotion, dialect, add sound, free-form).

The instruction is rendered in the phrasing the edit model was trained on (upstream demo /
Ming-Freeform-Audio-Edit templates, ming_edit.model.prompts); content edits run with the chain of
thought (`<answer>` appended, as the demo's use_cot=True), acoustic ones without. The CoT text is
reported before any audio is generated, with every `<edit>...</edit>` span shown as [MASK].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ming_edit import runtime
from ming_edit.errors import AudioError, UsageError

COT_OPS = ("delete", "insert", "substitute")  # the demo runs these with use_cot=True
MASK = "[MASK]"
DEFAULT_CFG = 2.0  # upstream generate_edit
HOP_SAMPLES = 320  # one tokenizer frame at 16 kHz
_EDIT_SPAN = re.compile(r"<edit>.*?</edit>", re.S)
_COT_WRAPPERS = re.compile(r"</?cot_text>|<answer>|<gen_audio>")


@dataclass
class ModelEditResult:
    cot_raw: str  # the model's chain-of-thought target text, with <edit>...</edit> spans
    cot_rendered: str  # the same with each edit span shown as [MASK]
    output: Path
    duration_in: float
    duration_out: float
    prompt: str = ""  # the <prompt>...</prompt> instruction the model was given
    used_cot: bool = False
    text_token_ids: list[int] | None = None  # greedy text tokens (the last is <gen_audio>)
    audio_latents: Any = None  # [1, frames, latent_dim] generated latents (CPU tensor)
    stopped: bool = True  # False when the step budget, not the stop head, ended the audio
    notes: list[str] = field(default_factory=list)  # e.g. peaks scaled down to avoid clipping


def render_cot(raw: str) -> str:
    """The CoT for display: edit spans -> [MASK], wrappers dropped; an unclosed <edit> masks the rest."""
    text = _EDIT_SPAN.sub(MASK, raw)
    if "<edit>" in text:
        text = text[: text.index("<edit>")] + MASK
    return _COT_WRAPPERS.sub("", text).replace("</edit>", "").strip()


def _num(value: Any) -> str:
    return f"{float(value):g}"


def operation_body(op: Any) -> str:
    """One plan Operation in the trained phrasing ("And ... ."), via the prompt templates."""
    from ming_edit.model.prompts import EDIT_TEMPLATES as T

    a = op.args
    if op.op == "delete":
        body = T["delete_range"].format(**a) if "start" in a else T["delete_word"].format(target=a["text"])
    elif op.op == "substitute":
        body = (T["substitute_range"].format(start=a["start"], end=a["end"], text=a["new"]) if "start" in a
                else T["substitute"].format(target=a["old"], text=a["new"]))
    elif op.op == "insert":
        body = _insert_body(a, T)
    elif op.op in ("emotion", "dialect", "add_sound", "denoise"):
        body = T[op.op].format(**a)
    elif op.op in ("speed", "volume"):
        body = T[op.op].format(factor=_num(a["factor"]))
    elif op.op == "pitch":
        body = T["pitch"].format(steps=_num(a["semitones"]))
    else:  # loudness, freeform: the plan's own wording
        body = "And " + op.model_instruction().strip().rstrip(".") + "."
    return body


def _insert_body(a: dict[str, Any], T: dict[str, str]) -> str:
    for key in ("before", "after"):
        if f"{key}_index" in a:
            return T[f"insert_{key}_index"].format(text=a["text"], index=a[f"{key}_index"])
        if key in a:
            return T[f"insert_{key}_word"].format(text=a["text"], target=a[key])
    return T["insert_at_beginning" if a.get("at") == "beginning" else "insert_at_end"].format(text=a["text"])


def build_instruction(instruction: str, operation: Any = None) -> tuple[str, bool]:
    """(``<prompt>...\\n</prompt>`` text, use_cot) for a user instruction or a parsed Operation.

    A text already wrapped in <prompt> is used verbatim. Otherwise the plan parser reads it; what it
    cannot map is passed through as a free-form request ("And <instruction>.").
    """
    from ming_edit.model.prompts import wrap_edit_instruction
    from ming_edit.plan import Operation, parse_instruction

    text = " ".join((instruction or "").split())
    if operation is None and not text:
        raise UsageError("the edit instruction is empty")
    if text.startswith("<prompt>"):
        body = text[len("<prompt>"):].replace("</prompt>", "").strip()
        return wrap_edit_instruction(body), bool(re.search(r"\b(delete|insert|substitute)\b", body, re.I))
    ops = [operation] if operation is not None else list(parse_instruction(text, allow_freeform=True).operations)
    if len(ops) == 1 and ops[0].op == "freeform":
        free = ops[0].args["instruction"].strip().rstrip(".")
        ops = [Operation("freeform", {"instruction": free[:1].lower() + free[1:]})]
    body = " ".join(operation_body(op) for op in ops)
    use_cot = any(op.op in COT_OPS for op in ops)
    return wrap_edit_instruction(body), use_cot


def _write_audio(samples: Any, path: Path, sample_rate: int, like: Path, *, no_limit: bool = False) -> list[str]:
    """Atomic write; the sample format follows the input file when the output container allows it.
    Generated peaks beyond full scale are scaled down with a note (or refused), never clipped silently."""
    from ming_edit import audio_io

    source = audio_io.probe(like)
    fmt = audio_io.output_format(path, source)
    subtype = audio_io.choose_subtype(fmt, source)
    audio_io.check_finite(samples, sample_rate, Path("the generated audio"))
    samples, note = audio_io.protect_from_clipping(samples, subtype, no_limit=no_limit)
    audio_io.write_audio_atomic(path, samples, sample_rate, fmt=fmt, subtype=subtype)
    return [note] if note else []


def edit_with_model(
    input_path: Path,
    instruction: str,
    output_path: Path,
    *,
    model: str | None = None,
    device: str = "auto",
    dtype: str | None = None,
    seed: int | None = None,
    on_cot: Callable[[str, str], None] | None = None,
    operation: Any = None,
    noise: Any = None,
    cfg: float = DEFAULT_CFG,
    max_steps: int | None = None,
    show_progress: bool = True,
    no_limit: bool = False,
) -> ModelEditResult:
    """Run the edit model on ``input_path`` and write ``output_path`` atomically.

    ``on_cot(raw, rendered)`` is called as soon as the CoT text is known, before audio is generated.
    ``operation`` (a plan.Operation) overrides parsing ``instruction``; ``noise`` replaces the seeded
    noise source (replaying recorded draws). The output keeps the input's sample rate and channel
    count. Raises ModelNeededError when no checkpoint can be found, NoEditAudioError when the model
    produces no audio within the step budget.
    """
    from ming_edit.registry import resolve_model_dir

    input_path, output_path = Path(input_path), Path(output_path)
    prompt_text, use_cot = build_instruction(instruction, operation)
    from ming_edit import audio_io

    audio_io.output_format(output_path)
    mono16k, rate, channels, duration_in = runtime.load_for_model(input_path)
    model_dir = resolve_model_dir(model, "edit")
    patch = runtime.patch_size(model_dir)
    if len(mono16k) < patch * HOP_SAMPLES:
        raise AudioError(f"{input_path}: too short for the edit model ({duration_in:.3f} s)")

    torch_device = runtime.select_device(device)
    stack = runtime.get_stack(model_dir, "edit", torch_device, runtime.select_dtype(dtype, torch_device))
    tokenizer = stack.text_tokenizer or runtime.load_text_tokenizer(Path(stack.path))
    noise = noise if noise is not None else runtime.make_noise(seed)

    from ming_edit.model.edit_loop import generate_edit
    from ming_edit.model.prompts import edit_prompt

    prompt = edit_prompt(tokenizer, len(mono16k), prompt_text, use_cot=use_cot, patch_size=patch)
    seen: dict[str, str] = {}

    def on_text(cot: str) -> None:
        seen["raw"] = cot
        if on_cot is not None:
            on_cot(cot, render_cot(cot))

    with runtime.progress(show_progress) as bar:
        bar.add_task("editing with the model", total=None)
        with runtime.oom_guard():
            out = generate_edit(stack, runtime.waveform_tensor(mono16k, stack.device), prompt, patch_size=patch,
                                cfg=cfg, noise=noise, max_steps=max_steps, on_text=on_text)
    speech = out.speech.reshape(-1).numpy()
    samples = runtime.from_model_rate(speech, rate, channels)
    notes = _write_audio(samples, output_path, rate, input_path, no_limit=no_limit)
    raw = seen.get("raw", out.cot_text)
    return ModelEditResult(
        cot_raw=raw, cot_rendered=render_cot(raw), output=output_path, duration_in=duration_in,
        duration_out=samples.shape[0] / rate, prompt=prompt_text, used_cot=use_cot,
        text_token_ids=out.text_token_ids.reshape(-1).tolist(), audio_latents=out.audio_latents, stopped=out.stopped,
        notes=notes,
    )

"""config.json and the other checkpoint JSON files as untrusted input, checked before anything is built.

* JSON files (config, index, tokenizer config): at most MAX_JSON_BYTES (64 MB) and nested at most
  MAX_JSON_DEPTH (32) levels (the released configs nest 4), so no RecursionError can escape.
* config.json: every field that sizes an allocation is type- and range-checked by the tables below
  before any module is built: sizes and counts are JSON integers >= 1 (a few may be 0 or null, as
  the table says), numbers are finite, objects are objects. ``true`` is not a number, ``64.0`` and
  ``1e9`` are not integers.
Each failure is one CheckpointError line (exit 3) naming the file and the field.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from ming_edit.errors import CheckpointError

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 32

LLM_FIELDS = {
    "vocab_size": "count!", "hidden_size": "count!", "num_hidden_layers": "count!",
    "num_attention_heads": "count!", "num_key_value_heads": "count0?",  # 0 / null: as many as heads
    "head_dim": "count?", "intermediate_size": "count?", "moe_intermediate_size": "count?",
    "num_experts": "count?", "num_shared_experts": "count0?", "num_experts_per_tok": "count",
    "first_k_dense_replace": "count0", "max_position_embeddings": "count", "rms_norm_eps": "number",
    "rope_theta": "number", "rope_scaling": "object?", "hidden_act": "string", "use_qkv_bias": "bool",
    "use_bias": "bool", "norm_head": "bool", "tie_word_embeddings": "bool", "norm_topk_prob": "bool",
    "multi_gate": "bool", "pad_token_id": "id?", "eos_token_id": "id?", "bos_token_id": "id?",
}
ROPE_FIELDS = {"type": "string?", "rope_type": "string?", "factor": "number",
               "original_max_position_embeddings": "count", "beta_fast": "real", "beta_slow": "real",
               "mscale": "real", "mscale_all_dim": "real"}
QWEN2_FIELDS = {  # the audio tokenizer's backbones (transformers Qwen2Config kwargs)
    "hidden_size": "count", "intermediate_size": "count", "num_hidden_layers": "count",
    "num_attention_heads": "count", "num_key_value_heads": "count?", "head_dim": "count?",
    "vocab_size": "count", "max_position_embeddings": "count", "sliding_window": "count?",
    "max_window_layers": "count0?", "rms_norm_eps": "number", "rope_theta": "number",
    "rope_scaling": "object?", "hidden_act": "string", "use_sliding_window": "bool",
    "tie_word_embeddings": "bool",
}
VAE_FIELDS = {"enc_kwargs": "object!", "dec_kwargs": "object!", "semantic_module_kwargs": "object?",
              "patch_size": "patch"}
ENC_FIELDS = {"backbone": "object!", "input_dim": "count", "hop_size": "count", "latent_dim": "count!"}
DEC_FIELDS = {"backbone": "object!", "output_dim": "count", "latent_dim": "count"}
WHISPER_FIELDS = {"n_state": "count!", "n_head": "count!", "n_layer": "count!"}
DIT_FIELDS = {"hidden_size": "count", "depth": "count", "num_heads": "count", "mlp_ratio": "number",
              "qk_norm": "string?", "pe_attn_head": "count?"}
FULL_FIELDS = {"llm_config": "object!", "audio_tokenizer_config": "object!", "ditar_config": "object?"}

# Tensors each repeated block owns in every checkpoint layout (weights only; biases may be absent).


def show_value(value: Any) -> str:
    """A short description of a bad JSON value (never a whole nested structure)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "count": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "count0": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "id": (lambda v: _is_int(v) and v >= 0, "a token id (integer >= 0)"),
    "patch": (lambda v: _is_int(v) and (v == -1 or v >= 1), "a positive integer (or -1)"),
    "number": (lambda v: _is_number(v) and v > 0, "a positive finite number"),
    "real": (_is_number, "a finite number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "object": (lambda v: isinstance(v, dict), "a JSON object"),
}


def check_fields(section: dict[str, Any], fields: dict[str, str], where: str, source: str) -> None:
    """Refuse the first field of ``section`` that is missing (when required) or of the wrong kind."""
    for name, spec in fields.items():
        kind = spec.rstrip("!?")
        if name not in section:
            if spec.endswith("!"):
                raise CheckpointError(f"{source}: {where}{name} is missing")
            continue
        value = section[name]
        if value is None and spec.endswith("?"):
            continue
        accepts, expected = KINDS[kind]
        if not accepts(value):
            raise CheckpointError(f"{source}: {where}{name} must be {expected}, got {show_value(value)}")


def _check_audio(vae: dict[str, Any], where: str, source: str) -> None:
    check_fields(vae, VAE_FIELDS, where, source)
    for part, fields in (("enc_kwargs", ENC_FIELDS), ("dec_kwargs", DEC_FIELDS)):
        check_fields(vae[part], fields, f"{where}{part}.", source)
        backbone = vae[part]["backbone"]
        check_fields(backbone, QWEN2_FIELDS, f"{where}{part}.backbone.", source)
        if isinstance(backbone.get("rope_scaling"), dict):
            check_fields(backbone["rope_scaling"], ROPE_FIELDS, f"{where}{part}.backbone.rope_scaling.", source)
    semantic = vae.get("semantic_module_kwargs") or {}
    check_fields(semantic, {"whisper_encoder": "object?"}, f"{where}semantic_module_kwargs.", source)
    if semantic.get("whisper_encoder"):
        check_fields(semantic["whisper_encoder"], WHISPER_FIELDS,
                     f"{where}semantic_module_kwargs.whisper_encoder.", source)


def check_config(raw: dict[str, Any], source: str) -> None:
    """Type and range checks of a config.json dict (full model or MingTok-Audio), before parsing."""
    if "llm_config" in raw or raw.get("model_type") == "bailingmm":
        check_fields(raw, FULL_FIELDS, "", source)
        llm = raw["llm_config"]
        check_fields(llm, LLM_FIELDS, "llm_config.", source)
        if isinstance(llm.get("rope_scaling"), dict):
            check_fields(llm["rope_scaling"], ROPE_FIELDS, "llm_config.rope_scaling.", source)
        if llm.get("head_dim") is None and llm["hidden_size"] < llm["num_attention_heads"]:
            raise CheckpointError(f"{source}: llm_config.hidden_size is smaller than num_attention_heads")
        _check_audio(raw["audio_tokenizer_config"], "audio_tokenizer_config.", source)
        check_fields(raw.get("ditar_config") or {}, DIT_FIELDS, "ditar_config.", source)
    elif "enc_kwargs" in raw and "dec_kwargs" in raw:
        _check_audio(raw, "", source)


# ---- against the weight files ---------------------------------------------------------------------


# ---- JSON -----------------------------------------------------------------------------------------
def check_json_depth(value: Any, where: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_JSON_DEPTH:
                    raise CheckpointError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
                stack.append((child, depth + 1))

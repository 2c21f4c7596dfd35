"""Random checkpoints in the upstream layout, for benchmarks and tests.

``upstream_key_shapes(config)`` derives every checkpoint key and shape from a config.json dict by
reading upstream's module definitions (modeling_bailingmm.py, modeling_bailing_moe.py,
audio_tokenizer/*, fm/*) - independently of our component classes, so a test can check that our
classes claim exactly upstream's keys. ``write_checkpoint`` fills those shapes with random values
(persistent buffers get their real values) and writes config.json, model.safetensors or shards +
model.safetensors.index.json, and the golden tokenizer files.

    from benchmarks.checkpoints import golden_config, write_checkpoint
    write_checkpoint(tmp_path / "ckpt", golden_config(), shards=3)

``always_audio_checkpoint(dest)`` writes one whose edit model always answers with audio (for
end-to-end tests: random weights rarely emit <gen_audio>); see the note above it.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "tests" / "golden"  # the public fixture set
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

Shapes = dict[str, tuple[int, ...]]


def golden_config() -> dict[str, Any]:
    """The tiny full-model (bailingmm) config.json of tests/golden, as a fresh dict."""
    return json.loads((GOLDEN_DIR / "config.json").read_text(encoding="utf-8"))


def mingtok_config() -> dict[str, Any]:
    """A standalone MingTok-Audio config.json (the AudioVAEconfig dict) of the same tiny size."""
    return copy.deepcopy(golden_config()["audio_tokenizer_config"])


# ---- key layout ---------------------------------------------------------------------------------
def _linear(out: Shapes, name: str, n_out: int, n_in: int, bias: bool = True) -> None:
    out[f"{name}.weight"] = (n_out, n_in)
    if bias:
        out[f"{name}.bias"] = (n_out,)


def _norm(out: Shapes, name: str, n: int, bias: bool = True) -> None:
    out[f"{name}.weight"] = (n,)
    if bias:
        out[f"{name}.bias"] = (n,)


def _qwen2(out: Shapes, prefix: str, cfg: dict[str, Any]) -> None:
    """transformers Qwen2Model (4.52): embed_tokens, layers.*, norm (Qwen2Config defaults if absent)."""
    hidden = int(cfg.get("hidden_size", 4096))
    heads = int(cfg.get("num_attention_heads", 32))
    kv = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    inter = int(cfg.get("intermediate_size", 22016))
    out[f"{prefix}embed_tokens.weight"] = (int(cfg.get("vocab_size", 151936)), hidden)
    for i in range(int(cfg.get("num_hidden_layers", 32))):
        p = f"{prefix}layers.{i}."
        _linear(out, p + "self_attn.q_proj", heads * head_dim, hidden)
        _linear(out, p + "self_attn.k_proj", kv * head_dim, hidden)
        _linear(out, p + "self_attn.v_proj", kv * head_dim, hidden)
        _linear(out, p + "self_attn.o_proj", hidden, heads * head_dim, bias=False)
        _linear(out, p + "mlp.gate_proj", inter, hidden, bias=False)
        _linear(out, p + "mlp.up_proj", inter, hidden, bias=False)
        _linear(out, p + "mlp.down_proj", hidden, inter, bias=False)
        _norm(out, p + "input_layernorm", hidden, bias=False)
        _norm(out, p + "post_attention_layernorm", hidden, bias=False)
    _norm(out, f"{prefix}norm", hidden, bias=False)


def audio_vae_key_shapes(vae: dict[str, Any], prefix: str = "") -> Shapes:
    """AudioVAE keys: encoder (Qwen2 + fc1/fc2/fc3/norm), decoder (fc1, Qwen2, semantic module, head)."""
    out: Shapes = {}
    enc, dec = vae["enc_kwargs"], vae["dec_kwargs"]
    enc_hidden = int(enc["backbone"].get("hidden_size", 4096))
    _qwen2(out, f"{prefix}encoder.encoder.", enc["backbone"])
    _linear(out, f"{prefix}encoder.fc1", enc_hidden, int(enc.get("input_dim", 320)), bias=False)
    _linear(out, f"{prefix}encoder.fc2", enc_hidden, enc_hidden)
    _linear(out, f"{prefix}encoder.fc3", 2 * int(enc["latent_dim"]), enc_hidden)
    _norm(out, f"{prefix}encoder.norm", enc_hidden)  # LayerNorm, never applied upstream

    dec_hidden = int(dec["backbone"].get("hidden_size", 4096))
    hop = int(dec.get("output_dim", 320))
    _qwen2(out, f"{prefix}decoder.decoder.", dec["backbone"])
    _linear(out, f"{prefix}decoder.fc1", dec_hidden, int(dec.get("latent_dim", enc["latent_dim"])))
    whisper = (vae.get("semantic_module_kwargs") or {}).get("whisper_encoder")
    if whisper:
        n = int(whisper["n_state"])
        _linear(out, f"{prefix}decoder.fc2", n, dec_hidden)
        _linear(out, f"{prefix}decoder.fc3", dec_hidden, n)
        for i in range(int(whisper["n_layer"])):
            p = f"{prefix}decoder.semantic_model.blocks.{i}."
            _linear(out, p + "attn.query", n, n)
            _linear(out, p + "attn.key", n, n, bias=False)
            _linear(out, p + "attn.value", n, n)
            _linear(out, p + "attn.out", n, n)
            _norm(out, p + "attn_ln", n)
            _linear(out, p + "mlp.0", 4 * n, n)
            _linear(out, p + "mlp.2", n, 4 * n)
            _norm(out, p + "mlp_ln", n)
        _norm(out, f"{prefix}decoder.semantic_model.ln_post", n)
    _linear(out, f"{prefix}decoder.head.out", 4 * hop + 2, dec_hidden)
    out[f"{prefix}decoder.head.istft.window"] = (4 * hop,)
    return out


def llm_key_shapes(llm: dict[str, Any], prefix: str = "model.") -> Shapes:
    """BailingMoeForCausalLM keys (lm_head omitted when tie_word_embeddings)."""
    out: Shapes = {}
    hidden, heads = int(llm["hidden_size"]), int(llm["num_attention_heads"])
    kv = int(llm.get("num_key_value_heads") or heads)
    head_dim = int(llm.get("head_dim") or hidden // heads)
    vocab = int(llm["vocab_size"])
    out[f"{prefix}model.word_embeddings.weight"] = (vocab, hidden)
    num_experts = llm.get("num_experts", 16)
    moe_inter = llm.get("moe_intermediate_size")
    for i in range(int(llm["num_hidden_layers"])):
        p = f"{prefix}model.layers.{i}."
        _linear(out, p + "attention.query_key_value", (heads + 2 * kv) * head_dim, hidden,
                bias=bool(llm.get("use_qkv_bias", False)))
        _linear(out, p + "attention.dense", hidden, heads * head_dim, bias=bool(llm.get("use_bias", True)))
        if num_experts is not None and i >= int(llm.get("first_k_dense_replace", 0)):
            gates = ["gate"] + (["image_gate", "audio_gate"] if llm.get("multi_gate") else [])
            for gate in gates:
                out[f"{p}mlp.{gate}.weight"] = (int(num_experts), hidden)
            mlps = [(f"mlp.experts.{e}.", int(moe_inter)) for e in range(int(num_experts))]
            if llm.get("num_shared_experts", 0) is not None:
                mlps.append(("mlp.shared_experts.", int(moe_inter) * int(llm.get("num_shared_experts", 0))))
        else:
            mlps = [("mlp.", int(llm["intermediate_size"]))]
        for name, inter in mlps:
            _linear(out, p + name + "gate_proj", inter, hidden, bias=False)
            _linear(out, p + name + "up_proj", inter, hidden, bias=False)
            _linear(out, p + name + "down_proj", hidden, inter, bias=False)
        out[p + "input_layernorm.weight"] = (hidden,)
        out[p + "post_attention_layernorm.weight"] = (hidden,)
    out[f"{prefix}model.norm.weight"] = (hidden,)
    if not llm.get("tie_word_embeddings", False):
        out[f"{prefix}lm_head.weight"] = (vocab, hidden)
    return out


def dit_key_shapes(ditar: dict[str, Any], latent_dim: int, cond_dim: int,
                   prefix: str = "flowloss.cfm.model.") -> Shapes:
    """fm.dit.DiT keys, including the persistent rotary inv_freq buffer."""
    out: Shapes = {}
    hidden = int(ditar.get("hidden_size", 1024))
    heads = int(ditar.get("num_heads", 16))
    dim_head = hidden // heads
    inner = int(hidden * float(ditar.get("mlp_ratio", 4.0)))
    _linear(out, prefix + "t_embedder.time_mlp.0", hidden, 256)
    _linear(out, prefix + "t_embedder.time_mlp.2", hidden, hidden)
    _linear(out, prefix + "x_embedder", hidden, latent_dim)
    _linear(out, prefix + "c_embedder.cond_embedder", hidden, cond_dim)
    out[prefix + "rotary_embed.inv_freq"] = (math.ceil(dim_head / 2),)
    for i in range(int(ditar.get("depth", 28))):
        p = f"{prefix}blocks.{i}."
        out[p + "norm1.weight"], out[p + "norm2.weight"] = (hidden,), (hidden,)
        for proj in ("to_q", "to_k", "to_v"):
            _linear(out, p + "attn." + proj, hidden, hidden)
        if ditar.get("qk_norm") == "rms_norm":
            out[p + "attn.q_norm.weight"], out[p + "attn.k_norm.weight"] = (dim_head,), (dim_head,)
        _linear(out, p + "attn.to_out.0", hidden, hidden)
        _linear(out, p + "mlp.ff.0.0", inner, hidden)
        _linear(out, p + "mlp.ff.2", hidden, inner)
    out[prefix + "final_layer.norm_final.weight"] = (hidden,)
    _linear(out, prefix + "final_layer.linear", latent_dim, hidden)
    return out


def upstream_key_shapes(config: dict[str, Any]) -> Shapes:
    """Every key of an upstream checkpoint for this config.json dict (full model or MingTok-Audio)."""
    if "llm_config" not in config:
        return audio_vae_key_shapes(config)
    llm, vae = config["llm_config"], config["audio_tokenizer_config"]
    latent = int(vae["enc_kwargs"]["latent_dim"])
    hidden = int(llm["hidden_size"])
    sem = int(vae["semantic_module_kwargs"]["whisper_encoder"]["n_state"])
    out = llm_key_shapes(llm)
    out.update(audio_vae_key_shapes(vae, prefix="audio."))
    out["linear_proj_audio.final_layer.norm_final.weight"] = (sem,)
    _linear(out, "linear_proj_audio.final_layer.linear", hidden, sem)
    out.update(dit_key_shapes(config.get("ditar_config") or {}, latent, hidden))
    _linear(out, "stop_head", 2, hidden)
    return dict(sorted(out.items()))


# ---- values ---------------------------------------------------------------------------------------
def _fill(key: str, shape: tuple[int, ...], gen: torch.Generator, config: dict[str, Any]) -> torch.Tensor:
    if key.endswith("istft.window"):
        return torch.hann_window(shape[0], periodic=True, dtype=torch.float64).float()
    if key.endswith("rotary_embed.inv_freq"):
        dim_head = 2 * shape[0]
        return 1.0 / (10000.0 ** (torch.arange(0, dim_head, 2, dtype=torch.float32) / dim_head))
    if len(shape) == 1:  # norm weights near 1, biases near 0
        is_norm = "norm" in key or key.endswith(("_ln.weight", "ln_post.weight"))
        base = 1.0 if is_norm and key.endswith("weight") else 0.0
        return base + 0.1 * torch.randn(shape, generator=gen)
    fan_in = max(shape[-1], 1)
    return torch.randn(shape, generator=gen) / math.sqrt(fan_in)


def random_state(config: dict[str, Any], seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Random tensors for every upstream key (deterministic for a seed)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in upstream_key_shapes(config).items():
        value = _fill(key, shape, gen, config)
        state[key] = value.to(dtype) if not key.endswith(("istft.window", "inv_freq")) else value
    return state


def split_into_shards(sizes: dict[str, int], shards: int) -> list[list[str]]:
    """Consecutive groups of keys with roughly equal byte totals (like HF save_pretrained)."""
    total = sum(sizes.values())
    target = total / shards
    groups: list[list[str]] = [[]]
    filled = 0
    for key, size in sizes.items():
        if filled + size / 2 > target * len(groups) and len(groups) < shards and groups[-1]:
            groups.append([])
        groups[-1].append(key)
        filled += size
    return groups


def write_state(dest: Path, state: dict[str, torch.Tensor], shards: int = 1) -> list[Path]:
    """Save ``state`` as model.safetensors or ``shards`` files + model.safetensors.index.json."""
    dest.mkdir(parents=True, exist_ok=True)
    if shards <= 1:
        path = dest / "model.safetensors"
        save_file(state, str(path), metadata={"format": "pt"})
        return [path]
    sizes = {k: v.numel() * v.element_size() for k, v in state.items()}
    groups = split_into_shards(sizes, shards)
    weight_map, paths = {}, []
    for i, keys in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        save_file({k: state[k] for k in keys}, str(dest / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in keys})
        paths.append(dest / name)
    index = {"metadata": {"total_size": sum(sizes.values())}, "weight_map": weight_map}
    (dest / "model.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return paths


def write_checkpoint(
    dest: str | Path,
    config: dict[str, Any] | None = None,
    *,
    shards: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    tokenizer: bool = True,
    state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a complete random checkpoint directory; returns it. ``state`` overrides the values."""
    dest = Path(dest)
    config = golden_config() if config is None else config
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    write_state(dest, random_state(config, seed, dtype) if state is None else state, shards)
    if tokenizer:
        for name in TOKENIZER_FILES:
            shutil.copyfile(GOLDEN_DIR / name, dest / name)
    return dest


# ---- a checkpoint that always answers with audio ------------------------------------------------
# Random weights cannot be relied on to emit <gen_audio>, so end-to-end tests use an LLM built by
# hand (the other components stay random). Every MLP and the last attention layer are silenced, so
# a position's residual stream is its own embedding plus what two crafted attention layers write:
#
#   layer 0: head 0 attends to </audio> and head 1 to <prompt> (keys only on those rows); at every
#            later position each moves a "before" flag into an "after" flag (norm-preserving, so all
#            audio positions keep identical keys in layer 1);
#   layer 1: head 0 attends uniformly to the audio positions (the projector outputs one constant
#            vector) and reads the "after </audio>" flag: generated patches / all audio patches.
#
# The stop head fires once that fraction reaches 1/2 (as many patches generated as the input has);
# the lm_head is a lookup table from each token's (orthonormal) content to its successor, so text
# is a fixed chain: `<answer>` -> the CoT -> <gen_audio>; `</role>` -> <gen_audio> after a <prompt>
# (edits), else -> the transcript -> <|endoftext|> (ASR prompts carry no <prompt>).
_C, _AUDIO, _END_MARK, _PROMPT_MARK = 0, 1, 2, 3  # residual-stream dims of the crafted LLM
_BEFORE_END, _AFTER_END, _BEFORE_PROMPT, _AFTER_PROMPT, _RATIO = 4, 5, 6, 7, 8
_CONTENT = 9  # dims 9.. hold the token identity
_CONST, _FLAG, _CONTENT_NORM = 2.0, 2.0, 6.0
_QK = 11.0  # query/key gain: scores of >= ~28 for the attended rows against 0 for the others
_LOGIT = 20.0  # lm_head gain: the successor's logit is ~140, the next best ~70
_STOP_GAIN = 1000.0
STOP_FRACTION = 0.5 - 1e-4  # stop once generated >= input patches (margin for float rounding)
ALWAYS_AUDIO_COT = "<cot_text>so <edit></edit> ok</cot_text>"
ALWAYS_AUDIO_TRANSCRIPT = "hello"


def _normed(x: torch.Tensor, eps: float) -> torch.Tensor:
    """The LLM's RMSNorm (weight 1) in float64, to size the crafted gains exactly."""
    x = x.double()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def _successors(tok: Any, cot: str, transcript: str) -> tuple[dict[int, int], int | None]:
    """The text chain as {token: next token} (</role> excluded) and the transcript's first token.

    A token may appear in only one place (the next token depends on the current one alone), so
    repeated or conflicting tokens are refused; the chain then always ends.
    """
    special = tok.special
    chains = [([special.answer] + tok.encode(cot), special.gen_audio_start),
              (tok.encode(transcript), special.end_of_text)]
    table: dict[int, int] = {}
    for ids, end in chains:
        for here, there in zip(ids, ids[1:] + [end]):
            if here in (special.role_end, special.gen_audio_start, special.end_of_text) or \
                    table.get(here, there) != there:
                raise ValueError(f"token {tok.decode([here])!r} would need two successors: choose a CoT and "
                                 f"a transcript whose tokens are all distinct ({cot!r}, {transcript!r})")
            table[here] = there
    first = tok.encode(transcript)
    return table, (first[0] if first else None)


def always_audio_state(config: dict[str, Any], *, seed: int = 0, cot: str = ALWAYS_AUDIO_COT,
                       transcript: str = ALWAYS_AUDIO_TRANSCRIPT) -> dict[str, torch.Tensor]:
    """random_state with the LLM, projector and stop head replaced as the section note says."""
    from ming_edit.model.text_tokenizer import TextTokenizer

    tok = TextTokenizer.from_dir(GOLDEN_DIR)
    llm = config["llm_config"]
    hidden, vocab, head_dim = int(llm["hidden_size"]), int(llm["vocab_size"]), int(llm["head_dim"])
    heads, kv, eps = int(llm["num_attention_heads"]), int(llm["num_key_value_heads"]), float(llm["rms_norm_eps"])
    if heads < 2 or kv != 1 or head_dim < 4 or hidden <= _CONTENT + 8 or llm.get("norm_head") or \
            llm.get("tie_word_embeddings") or llm.get("use_bias") or llm.get("use_qkv_bias"):
        raise ValueError("always_audio_state is laid out for the golden LLM config (2 heads, 1 kv head, no biases)")
    special = tok.special
    table, first = _successors(tok, cot, transcript)
    sources = sorted(set(table) | {special.role_end})
    n_content = hidden - _CONTENT
    if len(sources) > n_content:
        raise ValueError(f"the CoT and transcript need {len(sources)} distinct tokens; at most {n_content} fit")

    state = random_state(config, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    # embeddings: a constant, the two "before" flags, content of a fixed norm, markers on two rows
    content = torch.randn(vocab, n_content, generator=gen, dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.randn(n_content, n_content, generator=gen, dtype=torch.float64))
    for i, token in enumerate(sources):  # the chain tokens' contents are orthonormal
        content[token] = basis[:, i]
    content = _CONTENT_NORM * content / content.norm(dim=1, keepdim=True)
    emb = torch.zeros(vocab, hidden, dtype=torch.float64)
    emb[:, _C], emb[:, _BEFORE_END], emb[:, _BEFORE_PROMPT] = _CONST, _FLAG, _FLAG
    emb[:, _CONTENT:] = content
    emb[special.audio_end, _END_MARK] = 1.0
    emb[special.prompt_start, _PROMPT_MARK] = 1.0
    # every audio patch (input or generated) enters the LLM as this one vector
    audio = torch.zeros(hidden, dtype=torch.float64)
    audio[_C], audio[_AUDIO], audio[_BEFORE_END], audio[_BEFORE_PROMPT] = _CONST, 1.0, _FLAG, _FLAG

    p = "model.model."
    state[p + "word_embeddings.weight"] = emb
    proj = "linear_proj_audio.final_layer.linear."
    state[proj + "weight"] = torch.zeros_like(state[proj + "weight"])
    state[proj + "bias"] = audio
    for key in list(state):
        if key.startswith(p + "layers.") and key.endswith(("down_proj.weight", "attention.dense.weight")):
            state[key] = torch.zeros_like(state[key])  # every block adds nothing ...
        if key.startswith(p) and key.endswith(("input_layernorm.weight", "model.norm.weight")):
            state[key] = torch.ones_like(state[key])

    # ... but layers 0 and 1, whose attention is written here. q/k sit in the lowest RoPE
    # frequencies (pairs 63 and 62 of head_dim 128: < 0.01 rad over the whole context), so the
    # scores do not depend on the distance.
    half = head_dim // 2
    q0, q1, k0, v0 = 0, head_dim, heads * head_dim, (heads + 1) * head_dim
    lowest, second = half - 1, half - 2
    marker_end = float(_normed(emb[special.audio_end], eps)[_END_MARK])
    marker_prompt = float(_normed(emb[special.prompt_start], eps)[_PROMPT_MARK])
    after_end = float(_normed(audio, eps)[_BEFORE_END])  # the flag, once moved, at an audio position

    qkv = torch.zeros(((heads + 2) * head_dim, hidden), dtype=torch.float64)
    qkv[q0 + lowest, _C] = _QK  # head 0: find </audio>
    qkv[k0 + lowest, _END_MARK] = _QK
    qkv[v0 + 0, _END_MARK] = 1.0 / marker_end  # value 1 there, 0 elsewhere
    qkv[q1 + second, _C] = _QK  # head 1: find <prompt>
    qkv[k0 + second, _PROMPT_MARK] = _QK
    qkv[v0 + 1, _PROMPT_MARK] = 1.0 / marker_prompt
    dense = torch.zeros((hidden, heads * head_dim), dtype=torch.float64)
    dense[_BEFORE_END, 0], dense[_AFTER_END, 0] = -_FLAG, _FLAG
    dense[_BEFORE_PROMPT, head_dim + 1], dense[_AFTER_PROMPT, head_dim + 1] = -_FLAG, _FLAG
    state[p + "layers.0.attention.query_key_value.weight"] = qkv
    state[p + "layers.0.attention.dense.weight"] = dense

    qkv = torch.zeros_like(qkv)
    qkv[q0 + lowest, _C] = _QK  # head 0: every audio position alike
    qkv[k0 + lowest, _AUDIO] = _QK
    qkv[v0 + 0, _AFTER_END] = 1.0 / after_end  # 1 for a generated patch, 0 for an input one
    dense = torch.zeros_like(dense)
    dense[_RATIO, 0] = 1.0
    state[p + "layers.1.attention.query_key_value.weight"] = qkv
    state[p + "layers.1.attention.dense.weight"] = dense

    # stop logit - continue logit = gain * (fraction generated - STOP_FRACTION) / rms (the final
    # norm scales both terms alike, so the sign is exact)
    row = torch.zeros(hidden, dtype=torch.float64)
    row[_RATIO], row[_C] = 0.5 * _STOP_GAIN, -0.5 * _STOP_GAIN * STOP_FRACTION / _CONST
    state["stop_head.weight"] = torch.stack([-row, row])
    state["stop_head.bias"] = torch.zeros(2, dtype=torch.float64)

    head = torch.zeros(vocab, hidden, dtype=torch.float64)
    unit = content / _CONTENT_NORM
    for here, there in table.items():
        head[there, _CONTENT:] += _LOGIT * unit[here]
    # </role>: both branches share its content; the <prompt> flags break the tie by half a logit
    bonus = 0.5 * _LOGIT * _CONTENT_NORM / _FLAG
    head[special.gen_audio_start, _CONTENT:] += _LOGIT * unit[special.role_end]
    head[special.gen_audio_start, _AFTER_PROMPT] += bonus
    asr_first = special.end_of_text if first is None else first
    head[asr_first, _CONTENT:] += _LOGIT * unit[special.role_end]
    head[asr_first, _BEFORE_PROMPT] += bonus
    state["model.lm_head.weight"] = head
    return {key: value.float() if value.dtype == torch.float64 else value for key, value in state.items()}


def always_audio_checkpoint(
    dest: str | Path,
    *,
    seed: int = 0,
    cot: str = ALWAYS_AUDIO_COT,
    transcript: str = ALWAYS_AUDIO_TRANSCRIPT,
    max_positions: int | None = None,
    shards: int = 1,
) -> Path:
    """A tiny checkpoint (released layout, golden sizes) whose edit model always answers with audio.

    For any input audio and instruction, ``generate_edit`` emits ``cot`` (word edits, whose prompt
    ends in <answer>) or nothing (other edits), then <gen_audio>, then max(17, A + 1) audio patches
    for an input of A patches (A = ceil(samples / 320) // 5 at 16 kHz; 17 is upstream's minimum)
    and the stop head ends it. ASR answers ``transcript`` for any audio. Generated audio is the
    random flow head and decoder's (it does not depend on the input). In bf16 / fp16 the stop can
    come a patch or two late (the fraction is compared with 1/2 at ~3 digits). TTS prompts have no
    </audio>, so there the stop head never fires and the loop's own cap ends the speech.
    ``max_positions`` overrides the LLM context (1024) for longer clips.
    """
    dest = Path(dest)
    config = golden_config()
    if max_positions is not None:
        config["llm_config"]["max_position_embeddings"] = int(max_positions)
    write_checkpoint(dest, config, shards=shards, state=always_audio_state(config, seed=seed, cot=cot,
                                                                          transcript=transcript))
    shutil.copyfile(GOLDEN_DIR / "preprocessor_config.json", dest / "preprocessor_config.json")
    return dest

"""Bailing MoE LLM, LinearPooling projector and stop head: golden parity, a naive reference
implementation over many configurations, KV-cache consistency, padding, checkpoint round trip."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ming_edit.dev.conformance.golden import check_output
from ming_edit.dev.conformance.runners import run_case
from ming_edit.errors import CheckpointError
from ming_edit.model.config import parse_config
from ming_edit.model.llm import BailingMoeLM
from ming_edit.model.moe import SparseMoE, dispatch_experts
from ming_edit.model.rope import positions_from_attention_mask

LLM_CASES = ["llm_full", "llm_incremental", "projector", "projector_asr", "stop_head"]


# ---------------------------------------------------------------- golden fixtures
@pytest.fixture(scope="module")
def llm_stack(golden_dir):
    from ming_edit.model.loader import load_stack

    return load_stack(golden_dir, ("llm", "projector", "stop_head"), device="cpu")


@pytest.mark.parametrize("case_name", LLM_CASES)
def test_golden_case(llm_stack, golden_set, case_name):
    case = golden_set.case(case_name)
    outputs = run_case(llm_stack, case)
    assert set(outputs) == set(case.spec["outputs"])
    for name, tensor in outputs.items():
        result = check_output(case, name, tensor)
        assert result.passed, f"{case_name}/{name}: max err {result.max_abs_err:.3g} > atol {result.atol:.3g}"


def test_projector_pool_matches_forward(llm_stack, golden_set):
    case = golden_set.case("projector")
    pooled = llm_stack.projector.pool(case.input("unified_emb"), 5)
    assert pooled.shape == (1, 20, 64)
    assert torch.allclose(pooled[0], case.expected("llm_embeds")[:, 0], atol=1e-5)


# ---------------------------------------------------------------- random configurations
BASE_LLM = dict(
    model_type="bailing_moe", vocab_size=53, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
    num_attention_heads=2, num_key_value_heads=1, head_dim=128, hidden_act="silu", use_qkv_bias=False,
    use_bias=False, rms_norm_eps=1e-6, norm_head=False, tie_word_embeddings=False, max_position_embeddings=64,
    rope_theta=10000.0, rope_scaling={"type": "3D", "factor": 1.0}, num_experts=4, num_shared_experts=1,
    num_experts_per_tok=2, norm_topk_prob=True, moe_intermediate_size=16, first_k_dense_replace=0,
    multi_gate=True,
)

VARIANTS = {
    "3d_multigate": {},
    "plain_top1_biases": dict(
        rope_scaling=None, num_shared_experts=0, norm_topk_prob=False, num_experts_per_tok=1, multi_gate=False,
        use_qkv_bias=True, use_bias=True, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
    ),
    "dense_first_normhead_linear": dict(
        rope_scaling={"type": "linear", "factor": 2.0}, num_shared_experts=2, first_k_dense_replace=1,
        norm_head=True, num_attention_heads=4, num_key_value_heads=4, head_dim=16, num_hidden_layers=3,
    ),
    "no_renorm_tied_3d": dict(norm_topk_prob=False, tie_word_embeddings=True, num_experts=6, num_experts_per_tok=3),
    "dynamic_ntk": dict(
        rope_scaling={"type": "dynamic", "factor": 2.0}, max_position_embeddings=8, head_dim=16,
        num_attention_heads=6, num_key_value_heads=2,
    ),
    "yarn": dict(
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}, head_dim=32,
        multi_gate=False, num_shared_experts=0,
    ),
}


def make_config(golden_dir, **overrides):
    raw = json.loads((golden_dir / "config.json").read_text())
    raw["llm_config"] = {**BASE_LLM, **overrides}
    return parse_config(raw)


def randomized_llm(config, seed: int) -> BailingMoeLM:
    torch.manual_seed(seed)
    lm = BailingMoeLM(config).eval()
    with torch.no_grad():
        for name, p in lm.named_parameters():
            if p.numel() == 0:
                continue
            if name.endswith("norm.weight") or "layernorm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p.shape[1]) * (4.0 if "gate.weight" in name else 1.0))
    return lm


# ---- naive reference: upstream's math written out token by token ----------------------
def ref_rope_tables(cfg, pos, kv_len):
    """Upstream style: build a cos/sin table over arange(kv_len) and index it (or 3D sections)."""
    dim, base = cfg.head_dim, cfg.rope_theta
    kind = cfg.rope_type
    scaling = cfg.rope_scaling or {}
    factor = scaling.get("factor", 1.0)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    if kind == "3D":
        emb = [torch.cat([pos[r].float()[..., None] * inv] * 2, -1) for r in range(3)]
        sections = [16, 24, 24] * 2
        chunks_c, chunks_s, start = [], [], 0
        for i, width in enumerate(sections):
            chunks_c.append(emb[i % 3][..., start : start + width].cos())
            chunks_s.append(emb[i % 3][..., start : start + width].sin())
            start += width
        return torch.cat(chunks_c, -1), torch.cat(chunks_s, -1)
    t = torch.arange(kv_len).float()
    scale = 1.0
    if kind == "linear":
        t = t / factor
    if kind == "dynamic" and kv_len > cfg.max_position_embeddings:
        base = base * ((factor * kv_len / cfg.max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
        inv = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    if kind == "yarn":
        omax = scaling["original_max_position_embeddings"]
        corr = lambda rot: (dim * math.log(omax / (rot * 2 * math.pi))) / (2 * math.log(base))  # noqa: E731
        low, high = max(math.floor(corr(32)), 0), min(math.ceil(corr(1)), dim - 1)
        ramp = ((torch.arange(dim // 2).float() - low) / (high - low if high != low else 0.001)).clamp(0, 1)
        inv = (inv / factor) * ramp + inv * (1 - ramp)
        scale = 0.1 * math.log(factor) + 1.0
    table = torch.cat([torch.outer(t, inv)] * 2, -1)
    return (table.cos() * scale)[pos], (table.sin() * scale)[pos]


def ref_rms(x, w, eps):
    xf = x.float()
    return (w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps))).to(x.dtype)


def ref_swiglu(x, sd, prefix):
    return F.linear(F.silu(F.linear(x, sd[prefix + "gate_proj.weight"])) * F.linear(x, sd[prefix + "up_proj.weight"]),
                    sd[prefix + "down_proj.weight"])


def ref_forward(lm: BailingMoeLM, embeds, pos, audio_mask):
    cfg, sd = lm.cfg, lm.state_dict()
    b, n, _ = embeds.shape
    nh, nkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    cos, sin = ref_rope_tables(cfg, pos, n)
    rot = lambda x: torch.cat((-x[..., hd // 2 :], x[..., : hd // 2]), -1)  # noqa: E731
    h = embeds
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        x = ref_rms(h, sd[p + "input_layernorm.weight"], cfg.rms_norm_eps)
        qkv = F.linear(x, sd[p + "attention.query_key_value.weight"], sd.get(p + "attention.query_key_value.bias"))
        qkv = qkv.view(b, n, nh + 2 * nkv, hd)
        attn = torch.zeros(b, n, nh, hd)
        for head in range(nh):
            kvh = head // (nh // nkv)
            q = qkv[:, :, head] * cos + rot(qkv[:, :, head]) * sin
            k = qkv[:, :, nh + kvh] * cos + rot(qkv[:, :, nh + kvh]) * sin
            v = qkv[:, :, nh + nkv + kvh]
            scores = q @ k.transpose(1, 2) / math.sqrt(hd)
            scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
            attn[:, :, head] = scores.softmax(-1) @ v
        h = h + F.linear(attn.reshape(b, n, -1), sd[p + "attention.dense.weight"], sd.get(p + "attention.dense.bias"))
        x = ref_rms(h, sd[p + "post_attention_layernorm.weight"], cfg.rms_norm_eps)
        if i < cfg.first_k_dense_replace:
            y = ref_swiglu(x, sd, p + "mlp.")
        else:
            y = torch.zeros_like(x)
            for bi in range(b):
                for t in range(n):
                    use_audio = cfg.multi_gate and audio_mask is not None and bool(audio_mask[bi, t])
                    gate = sd[p + ("mlp.audio_gate.weight" if use_audio else "mlp.gate.weight")]
                    scores = (gate @ x[bi, t]).softmax(-1)
                    w, ids = scores.topk(cfg.num_experts_per_tok)
                    if cfg.norm_topk_prob and cfg.num_experts_per_tok > 1:
                        w = w / w.sum()
                    for wj, e in zip(w, ids.tolist()):
                        y[bi, t] += wj * ref_swiglu(x[bi, t], sd, p + f"mlp.experts.{e}.")
            if cfg.num_shared_experts:
                y = y + ref_swiglu(x, sd, p + "mlp.shared_experts.")
        h = h + y
    h = ref_rms(h, sd["model.norm.weight"], cfg.rms_norm_eps)
    head = sd["model.word_embeddings.weight"] if cfg.tie_word_embeddings else sd["lm_head.weight"]
    if cfg.norm_head:
        head = head / (head.norm(dim=0, keepdim=True) + 1e-7)
    return h @ head.T, h


def random_inputs(lm, seed, batch=2, length=12):
    g = torch.Generator().manual_seed(seed)
    embeds = torch.randn(batch, length, lm.cfg.hidden_size, generator=g)
    audio_mask = torch.zeros(batch, length, dtype=torch.bool)
    audio_mask[:, 3:8] = True
    return embeds, audio_mask


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_naive_reference(golden_dir, variant):
    lm = randomized_llm(make_config(golden_dir, **VARIANTS[variant]), seed=list(VARIANTS).index(variant))
    embeds, audio_mask = random_inputs(lm, 1)
    pos = torch.arange(embeds.shape[1]).expand(embeds.shape[0], -1)
    pos3 = pos.unsqueeze(0).expand(3, -1, -1) if lm.rope.is_3d else pos
    with torch.no_grad():
        out = lm(embeds, position_ids=pos3, audio_mask=audio_mask, output_hidden_states=True)
        ref_logits, ref_hidden = ref_forward(lm, embeds, pos3, audio_mask)
    assert torch.allclose(out.last_hidden, ref_hidden, atol=1e-4, rtol=1e-4)
    assert torch.allclose(out.logits, ref_logits, atol=1e-4, rtol=1e-4)
    assert len(out.hidden_states) == lm.cfg.num_hidden_layers + 1
    assert torch.equal(out.hidden_states[0], embeds) and torch.equal(out.hidden_states[-1], out.last_hidden)


def test_multi_gate_audio_mask_changes_routing(golden_dir):
    lm = randomized_llm(make_config(golden_dir), seed=3)
    embeds, audio_mask = random_inputs(lm, 2)
    with torch.no_grad():
        with_mask = lm(embeds, audio_mask=audio_mask).logits
        without = lm(embeds).logits
    assert not torch.allclose(with_mask, without, atol=1e-3)
    assert torch.allclose(with_mask[:, :3], without[:, :3], atol=1e-5)  # causal: before the audio span


@pytest.mark.parametrize("variant", ["3d_multigate", "plain_top1_biases", "dense_first_normhead_linear", "yarn"])
def test_incremental_equals_full(golden_dir, variant):
    lm = randomized_llm(make_config(golden_dir, **VARIANTS[variant]), seed=7)
    embeds, _ = random_inputs(lm, 3)
    with torch.no_grad():
        full = lm(embeds).logits
        cache = lm.new_cache()
        pieces = [lm(embeds[:, :5], cache=cache).logits, lm(embeds[:, 5:8], cache=cache).logits]  # chunk with cache
        for i in range(8, embeds.shape[1]):
            step = lm(embeds[:, i : i + 1], cache=cache, attention_mask=torch.ones(2, 1), logits_last_only=True)
            pieces.append(step.logits)
    assert cache.length == embeds.shape[1]
    assert torch.allclose(torch.cat(pieces, 1), full, atol=2e-5, rtol=1e-5)


def test_left_padding_matches_unpadded(golden_dir):
    lm = randomized_llm(make_config(golden_dir, **VARIANTS["plain_top1_biases"]), seed=11)
    embeds, _ = random_inputs(lm, 4, batch=2, length=9)
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, :3] = 0  # row 1: 3 pad tokens, then 6 real ones
    pos, _ = positions_from_attention_mask(mask, three_d=False)
    nxt = torch.randn(2, 1, lm.cfg.hidden_size)
    with torch.no_grad():
        cache = lm.new_cache()
        padded = lm(embeds, position_ids=pos, attention_mask=mask, cache=cache)
        mask2 = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], 1)
        step = lm(nxt, position_ids=pos[:, -1:] + 1, attention_mask=mask2, cache=cache)
        alone = lm(torch.cat([embeds[1:, 3:], nxt[1:]], 1))
    assert torch.isfinite(padded.logits).all()
    assert torch.allclose(padded.logits[1, 3:], alone.logits[0, :6], atol=2e-5)
    assert torch.allclose(step.logits[1, 0], alone.logits[0, 6], atol=2e-5)


# ---------------------------------------------------------------- expert dispatch
def test_dispatch_groups_tokens_by_expert(golden_dir):
    cfg = make_config(golden_dir, num_experts=8, num_experts_per_tok=3, hidden_size=16, moe_intermediate_size=8)
    torch.manual_seed(0)
    moe = SparseMoE(cfg.llm)
    x = torch.randn(10, 16)
    ids = torch.randint(0, 6, (10, 3))  # experts 6 and 7 get no tokens
    weights = torch.rand(10, 3)
    calls = []
    for e, expert in enumerate(moe.experts):
        expert.register_forward_hook(lambda m, inp, out, e=e: calls.append((e, inp[0].shape[0])))
    got = dispatch_experts(x, ids, weights, moe.experts)
    dispatch_calls = list(calls)
    naive = torch.zeros_like(x)
    for t in range(10):
        for j in range(3):
            naive[t] += weights[t, j] * moe.experts[int(ids[t, j])](x[t])
    assert torch.allclose(got, naive, atol=1e-5)
    counts = torch.bincount(ids.reshape(-1), minlength=8)
    assert sorted(dispatch_calls) == [(e, int(counts[e])) for e in range(8) if counts[e]]  # each used expert once


# ---------------------------------------------------------------- construction and loading
def test_meta_construction_and_config_errors(golden_dir):
    with torch.device("meta"):
        lm = BailingMoeLM(make_config(golden_dir, **VARIANTS["no_renorm_tied_3d"]))
    keys = set(lm.state_dict())
    assert "lm_head.weight" in keys and "model.layers.0.mlp.audio_gate.weight" in keys
    assert lm.lm_head.weight is lm.model.word_embeddings.weight  # tied
    with pytest.raises(CheckpointError, match="head_dim"):
        BailingMoeLM(make_config(golden_dir, head_dim=64))
    with pytest.raises(CheckpointError, match="RoPE type"):
        BailingMoeLM(make_config(golden_dir, rope_scaling={"type": "ntk-by-parts", "factor": 2.0}))
    dense = make_config(golden_dir, first_k_dense_replace=1, num_shared_experts=0)
    with torch.device("meta"):
        keys = set(BailingMoeLM(dense).state_dict())
    assert "model.layers.0.mlp.gate_proj.weight" in keys and "model.layers.1.mlp.experts.0.up_proj.weight" in keys
    assert "model.layers.1.mlp.shared_experts.gate_proj.weight" in keys  # zero width, as upstream saves it


@pytest.mark.parametrize("variant", ["dense_first_normhead_linear", "plain_top1_biases", "no_renorm_tied_3d"])
def test_safetensors_round_trip_through_loader(golden_dir, tmp_path, variant):
    from ming_edit.model.loader import load_stack

    config = make_config(golden_dir, **VARIANTS[variant])
    lm = randomized_llm(config, seed=5)
    (tmp_path / "config.json").write_text(json.dumps(config.raw))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(golden_dir / name, tmp_path / name)  # the loader reads the text tokenizer with the LLM
    state = {"model." + k: v.contiguous() for k, v in lm.state_dict().items()}
    if config.llm.tie_word_embeddings:
        del state["model.lm_head.weight"]  # HF drops the tied copy when saving
    state["stop_head.weight"] = torch.zeros(2, 32)  # unrelated keys are left alone
    save_file(state, str(tmp_path / "model.safetensors"))
    embeds, audio_mask = random_inputs(lm, 6)
    with torch.no_grad():
        expected = lm(embeds, audio_mask=audio_mask).logits
        for _ in range(2):  # loading again must not see a mutated (normalised) head
            loaded = load_stack(tmp_path, ("llm",)).llm
            assert torch.equal(loaded(embeds, audio_mask=audio_mask).logits, expected)
            for k, v in loaded.state_dict().items():
                source = "model.model.word_embeddings.weight" if "model." + k not in state else "model." + k
                assert torch.equal(v, state[source]), k

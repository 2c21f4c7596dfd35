"""Flow head (DiT) and CFM sampler: golden parity, checkpoint layout, sampler behaviour."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ming_edit.dev.conformance.golden import check_output
import ming_edit.dev.conformance.runners_flow  # noqa: F401  (registers the flow runners)
from ming_edit.dev.conformance.runners import RUNNERS
from ming_edit.model.config import read_config
from ming_edit.model.flow_head import DiT
from ming_edit.model.loader import load_stack
from ming_edit.model.noise import ReplayNoise, TorchNoise
from ming_edit.model.sampler import epss_timesteps, sample_patch, sway, time_grid

PREFIX = "flowloss.cfm.model."
FLOW_CASES = ["dit_cfg", "dit_nocfg", "epss_schedule", "cfm_sample"]


@pytest.fixture(scope="module")
def flow_stack(golden_dir):
    return load_stack(golden_dir, ("flow_head",), device="cpu")


@pytest.mark.parametrize("name", FLOW_CASES)
def test_golden_case(flow_stack, golden_set, name):
    case = golden_set.case(name)
    with torch.inference_mode():
        outputs = RUNNERS[case.runner](flow_stack, case)
    assert set(outputs) == set(case.spec["outputs"])
    for output, tensor in outputs.items():
        check = check_output(case, output, tensor)
        assert check.passed, check


def test_cfm_sample_consumes_the_recorded_noise_exactly(flow_stack, golden_set):
    case = golden_set.case("cfm_sample")
    noise = case.noise()
    sample_patch(flow_stack.flow_head, case.input("z"), case.input("latent_history"), cfg=2.0, noise=noise)
    assert noise.remaining == 0


def test_state_dict_keys_are_the_checkpoint_keys(golden_dir):
    from safetensors import safe_open

    with safe_open(str(golden_dir / "model.safetensors"), framework="pt") as f:
        expected = {k[len(PREFIX):] for k in f.keys() if k.startswith(PREFIX)}
    with torch.device("meta"):
        dit = DiT(read_config(golden_dir))
    assert set(dit.state_dict()) == expected


def test_time_grid_helpers():
    assert torch.equal(epss_timesteps(9), torch.linspace(0, 1, 10))
    t = epss_timesteps(10)
    assert torch.allclose(sway(t, -1.0), 1 - torch.cos(math.pi * t / 2), atol=1e-7)
    assert torch.equal(time_grid(10, sway_coef=None), t)
    assert torch.equal(sway(t, 0.0), t)


# --- a qk_norm / partial-rope checkpoint written with upstream key names -----------------------

def _upstream_keys(depth: int, hidden: int, heads: int, mlp: int, latent: int, llm: int, qk: bool):
    head_dim = hidden // heads
    shapes = {
        "t_embedder.time_mlp.0.weight": (hidden, 256), "t_embedder.time_mlp.0.bias": (hidden,),
        "t_embedder.time_mlp.2.weight": (hidden, hidden), "t_embedder.time_mlp.2.bias": (hidden,),
        "x_embedder.weight": (hidden, latent), "x_embedder.bias": (hidden,),
        "c_embedder.cond_embedder.weight": (hidden, llm), "c_embedder.cond_embedder.bias": (hidden,),
        "rotary_embed.inv_freq": (head_dim // 2,),
        "final_layer.norm_final.weight": (hidden,),
        "final_layer.linear.weight": (latent, hidden), "final_layer.linear.bias": (latent,),
    }
    for i in range(depth):
        b = f"blocks.{i}."
        shapes.update({b + "norm1.weight": (hidden,), b + "norm2.weight": (hidden,),
                       b + "mlp.ff.0.0.weight": (mlp, hidden), b + "mlp.ff.0.0.bias": (mlp,),
                       b + "mlp.ff.2.weight": (hidden, mlp), b + "mlp.ff.2.bias": (hidden,)})
        for proj in ("to_q", "to_k", "to_v", "to_out.0"):
            shapes[b + f"attn.{proj}.weight"] = (hidden, hidden)
            shapes[b + f"attn.{proj}.bias"] = (hidden,)
        if qk:
            shapes[b + "attn.q_norm.weight"] = (head_dim,)
            shapes[b + "attn.k_norm.weight"] = (head_dim,)
    return shapes


def _reference_dit(w, x, t, c, history, heads, qk_norm, rope_heads=None):
    """Literal re-statement of upstream's math from the raw weights (manual softmax attention)."""
    def lin(h, name):
        return h @ w[name + ".weight"].T + w[name + ".bias"]

    def rms(h, weight):
        return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * weight

    freqs = torch.exp(torch.arange(128).float() * -(math.log(10000) / 127))
    ang = 1000 * t[:, None] * freqs[None]
    te = lin(F.silu(lin(torch.cat([ang.sin(), ang.cos()], -1), "t_embedder.time_mlp.0")), "t_embedder.time_mlp.2")
    cond = te[:, None] + lin(c, "c_embedder.cond_embedder")
    h = torch.cat([cond, lin(history, "x_embedder"), lin(x, "x_embedder")], 1)
    B, L, H = h.shape
    d = H // heads
    ang = torch.arange(L).float()[:, None] * w["rotary_embed.inv_freq"][None]
    cos, sin = ang.repeat_interleave(2, -1).cos(), ang.repeat_interleave(2, -1).sin()

    def rope(z):
        pairs = z.reshape(*z.shape[:-1], d // 2, 2)
        rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], -1).reshape(z.shape)
        out = z * cos + rotated * sin
        if rope_heads is not None:
            out = torch.cat([out[:, :rope_heads], z[:, rope_heads:]], 1)
        return out

    for i in range(len({k.split(".")[1] for k in w if k.startswith("blocks.")})):
        b = f"blocks.{i}."
        n = rms(h, w[b + "norm1.weight"])
        q, k, v = (lin(n, b + f"attn.{p}").reshape(B, L, heads, d).transpose(1, 2) for p in ("to_q", "to_k", "to_v"))
        if qk_norm:
            q, k = rms(q, w[b + "attn.q_norm.weight"]), rms(k, w[b + "attn.k_norm.weight"])
        q, k = rope(q), rope(k)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), -1) @ v
        h = h + lin(att.transpose(1, 2).reshape(B, L, H), b + "attn.to_out.0")
        n = rms(h, w[b + "norm2.weight"])
        h = h + lin(F.gelu(lin(n, b + "mlp.ff.0.0"), approximate="tanh"), b + "mlp.ff.2")
    return lin(rms(h, w["final_layer.norm_final.weight"]), "final_layer.linear")[:, -x.shape[1]:]


@pytest.mark.parametrize("rope_heads", [None, 1])
def test_qk_norm_checkpoint_loads_and_matches_reference(golden_dir, tmp_path, rope_heads):
    hidden, heads, depth, mlp_ratio = 48, 3, 3, 2.5
    raw = json.loads((golden_dir / "config.json").read_text())
    raw["ditar_config"] = {"hidden_size": hidden, "depth": depth, "num_heads": heads, "mlp_ratio": mlp_ratio,
                           "qk_norm": "rms_norm", "attn_backend": "torch", "cfg_dropout_prob": 0.1}
    if rope_heads is not None:
        raw["ditar_config"]["pe_attn_head"] = rope_heads
    (tmp_path / "config.json").write_text(json.dumps(raw))
    gen = torch.Generator().manual_seed(7)
    shapes = _upstream_keys(depth, hidden, heads, int(hidden * mlp_ratio), 16, 64, qk=True)
    weights = {k: torch.randn(s, generator=gen) * (0.3 if len(s) == 2 else 1.0) for k, s in shapes.items()}
    weights["rotary_embed.inv_freq"] = 1.0 / (500.0 ** (torch.arange(0, 16, 2).float() / 16))  # not the default
    save_file({PREFIX + k: v.contiguous() for k, v in weights.items()}, str(tmp_path / "model.safetensors"))

    dit = load_stack(tmp_path, ("flow_head",)).flow_head
    assert set(dit.state_dict()) == set(shapes)
    x, hist = torch.randn(2, 4, 16, generator=gen), torch.randn(2, 4, 16, generator=gen)
    c, t = torch.randn(2, 1, 64, generator=gen), torch.tensor([0.3, 0.8])
    with torch.no_grad():
        got = dit(x, t, c, hist)
        want = _reference_dit(weights, x, t, c, hist, heads, qk_norm=True, rope_heads=rope_heads)
        guided = dit.forward_with_cfg(x, torch.tensor(0.5), c, 2.0, hist, 4)
        uncond = _reference_dit(weights, x, torch.full((2,), 0.5), torch.zeros_like(c), hist, heads, True, rope_heads)
    assert got.shape == (2, 4, 16)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert guided.shape == (4, 4, 16)
    torch.testing.assert_close(guided[2:], uncond, atol=1e-4, rtol=1e-4)


# --- sampler behaviour -----------------------------------------------------------------------

def _inputs(batch: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, 64, generator=gen), torch.randn(batch, 5, 16, generator=gen)


def test_seeded_sampling_is_deterministic(flow_stack):
    c, hist = _inputs(1)
    a = sample_patch(flow_stack.flow_head, c, hist, cfg=2.0, noise=TorchNoise(3))
    b = sample_patch(flow_stack.flow_head, c, hist, cfg=2.0, noise=TorchNoise(3))
    other = sample_patch(flow_stack.flow_head, c, hist, cfg=2.0, noise=TorchNoise(4))
    assert torch.equal(a.sample, b.sample) and torch.equal(a.trajectory, b.trajectory)
    assert not torch.allclose(a.sample, other.sample)
    assert a.sample.dtype == torch.float32 and a.trajectory.shape == (11, 1, 5, 16)


def test_cfg_one_is_plain_conditional_flow_for_batch_one(flow_stack):
    dit = flow_stack.flow_head
    c, hist = _inputs(1, seed=1)
    result = sample_patch(dit, c, hist, cfg=1.0, noise=TorchNoise(5), steps=6)
    # The same Euler-Maruyama loop by hand, with the conditional velocity only.
    noise, t = TorchNoise(5), result.t_grid
    y = noise.randn((1, 16, 5), dtype=torch.float32, device="cpu").transpose(1, 2)
    with torch.no_grad():
        for k in range(6):
            dt = t[k + 1] - t[k]
            y1 = y + dt * dit(y, t[k], c, hist)
            y = y1 + 0.25 * 1.5 ** 0.5 * dt.abs().sqrt() * noise.randn((1, 5, 16), dtype=torch.float32, device="cpu")
    torch.testing.assert_close(result.sample, y1, atol=1e-5, rtol=1e-5)


def test_batched_sampling_matches_per_item(flow_stack):
    dit = flow_stack.flow_head
    c, hist = _inputs(2, seed=2)
    gen = torch.Generator().manual_seed(9)
    draws = [torch.randn(2, 16, 5, generator=gen)] + [torch.randn(2, 5, 16, generator=gen) for _ in range(10)]
    both = sample_patch(dit, c, hist, cfg=2.0, noise=ReplayNoise(draws))
    for i in range(2):
        single = sample_patch(dit, c[i:i + 1], hist[i:i + 1], cfg=2.0, noise=ReplayNoise([d[i:i + 1] for d in draws]))
        torch.testing.assert_close(both.sample[i:i + 1], single.sample, atol=1e-5, rtol=1e-5)


def test_bfloat16_head_keeps_a_float32_solver(golden_dir):
    dit = load_stack(golden_dir, ("flow_head",), dtype=torch.bfloat16).flow_head
    c, hist = _inputs(1)
    result = sample_patch(dit, c, hist, cfg=2.0, noise=TorchNoise(0))
    assert result.sample.dtype == torch.float32 and torch.isfinite(result.sample).all()


def test_patch_size_must_match_history(flow_stack):
    c, hist = _inputs(1)
    with pytest.raises(ValueError):
        sample_patch(flow_stack.flow_head, c, hist, cfg=2.0, noise=TorchNoise(0), patch_size=4)

"""--offload experts: routed experts in host memory, run on the host or moved per call (model/offload.py).

No GPU here: host and device are both the CPU, so nothing moves, but every call goes through the
offload code path (ExpertPlacement) and must give the very same numbers as the plain model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from ming_edit.errors import DeviceError, UsageError
from ming_edit.model import memory, session
from ming_edit.model.loader import load_stack
from ming_edit.model.moe import SparseMoE
from ming_edit.model.offload import ExpertPlacement, offload_experts
from ming_edit.options import ModelOptions

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(autouse=True)
def _fresh_cache():
    session.clear_cache()
    yield
    session.clear_cache()


def moe_layers(stack) -> list[SparseMoE]:
    return [m for m in stack.llm.modules() if isinstance(m, SparseMoE)]


def llm_pass(stack, seed: int = 0, length: int = 24) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    embeds = torch.randn(2, length, stack.config.llm.hidden_size, generator=gen, dtype=stack.dtype)
    audio = torch.zeros(2, length, dtype=torch.bool)
    audio[:, 4:12] = True  # multi_gate: audio tokens take the audio router
    return stack.llm(embeds, audio_mask=audio).logits


def test_offloaded_experts_give_the_same_logits(golden_stack):
    offloaded = load_stack(GOLDEN, "asr", device="cpu", offload="experts")
    assert offloaded.offload == "experts"
    layers = moe_layers(offloaded)
    assert layers and all(isinstance(m.placement, ExpertPlacement) for m in layers)
    assert all(m.placement is None for m in moe_layers(golden_stack))
    assert torch.equal(llm_pass(offloaded), llm_pass(golden_stack))
    assert sum(m.placement.host_calls for m in layers) > 0


def test_both_ways_of_running_an_expert_agree(golden_stack):
    """Rows at or over move_from_tokens copy the weights to the device; fewer go to the host."""
    stack = load_stack(GOLDEN, "asr", device="cpu", offload="experts")
    reference = llm_pass(golden_stack, seed=1, length=40)
    for threshold in (1, 10**9):
        for m in moe_layers(stack):
            m.placement = ExpertPlacement(m.experts, torch.device("cpu"), move_from_tokens=threshold)
        got = llm_pass(stack, seed=1, length=40)
        assert torch.allclose(got, reference, atol=1e-5, rtol=1e-5)
        moved = sum(m.placement.moved_calls for m in moe_layers(stack))
        hosted = sum(m.placement.host_calls for m in moe_layers(stack))
        assert (moved > 0 and hosted == 0) if threshold == 1 else (moved == 0 and hosted > 0)


def test_decode_steps_with_a_cache_match(golden_stack):
    stack = load_stack(GOLDEN, "asr", device="cpu", offload="experts")
    hidden = stack.config.llm.hidden_size
    embeds = torch.randn(1, 9, hidden, generator=torch.Generator().manual_seed(2))
    outs = []
    for s in (golden_stack, stack):
        cache = s.llm.new_cache()
        s.llm(embeds[:, :8], cache=cache)
        outs.append(s.llm(embeds[:, 8:], cache=cache).logits)  # one token: the per-expert decode path
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_offload_with_quantized_experts(mode):
    pytest.importorskip("torchao")
    from ming_edit.model.quantize import is_quantized

    stack = load_stack(GOLDEN, "asr", device="cpu", quantize=mode, offload="experts")
    plain = load_stack(GOLDEN, "asr", device="cpu", quantize=mode)
    layer = moe_layers(stack)[0]
    expert_weight = layer.experts[0].gate_proj.weight
    assert expert_weight.device.type == "cpu"
    assert is_quantized(expert_weight) == is_quantized(moe_layers(plain)[0].experts[0].gate_proj.weight)
    assert torch.allclose(llm_pass(stack), llm_pass(plain), atol=1e-5, rtol=1e-5)
    assert layer.placement.movable[0] == (mode != "int4" or not is_quantized(expert_weight))


def test_offload_without_experts_is_nothing(golden_stack):
    stack = load_stack(GOLDEN, "tokenizer", device="cpu", offload="experts")
    assert stack.offload == "none"
    assert offload_experts(golden_stack.audio_encoder, torch.device("cpu")) == 0
    with pytest.raises(ValueError):
        load_stack(GOLDEN, "asr", device="cpu", offload="layers")


def test_option_and_environment_are_checked(monkeypatch):
    assert ModelOptions(offload=" Experts ").offload == "experts"
    with pytest.raises(UsageError, match="unknown --offload value 'gpu'; use none or experts"):
        ModelOptions(offload="gpu")
    monkeypatch.setenv("MING_EDIT_OFFLOAD", "experts")
    assert ModelOptions().resolved_offload() == "experts"
    monkeypatch.setenv("MING_EDIT_OFFLOAD", "all")
    with pytest.raises(UsageError, match="MING_EDIT_OFFLOAD"):
        ModelOptions().resolved_offload()


def test_cli_transcribe_with_offload(tmp_path, golden_set):
    from ming_edit.cli.app import app

    wav = tmp_path / "in.wav"
    sf.write(wav, golden_set.case("e2e_edit").input("waveform")[0].numpy(), 16000, subtype="PCM_16")
    runs = []
    for extra in ([], ["--offload", "experts"]):
        session.clear_cache()
        result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                          "--seed", "3", "--max-new-tokens", "4", *extra])
        assert result.exit_code == 0, result.output
        runs.append(result.stdout)
    assert runs[0] == runs[1]
    assert [s.offload for s in session._STACKS.values()] == ["experts"]
    bad = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--offload", "gpu"])
    assert bad.exit_code == 2 and "use none or experts" in bad.output


def test_a_gpu_too_small_is_told_about_offload(monkeypatch):
    """On a CUDA device (estimated only: no GPU is touched) whose free memory holds all but the
    routed experts, the refusal names --offload experts; with it, the check passes."""
    monkeypatch.setattr(memory, "runtime_bytes", lambda *a, **k: 0)  # a tiny model: weights only
    headers = memory.read_headers(GOLDEN)
    full = memory.estimate(GOLDEN, "none", 2, "asr", "cuda", headers=headers)
    off = memory.estimate(GOLDEN, "none", 2, "asr", "cuda", headers=headers, offload="experts")
    assert off.offloaded > 0 and off.total < full.total
    monkeypatch.setattr(memory, "HEADROOM_BYTES", {"cpu": 0, "cuda": 0, "mps": 0})  # a tiny model
    free = (full.total + memory.needed_with_margin(off, "cuda")) // 2
    assert memory.needed_with_margin(off, "cuda") < free < full.total
    monkeypatch.setattr(memory, "device_free_bytes", lambda device: free)
    monkeypatch.setattr(memory, "host_available_bytes", lambda *a, **k: 64 * 2**30)
    options = ModelOptions(model=str(GOLDEN), device="cuda", quantize="none")
    cuda = torch.device("cuda")
    with pytest.raises(DeviceError, match="--offload experts .* would fit"):
        session.plan_quantize(options, GOLDEN, "asr", cuda, torch.bfloat16)
    assert session.plan_quantize(options, GOLDEN, "asr", cuda, torch.bfloat16, "experts") == "none"
    monkeypatch.setattr(memory, "host_available_bytes", lambda *a, **k: 1)
    with pytest.raises(DeviceError, match="keeps ~.* of experts in host memory"):
        session.plan_quantize(options, GOLDEN, "asr", cuda, torch.bfloat16, "experts")

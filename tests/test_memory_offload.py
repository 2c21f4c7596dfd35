"""memory.py under --offload experts: device bytes, host bytes of the routed experts, estimates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ming_edit.model import memory

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
_EXPERT = re.compile(r"model\.model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.")


@pytest.fixture(scope="module")
def headers() -> dict:
    """The golden checkpoint's headers: 3 MoE layers x 4 routed experts (+ 1 shared), 64 wide."""
    return memory.read_headers(GOLDEN)


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    """Wider experts (128 x 64, int4-friendly on the CPU) in 2 MoE layers after 1 dense layer."""
    from benchmarks.checkpoints import golden_config, write_checkpoint

    cfg = golden_config()
    cfg["llm_config"].update(hidden_size=128, moe_intermediate_size=64, num_hidden_layers=3,
                             first_k_dense_replace=1, intermediate_size=128, max_window_layers=3)
    return write_checkpoint(tmp_path_factory.mktemp("off") / "ckpt", cfg, seed=2)


def _one_expert(headers: dict, mode: str, act_bytes: int, device: str) -> int:
    sizes: dict[tuple[str, str], int] = {}
    for key, (shape, _dtype) in headers.items():
        m = _EXPERT.match(key)
        if m and memory.is_routed_expert_key(key):
            sizes[m.groups()] = sizes.get(m.groups(), 0) + memory.quantized_bytes(shape, mode, act_bytes, device)
    return max(sizes.values())


def test_routed_expert_keys():
    assert memory.OFFLOAD_CHOICES == ("none", "experts")
    assert memory.OFFLOAD_ENV == "MING_EDIT_OFFLOAD"
    for proj in ("gate_proj", "up_proj", "down_proj"):
        assert memory.is_routed_expert_key(f"model.model.layers.27.mlp.experts.63.{proj}.weight")
        assert not memory.is_routed_expert_key(f"model.model.layers.27.mlp.shared_experts.{proj}.weight")
        assert not memory.is_routed_expert_key(f"model.model.layers.0.mlp.{proj}.weight")  # dense layer
    for key in ("model.model.layers.1.mlp.gate.weight", "model.model.layers.1.mlp.audio_gate.weight",
                "model.model.layers.1.attention.query_key_value.weight", "model.model.word_embeddings.weight",
                "model.lm_head.weight", "model.model.layers.1.mlp.experts.0.gate_proj.bias",
                "audio.decoder.decoder.layers.0.mlp.gate_proj.weight", "flowloss.cfm.model.blocks.0.mlp.ff.2.weight"):
        assert not memory.is_routed_expert_key(key), key
    # every routed expert key is also a quantisable one (quantised in the host layout when offloaded)
    assert memory.is_quantizable_key("model.model.layers.2.mlp.experts.3.up_proj.weight")


@pytest.mark.parametrize("mode", memory.QUANT_MODES)
@pytest.mark.parametrize("act_bytes", [2, 4])
@pytest.mark.parametrize("task", ["all", "asr", "edit"])
def test_offload_none_is_the_old_figure(headers, mode, act_bytes, task):
    plain = memory.weight_bytes(headers, mode, act_bytes, task)
    assert memory.weight_bytes(headers, mode, act_bytes, task, offload="none") == plain
    est = memory.estimate(GOLDEN, mode, act_bytes, task, headers=headers)
    assert est.offloaded == 0 and est.weights == plain
    assert memory.estimate(GOLDEN, mode, act_bytes, task, headers=headers, offload="none") == est


@pytest.mark.parametrize("mode", memory.QUANT_MODES)
@pytest.mark.parametrize("act_bytes", [2, 4])
def test_device_plus_host_is_the_whole_model_plus_one_expert(headers, mode, act_bytes):
    # on the CPU the host and the device share one layout, so the split is exact
    none = memory.weight_bytes(headers, mode, act_bytes, "all", device="cpu")
    device = memory.weight_bytes(headers, mode, act_bytes, "all", device="cpu", offload="experts")
    host = memory.offloaded_bytes(headers, mode, act_bytes, "all")
    one = _one_expert(headers, mode, act_bytes, "cpu")
    assert host > 0 and device < none
    assert device + host == none + one
    experts = [k for k in headers if memory.is_routed_expert_key(k)]
    assert len(experts) == 3 * 4 * 3  # golden: 3 MoE layers x 4 experts x gate/up/down
    assert host == sum(memory.quantized_bytes(headers[k][0], mode, act_bytes, "cpu") for k in experts)


def test_offloaded_int4_experts_are_in_the_cpu_layout(wide):
    headers = memory.read_headers(wide)
    experts = [k for k in headers if memory.is_routed_expert_key(k)]
    assert len(experts) == 2 * 4 * 3
    assert all(memory.is_quantizable_shape(headers[k][0], "int4", "cpu") for k in experts)
    host = memory.offloaded_bytes(headers, "int4", 2)
    cpu = sum(memory.quantized_bytes(headers[k][0], "int4", 2, "cpu") for k in experts)
    cuda = sum(memory.quantized_bytes(headers[k][0], "int4", 2, "cuda") for k in experts)
    assert host == cpu and cuda > cpu  # the CUDA tile layout pads in_features to 1024
    assert host < memory.offloaded_bytes(headers, "int8", 2) < memory.offloaded_bytes(headers, "none", 2)
    # the device keeps one expert in *its* layout
    device = memory.weight_bytes(headers, "int4", 2, device="cuda", offload="experts")
    rest = memory.weight_bytes(headers, "int4", 2, device="cuda") - cuda
    assert device == rest + _one_expert(headers, "int4", 2, "cuda")


def test_estimate_with_offload(wide):
    headers = memory.read_headers(wide)
    est = memory.estimate(wide, "int8", 2, "edit", "cuda", headers=headers, offload="experts")
    assert est.offloaded == memory.offloaded_bytes(headers, "int8", 2, "edit")
    assert est.weights == memory.weight_bytes(headers, "int8", 2, "edit", device="cuda", offload="experts")
    assert est.total == est.weights + est.runtime  # the device's need; the experts are the host's
    plain = memory.estimate(wide, "int8", 2, "edit", "cuda", headers=headers)
    assert est.runtime == plain.runtime and est.weights < plain.weights
    assert memory.needed_with_margin(est, "cuda") < memory.needed_with_margin(plain, "cuda")


def test_tasks_without_the_llm_offload_nothing(headers):
    assert memory.offloaded_bytes(headers, "none", 2, "tokenizer") == 0
    assert memory.weight_bytes(headers, "none", 2, "tokenizer", offload="experts") == \
        memory.weight_bytes(headers, "none", 2, "tokenizer")


def test_a_checkpoint_without_experts_offloads_nothing(tmp_path):
    from benchmarks.checkpoints import golden_config, write_checkpoint

    cfg = golden_config()
    cfg["llm_config"]["first_k_dense_replace"] = cfg["llm_config"]["num_hidden_layers"]  # all dense
    ckpt = write_checkpoint(tmp_path / "dense", cfg, seed=4, tokenizer=False)
    headers = memory.read_headers(ckpt)
    assert not any(memory.is_routed_expert_key(k) for k in headers)
    assert memory.offloaded_bytes(headers, "int8", 2) == 0
    for mode in memory.QUANT_MODES:
        assert memory.weight_bytes(headers, mode, 2, offload="experts") == memory.weight_bytes(headers, mode, 2)
    est = memory.estimate(ckpt, "none", 2, headers=headers, offload="experts")
    assert est.offloaded == 0 and est == memory.estimate(ckpt, "none", 2, headers=headers)


def test_a_standalone_tokenizer_offloads_nothing(tmp_path):
    from benchmarks.checkpoints import mingtok_config, write_checkpoint

    ckpt = write_checkpoint(tmp_path / "tok", mingtok_config(), seed=5, tokenizer=False)
    headers = memory.read_headers(ckpt)
    assert memory.offloaded_bytes(headers, "none", 2, "tokenizer", "audio_vae") == 0
    est = memory.estimate(ckpt, "none", 2, "tokenizer", headers=headers, offload="experts")
    assert est.offloaded == 0 and est.weights == memory.weight_bytes(headers, "none", 2, "tokenizer", "audio_vae")


def test_unknown_offload_is_refused(headers):
    with pytest.raises(ValueError, match="unknown offload 'layers'"):
        memory.weight_bytes(headers, "none", 2, offload="layers")


def test_a_refusal_names_the_host_share():
    from ming_edit.errors import DeviceError

    est = memory.Estimate("int4", 3 * 10**9, 10**9, offloaded=7 * 10**9)
    with pytest.raises(DeviceError, match=r"\+ 7\.0 GB of experts in host memory"):
        memory.choose("int4", "cuda", 10**9, lambda mode: est, lambda mode: True)


def test_released_shapes_reproduce_ling_lite_and_the_targets():
    from benchmarks import released_memory as rm

    config = rm.released_config()
    headers = rm.released_headers(config)
    counts = rm.parameter_counts(headers, config)
    assert abs(counts["llm total"] / 1e9 - 16.8) < 0.05  # Ling-lite: 16.8B total, 2.75B activated
    assert abs(counts["llm active"] / 1e9 - 2.75) < 0.05
    assert 17.5e9 <= counts["total"] < 18.5e9  # Hugging Face lists the checkpoints as "18B"
    results = {(r["dtype"], r["offload"]): r for r in rm.rows(headers, config, 30.0, "all")}
    assert results[("int4", "experts")]["fits"][12] and results[("int8", "none")]["fits"][24]
    assert not results[("bf16", "none")]["fits"][24]

"""Checkpoint loader: upstream key layout, validation errors, sharding, task subsets, dtypes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from ming_edit.errors import CheckpointError
from ming_edit.model.config import read_config
from ming_edit.model.loader import (
    COMPONENTS,
    TASK_COMPONENTS,
    _unused_patterns,
    available_components,
    component_class,
    load_stack,
    prefix_for,
)
from benchmarks.checkpoints import (
    GOLDEN_DIR,
    golden_config,
    mingtok_config,
    random_state,
    upstream_key_shapes,
    write_checkpoint,
)


def _module_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().float() for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def single_ckpt(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("single"), golden_config(), seed=3)


@pytest.fixture(scope="module")
def sharded_ckpt(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("sharded"), golden_config(), seed=3, shards=4)


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


# ---- layout ----------------------------------------------------------------------------------------
def test_schema_matches_golden_checkpoint():
    with safe_open(str(GOLDEN_DIR / "model.safetensors"), framework="pt") as f:
        golden = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert upstream_key_shapes(golden_config()) == golden


@pytest.mark.parametrize("variant", ["golden", "dense_first_biases_tied", "qk_norm", "mingtok"])
def test_components_claim_upstream_keys(variant):
    """Our classes' keys are upstream keys with upstream shapes; only documented unused keys are left."""
    raw = golden_config()
    if variant == "dense_first_biases_tied":
        raw["llm_config"].update(first_k_dense_replace=1, use_bias=True, use_qkv_bias=True, tie_word_embeddings=True)
    elif variant == "qk_norm":
        raw["ditar_config"]["qk_norm"] = "rms_norm"
    elif variant == "mingtok":
        raw = mingtok_config()
    from ming_edit.model.config import parse_config

    config = parse_config(raw)
    upstream = upstream_key_shapes(raw)
    claimed = {}
    for name in available_components(config):
        with torch.device("meta"):
            module = component_class(name)(config)
        claimed.update({prefix_for(name, config) + k: tuple(v.shape) for k, v in module.state_dict().items()})
    if raw.get("llm_config", {}).get("tie_word_embeddings"):
        claimed.pop("model.lm_head.weight", None)
    assert {k: upstream[k] for k in claimed if k in upstream} == claimed  # nothing invented, shapes agree
    unclaimed = sorted(set(upstream) - set(claimed))
    documented = _unused_patterns(config)
    assert [k for k in unclaimed if not documented.fullmatch(k)] == []  # only the documented unused keys


# ---- loading ---------------------------------------------------------------------------------------
def test_sharded_equals_single(single_ckpt, sharded_ckpt):
    assert len(list(sharded_ckpt.glob("model-*.safetensors"))) == 4
    a, b = load_stack(single_ckpt), load_stack(sharded_ckpt)
    assert a.loaded == b.loaded == tuple(COMPONENTS)
    state = random_state(golden_config(), seed=3)
    for name in a.loaded:
        sa, sb = _module_state(getattr(a, name)), _module_state(getattr(b, name))
        assert sa.keys() == sb.keys()
        prefix = prefix_for(name, a.config)
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key
            assert torch.equal(sa[key], state[prefix + key].float()), key


def test_golden_loads_on_cpu_fp32_with_tokenizer(golden_dir):
    stack = load_stack(golden_dir)
    assert stack.dtype == torch.float32 and stack.device.type == "cpu"
    assert stack.text_tokenizer is not None and stack.text_tokenizer.special.audio_patch == 697
    for name in stack.loaded:
        module = getattr(stack, name)
        assert not module.training
        assert all(not p.requires_grad and p.device.type == "cpu" for p in module.parameters())


@pytest.mark.parametrize("task", ["asr", "tts", "edit", "tokenizer"])
def test_task_component_subsets(single_ckpt, task):
    stack = load_stack(single_ckpt, task)
    assert stack.loaded == TASK_COMPONENTS[task]
    for name in COMPONENTS:
        assert (getattr(stack, name) is None) == (name not in TASK_COMPONENTS[task]), name
    assert (stack.text_tokenizer is not None) == ("llm" in TASK_COMPONENTS[task])
    if task == "asr":
        assert stack.flow_head is None and stack.audio_decoder is None


def test_dtype_override(single_ckpt):
    stack = load_stack(single_ckpt, ("projector", "llm", "flow_head"), dtype=torch.bfloat16)
    assert stack.dtype == torch.bfloat16
    for name in stack.loaded:
        assert all(p.dtype == torch.bfloat16 for p in getattr(stack, name).parameters()), name
    # persistent buffers keep the dtype the component declares (rotary inv_freq in float32)
    inv = [b for n, b in stack.flow_head.named_buffers() if n.endswith("inv_freq")]
    assert inv and all(b.dtype == torch.float32 for b in inv)


def test_mingtok_standalone_layout(tmp_path):
    ckpt = write_checkpoint(tmp_path / "mingtok", mingtok_config(), tokenizer=False)
    with safe_open(str(ckpt / "model.safetensors"), framework="pt") as f:
        assert all(k.startswith(("encoder.", "decoder.")) for k in f.keys())
    stack = load_stack(ckpt)
    assert stack.loaded == ("audio_encoder", "semantic", "audio_decoder")
    assert stack.config.kind == "audio_vae" and stack.text_tokenizer is None
    assert load_stack(ckpt, "tokenizer").loaded == ("audio_encoder", "semantic", "audio_decoder")


def test_tied_lm_head_taken_from_embeddings(tmp_path):
    raw = golden_config()
    raw["llm_config"]["tie_word_embeddings"] = True
    ckpt = write_checkpoint(tmp_path / "tied", raw)
    stack = load_stack(ckpt, ("llm",))
    state = stack.llm.state_dict()
    assert torch.equal(state["lm_head.weight"], state["model.word_embeddings.weight"])


def test_unused_upstream_keys_are_accepted_unexpected_ones_rejected(tmp_path):
    state = random_state(golden_config())
    assert "audio.decoder.fc3.weight" in state  # unused by inference, present upstream
    state["audio.decoder.extra_head.weight"] = torch.zeros(2)
    ckpt = write_checkpoint(tmp_path / "extra", golden_config(), state=state)
    with pytest.raises(CheckpointError, match=r"unexpected keys .*audio\.decoder\.extra_head\.weight") as err:
        load_stack(ckpt)
    assert str(ckpt) in str(err.value)
    with pytest.warns(UserWarning, match="extra_head"):
        assert load_stack(ckpt, "asr", strict=False).llm is not None


# ---- errors ----------------------------------------------------------------------------------------
def _one_line(err: pytest.ExceptionInfo, ckpt: Path) -> str:
    message = str(err.value)
    assert "\n" not in message and str(ckpt) in message
    return message


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist") as err:
        load_stack(tmp_path / "nope")
    _one_line(err, tmp_path / "nope")


def test_no_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="no config.json") as err:
        load_stack(tmp_path)
    _one_line(err, tmp_path)


def test_unknown_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    with pytest.raises(CheckpointError, match="unknown architecture .*LlamaForCausalLM") as err:
        load_stack(tmp_path)
    _one_line(err, tmp_path)


def test_missing_shard(sharded_ckpt, tmp_path):
    ckpt = _copy(sharded_ckpt, tmp_path / "c")
    (ckpt / "model-00003-of-00004.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing: model-00003-of-00004.safetensors") as err:
        load_stack(ckpt)
    _one_line(err, ckpt)


def test_index_names_key_absent_from_shard(sharded_ckpt, tmp_path):
    ckpt = _copy(sharded_ckpt, tmp_path / "c")
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())
    key = "model.model.norm.weight"
    other = next(f for f in set(index["weight_map"].values()) if f != index["weight_map"][key])
    index["weight_map"][key] = other
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=f"lists {key} in this shard"):
        load_stack(ckpt)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_safetensors(single_ckpt, tmp_path, damage):
    ckpt = _copy(single_ckpt, tmp_path / "c")
    weights = ckpt / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(b"\xff" * 64 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt safetensors") as err:
        load_stack(ckpt)
    _one_line(err, ckpt)


def test_pickle_weights_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(golden_config()))
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not loaded")
    with pytest.raises(CheckpointError, match="only safetensors"):
        load_stack(tmp_path)


@pytest.mark.parametrize("task", ["asr", "tts", "edit"])
def test_tokenizer_only_checkpoint_for_model_task(tmp_path_factory, task):
    ckpt = tmp_path_factory.mktemp("tok")
    write_checkpoint(ckpt, mingtok_config(), tokenizer=False)
    with pytest.raises(CheckpointError, match="MingTok-Audio tokenizer checkpoint.*Ming-UniAudio-16B-A3B") as err:
        load_stack(ckpt, task)
    _one_line(err, ckpt)


def test_missing_key(tmp_path):
    state = random_state(golden_config())
    del state["model.model.layers.1.attention.dense.weight"]
    del state["stop_head.bias"]
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    with pytest.raises(CheckpointError, match=r"2 missing keys: model\.model\.layers\.1\.attention\.dense\.weight") as e:
        load_stack(ckpt)
    _one_line(e, ckpt)

def test_missing_key_only_matters_for_requested_components(tmp_path):
    state = random_state(golden_config())
    del state["stop_head.bias"]
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    assert load_stack(ckpt, "asr").stop_head is None
    with pytest.raises(CheckpointError, match=r"1 missing keys: stop_head\.bias"):
        load_stack(ckpt, "tts")


def test_wrong_shape(tmp_path):
    state = random_state(golden_config())
    state["linear_proj_audio.final_layer.linear.weight"] = torch.zeros(64, 47)
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    with pytest.raises(CheckpointError, match=r"wrong shape: linear_proj_audio\.final_layer\.linear\.weight "
                                              r"\(64, 47\) \(expected \(64, 48\)\)") as err:
        load_stack(ckpt)
    _one_line(err, ckpt)


def test_missing_tokenizer_for_text_task(single_ckpt, tmp_path):
    ckpt = _copy(single_ckpt, tmp_path / "c")
    (ckpt / "tokenizer.json").unlink()
    assert load_stack(ckpt, "tokenizer").text_tokenizer is None
    with pytest.raises(CheckpointError, match="no tokenizer.json"):
        load_stack(ckpt, "asr")


def test_config_reader_matches_golden():
    config = read_config(GOLDEN_DIR)
    assert config.kind == "bailingmm" and config.llm.head_dim == 128 and config.audio.latent_dim == 16
    assert config.flow_head.hidden_size == 64 and config.flow_head.llm_cond_dim == 64


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_cast_load_releases_shard_mappings(sharded_ckpt):
    """A dtype-converting load must not pin any (fully read) shard through a kept mmap view;
    a same-dtype CPU load keeps safetensors' zero-copy views on purpose."""
    def mapped() -> set[str]:
        return {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                if str(sharded_ckpt) in line}

    stack = load_stack(sharded_ckpt, dtype=torch.bfloat16)
    assert stack.flow_head is not None and mapped() == set()
    del stack
    kept = load_stack(sharded_ckpt)
    assert mapped()  # fp32 on CPU: tensors are views of the files
    del kept


def test_unsupported_configuration_names_the_checkpoint(tmp_path):
    raw = golden_config()
    raw["ditar_config"]["qk_norm"] = "layer_norm"  # upstream raises "Unimplemented qk_norm" too
    ckpt = write_checkpoint(tmp_path / "c", raw)
    with pytest.raises(CheckpointError, match="config.json: .*qk_norm") as err:
        load_stack(ckpt, "asr")  # every component is built on meta, even ones the task skips
    _one_line(err, ckpt)

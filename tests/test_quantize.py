"""--quantize none|int8|int4|auto: options, quantisation while loading, memory estimates, fidelity mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from ming_edit.errors import DeviceError, UsageError
from ming_edit.model import loader, memory, session
from ming_edit.model.loader import load_stack
from ming_edit.options import ModelOptions

pytest.importorskip("torchao")

from ming_edit.model import quantize as quant  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def app():
    from ming_edit.cli.app import app

    return app


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Path:
    """The golden-size checkpoint written in 3 shards (random weights, released layout)."""
    from benchmarks.checkpoints import write_checkpoint

    return write_checkpoint(tmp_path_factory.mktemp("q") / "ckpt", shards=3, seed=3)


@pytest.fixture
def wav(tmp_path, golden_set) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, golden_set.case("e2e_edit").input("waveform")[0].numpy(), 16000, subtype="PCM_16")
    return path


@pytest.fixture(autouse=True)
def _fresh_cache():
    session.clear_cache()
    yield
    session.clear_cache()


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("ming-edit: error: ")
    return lines[0]


def loaded_bytes(stack) -> int:
    """Bytes every loaded tensor holds (shared tensors once; torchao tensors: their inner data)."""
    seen, total = set(), 0
    for name in stack.loaded:
        for t in getattr(stack, name).state_dict(keep_vars=True).values():
            ptr = t.qdata.data_ptr() if quant.is_quantized(t) else t.data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                total += quant.storage_bytes(t)
    return total


# ----- the option -----------------------------------------------------------------------------------
def test_model_options_validate_quantize_once(monkeypatch):
    assert ModelOptions(quantize=" INT8 ").quantize == "int8"
    with pytest.raises(UsageError, match="unknown --quantize value 'int3'; use none, int8, int4 or auto"):
        ModelOptions(quantize="int3")
    monkeypatch.delenv("MING_EDIT_QUANTIZE", raising=False)
    assert ModelOptions().resolved_quantize() == "none"
    monkeypatch.setenv("MING_EDIT_QUANTIZE", "int4")
    assert ModelOptions().resolved_quantize() == "int4"
    assert ModelOptions(quantize="none").resolved_quantize() == "none"  # the option wins
    monkeypatch.setenv("MING_EDIT_QUANTIZE", "fp8")
    ModelOptions()  # a bad variable does not break commands that never load a model ...
    with pytest.raises(UsageError, match="MING_EDIT_QUANTIZE value 'fp8'"):
        ModelOptions().resolved_quantize()  # ... only the ones that do


@pytest.mark.parametrize("command", ["transcribe", "speak", "clone", "edit"])
def test_bad_quantize_is_one_line_exit_2(app, wav, tmp_path, command):
    args = {"transcribe": ["transcribe", wav], "speak": ["speak", "hello", "-o", tmp_path / "o.wav"],
            "clone": ["clone", wav, "hello", "-o", tmp_path / "o.wav"],
            "edit": ["edit", wav, "delete the word 'hello'", "--engine", "model"]}[command]
    result = CliRunner().invoke(app, [str(a) for a in args] + ["--model", str(GOLDEN), "--quantize", "int3"])
    assert result.exit_code == 2
    assert "unknown --quantize value 'int3'" in one_error_line(result)


def test_bad_environment_value_is_one_line_exit_2(app, wav, monkeypatch):
    monkeypatch.setenv("MING_EDIT_QUANTIZE", "int9")
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN)])
    assert result.exit_code == 2
    assert "MING_EDIT_QUANTIZE value 'int9'" in one_error_line(result)


# ----- quantisation while loading ----------------------------------------------------------------
@pytest.mark.parametrize("mode,cls,inner", [("int8", "Int8Tensor", torch.int8), ("int4", "Int4OpaqueTensor", torch.uint8)])
def test_llm_linear_layers_are_quantized_and_nothing_else(mode, cls, inner):
    stack = load_stack(GOLDEN, "all", quantize=mode)
    assert stack.quantize == mode
    linears = {n: m for n, m in stack.llm.model.layers.named_modules() if isinstance(m, torch.nn.Linear)}
    assert len(linears) == 3 * (2 + 4 * 3 + 3)  # layers x (qkv, dense, 4 experts x 3, shared x 3)
    for name, module in linears.items():
        weight = module.weight
        assert type(weight).__name__ == cls or type(weight.data).__name__ == cls, name
        assert weight.qdata.dtype == inner and tuple(weight.shape) == (module.out_features, module.in_features)
    quantized = [n for n, t in stack.llm.state_dict(keep_vars=True).items() if quant.is_quantized(t)]
    assert len(quantized) == len(linears)
    for comp in stack.loaded:  # embeddings, lm_head, routers, norms and every other component stay float32
        for name, t in getattr(stack, comp).state_dict(keep_vars=True).items():
            if comp == "llm" and quant.is_quantized(t):
                assert memory.is_quantizable_key("model." + name)
                continue
            assert not quant.is_quantized(t) and t.dtype in (torch.float32, torch.int64), f"{comp}.{name}"
    assert stack.llm.lm_head.weight.dtype == torch.float32 and not quant.is_quantized(stack.llm.lm_head.weight)


def test_int8_stack_runs_and_stays_close_to_float32(golden_set):
    case = golden_set.case("llm_full")
    ref = load_stack(GOLDEN, ("llm",)).llm
    q8 = load_stack(GOLDEN, ("llm",), quantize="int8").llm
    embeds = case.input("inputs_embeds")
    a = ref(embeds, position_ids=case.input("position_ids"), audio_mask=case.input("audio_mask").bool()).logits
    b = q8(embeds, position_ids=case.input("position_ids"), audio_mask=case.input("audio_mask").bool()).logits
    rel = float((a - b).norm() / a.norm())
    assert 0 < rel < 0.1  # really quantised, and close (docs: dev/conformance/quantized.py)


def test_int8_transcribe_and_model_edit_through_the_cli(app, wav, tmp_path, golden_set, monkeypatch, loads):
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                      "--quantize", "int8", "--max-new-tokens", "4", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)
    case = golden_set.case("e2e_edit")
    monkeypatch.setattr(session, "make_noise", lambda seed: case.noise())
    out = tmp_path / "edited.wav"
    result = CliRunner().invoke(app, ["edit", str(wav), "delete the word 'hello'", "--engine", "model", "--model",
                                      str(GOLDEN), "--device", "cpu", "--quantize", "int8", "-o", str(out),
                                      "--json", "--whole-clip"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cot"] == case.spec["observations"]["edited_text"].removesuffix("<gen_audio>")  # int8 keeps it
    audio, _ = sf.read(out, dtype="float64")
    expected = case.expected("speech").reshape(-1).double().numpy()
    assert audio.shape == expected.shape
    assert np.linalg.norm(audio - expected) / np.linalg.norm(expected) < 0.05
    assert all(s.quantize == "int8" for s in session._STACKS.values())


def test_no_full_precision_copy_of_the_llm_exists_at_once(sharded, monkeypatch):
    """Instrumented: every float weight handed to the quantiser is freed before the next shard is read."""
    alive: list[tuple[weakref.ref, int]] = []
    peaks = []
    real_quantize, real_release = quant.quantize_weight, loader.CheckpointFiles.release

    def tracking(weight, mode):
        out = real_quantize(weight, mode)
        alive.append((weakref.ref(weight), weight.numel() * weight.element_size()))
        return out

    def release(self, path):
        real_release(self, path)
        peaks.append(sum(n for ref, n in alive if ref() is not None))

    monkeypatch.setattr(quant, "quantize_weight", tracking)
    monkeypatch.setattr(loader.CheckpointFiles, "release", release)
    load_stack(sharded, "all", quantize="int8")
    assert len(alive) == 51 and len(peaks) == 3
    total_float = sum(n for _, n in alive)
    assert total_float > 0 and max(peaks) == 0  # each float copy died right after its quantisation


PEAK_CHILD = """
import json, sys
import torch
from ming_edit.model.loader import COMPONENTS, component_class, load_stack
from ming_edit.model.quantize import quantize_weight
for name in COMPONENTS:
    component_class(name)
quantize_weight(torch.randn(64, 64), sys.argv[2])  # imports and first-call set-up are not the load
def status(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
try:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # Linux: reset the peak RSS (VmHWM) to the current RSS
except OSError:
    print(json.dumps(None)); sys.exit()
before = status('VmRSS')
stack = load_stack(sys.argv[1], 'all', quantize=sys.argv[2])
print(json.dumps({'peak': status('VmHWM') - before, 'kept': status('VmRSS') - before}))
"""
FIXED_OVERHEAD = 48e6  # meta modules, text tokenizer, key tables: measured ~20 MB, whatever the weights


def test_peak_rss_of_a_quantized_load_stays_near_quantized_size_plus_a_shard(tmp_path):
    """Measured in a fresh process (VmHWM after resetting it): an LLM-heavy fp32 checkpoint in 4 shards."""
    from benchmarks.checkpoints import golden_config, write_checkpoint

    cfg = golden_config()
    cfg["llm_config"].update(hidden_size=256, num_experts=16, moe_intermediate_size=512, num_hidden_layers=8,
                             intermediate_size=512)
    ckpt = write_checkpoint(tmp_path / "big", cfg, shards=4, seed=1)
    largest = max(p.stat().st_size for p in ckpt.glob("model-*.safetensors"))
    headers = memory.read_headers(ckpt)
    float_llm = sum(memory.quantized_bytes(s, "none", 4) for k, (s, _) in headers.items() if memory.is_quantizable_key(k))
    int8_model = memory.weight_bytes(headers, "int8", 4)
    assert float_llm > 200e6 and largest < 70e6  # the float weights that get quantised: ~210 MB
    out = subprocess.run([sys.executable, "-c", PEAK_CHILD, str(ckpt), "int8"], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    if measured is None:
        pytest.skip("no /proc/self/clear_refs to reset the peak RSS")
    bound = 1.25 * (int8_model + largest) + FIXED_OVERHEAD
    assert measured["peak"] <= bound, (measured, int8_model, largest)
    assert measured["peak"] < 0.8 * float_llm  # never the whole float LLM at once
    assert measured["kept"] < int8_model + FIXED_OVERHEAD + 0.25 * largest


# ----- refusals -----------------------------------------------------------------------------------
def test_int4_without_the_cpu_kernel_is_refused_in_one_line(app, wav, monkeypatch):
    monkeypatch.setattr(quant, "int4_cpu_kernel_available", lambda: False)
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                      "--quantize", "int4"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "_weight_int4pack_mm_for_cpu" in line and "use --quantize int8" in line


def test_int4_refusals_name_what_is_missing():
    with pytest.raises(DeviceError, match="needs --dtype bf16.*--quantize int8"):
        quant.check_supported("int4", torch.device("cuda"), torch.float32)
    with pytest.raises(DeviceError, match="no kernel for --device mps; use --quantize int8"):
        quant.check_supported("int4", torch.device("mps"), torch.float32)
    quant.check_supported("int4", torch.device("cpu"), torch.float32)  # this build has the CPU kernel


def test_missing_torchao_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchao(name, *args, **kwargs):
        if name.startswith("torchao"):
            raise ImportError("No module named 'torchao'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchao)
    with pytest.raises(DeviceError, match=r"needs the torchao package \(pip install 'torchao>=0.18'"):
        quant.check_supported("int8", torch.device("cpu"), torch.float32)


# ----- memory estimates --------------------------------------------------------------------------
def test_header_reader_matches_safetensors(sharded):
    from safetensors import safe_open

    headers = memory.read_headers(sharded)
    for path in sorted(sharded.glob("model-*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                view = f.get_slice(key)
                assert headers[key] == (tuple(view.get_shape()), str(view.get_dtype()))


def test_component_key_rules_match_the_loader(sharded):
    from ming_edit.model.config import read_config

    config = read_config(sharded)
    modules = {n: loader._build_on_meta(n, config, sharded) for n in loader.available_components(config)}
    expected = loader._expected_tensors(modules, config)
    headers = memory.read_headers(sharded)
    for name, keys in expected.items():
        assert set(memory.component_keys(headers, name)) == set(keys), name
    assert memory.TASKS == {t: c for t, c in loader.TASK_COMPONENTS.items()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("task", ["all", "asr"])
def test_weight_bytes_from_headers_equal_the_loaded_tensors(sharded, dtype, task):
    headers = memory.read_headers(sharded)
    for mode in memory.QUANT_MODES:
        stack = load_stack(sharded, task, dtype=dtype, quantize=mode)
        assert memory.weight_bytes(headers, mode, dtype.itemsize, task) == loaded_bytes(stack), mode


def test_models_list_shows_header_memory(app, sharded, monkeypatch, tmp_path):
    from ming_edit.cli.models import _size

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("MING_EDIT_MODEL", raising=False)
    result = CliRunner().invoke(app, ["models", "list", "--model", str(sharded)], terminal_width=400)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "(--model)" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    sizes = [_size(loaded_bytes(load_stack(sharded, "all", dtype=torch.bfloat16, quantize=m)))
             for m in memory.QUANT_MODES]
    assert cells[5:8] == sizes  # bf16, int8, int4: the bytes a load really holds
    from ming_edit.model.config import read_config

    assert cells[8] == _size(memory.estimate(sharded, "int4", 2, "all", "cuda", offload="experts").weights)
    assert cells[9] == _size(memory.runtime_bytes(read_config(sharded), 30.0, 2))
    assert "KV cache and activations for 30 s" in result.output


# ----- will it fit, and auto ----------------------------------------------------------------------
def _estimate(mode: str) -> memory.Estimate:
    return memory.estimate(GOLDEN, mode, 4, "asr", "cpu")


def test_a_load_that_will_not_fit_says_so_before_loading(app, wav, monkeypatch, loads):
    monkeypatch.setattr(memory, "device_free_bytes", lambda device: 10 * 2**20)
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                      "--quantize", "none"])
    assert result.exit_code == 1 and loads["n"] == 0
    line = one_error_line(result)
    assert "needs ~0.1 GB on cpu with --quantize none" in line and "0.0 GB is free" in line
    monkeypatch.setenv("MING_EDIT_SKIP_MEMORY_CHECK", "1")
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                      "--quantize", "none", "--max-new-tokens", "2"])
    assert result.exit_code == 0 and loads["n"] == 1


def test_auto_takes_the_least_quantisation_that_fits_and_says_so(app, wav, monkeypatch):
    int8_needs = memory.needed_with_margin(_estimate("int8"), "cpu")
    assert memory.needed_with_margin(_estimate("none"), "cpu") > int8_needs + 1000
    monkeypatch.setattr(memory, "device_free_bytes", lambda device: int8_needs + 100)
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                      "--quantize", "auto", "--max-new-tokens", "2"])
    assert result.exit_code == 0, result.output
    assert "--quantize auto: chose int8" in result.output
    assert [s.quantize for s in session._STACKS.values()] == ["int8"]


def test_auto_with_plenty_of_memory_keeps_full_precision():
    notes = []
    options = ModelOptions(model=str(GOLDEN), device="cpu", quantize="auto", on_notice=notes.append)
    mode = session.plan_quantize(options, GOLDEN, "asr", torch.device("cpu"), torch.float32)
    assert mode == "none" and notes and notes[0].startswith("--quantize auto: chose none")


def test_auto_that_fits_nothing_is_one_line(app, wav, monkeypatch):
    monkeypatch.setattr(memory, "device_free_bytes", lambda device: 2**20)
    result = CliRunner().invoke(app, ["transcribe", str(wav), "--model", str(GOLDEN), "--device", "cpu",
                                      "--quantize", "auto"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "--quantize auto: nothing fits 0.0 GB free on cpu" in line and "needs ~" in line


# ----- fidelity mode ------------------------------------------------------------------------------
def test_dev_conformance_int8_reports_against_float32(golden_dir):
    from ming_edit.cli.dev import app as dev

    result = CliRunner().invoke(dev, ["conformance", str(golden_dir), "--quantize", "int8", "--case", "llm_full",
                                      "--case", "e2e_asr", "--case", "stop_head"], terminal_width=220)
    assert result.exit_code == 0, result.output
    assert "rel err" in result.output and "agree" in result.output
    assert "diverged: greedy step 1: float32 margin 0.00489 < 2 x logit error" in result.output
    assert "float32 tolerance" in result.output  # the stop head is not quantised: recorded tolerances
    assert "11/11 outputs pass" in result.output


@pytest.mark.parametrize("value,message", [("auto", "takes none, int8 or int4 (not auto)"),
                                           ("int3", "unknown --quantize value 'int3'")])
def test_dev_conformance_bad_quantize_is_one_line_exit_2(app, golden_dir, value, message):
    result = CliRunner().invoke(app, ["dev", "conformance", str(golden_dir), "--quantize", value])
    assert result.exit_code == 2
    assert message in one_error_line(result)


def test_quantized_judging_rules():
    from ming_edit.dev.conformance.quantized import judge_case

    ref_logits = torch.tensor([[[5.0, 1.0, 0.0], [2.0, 1.99, 0.0], [0.0, 3.0, 0.0]]])
    got_logits = ref_logits.clone()
    got_logits[0, 1] = torch.tensor([1.98, 2.0, 0.0])  # a flip where the margin (0.01) is tiny
    expected = {"new_tokens": torch.tensor([[0, 0, 1]]), "step_logits": ref_logits}
    produced = {"new_tokens": torch.tensor([[0, 1, 2]]), "step_logits": got_logits}
    results = {r.output: r for r in judge_case("e2e_asr", produced, expected, "int8")}
    assert results["new_tokens"].status == "diverged" and results["new_tokens"].passed
    assert results["step_logits"].note == "steps 0..1"
    expected["step_logits"] = torch.tensor([[[5.0, 1.0, 0.0], [4.0, 1.0, 0.0], [0.0, 3.0, 0.0]]])
    produced["step_logits"] = expected["step_logits"].clone()
    results = {r.output: r for r in judge_case("e2e_asr", produced, expected, "int8")}
    assert results["new_tokens"].status == "FAIL"  # margin 3, no logit error: a real bug

"""Hardening of the model path (issue 8, section 6): untrusted checkpoints and user text.

Every refusal is one line, with the exit code of ming_edit/errors.py (checkpoint: 3, usage: 2),
answered within seconds and, for user text, before the weights load.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from benchmarks.checkpoints import golden_config, mingtok_config, random_state, upstream_key_shapes, write_checkpoint
from ming_edit.errors import CheckpointError, UsageError
from ming_edit.model.config import parse_config, read_config
from ming_edit.model.loader import load_stack
from ming_edit.model.text_tokenizer import TextTokenizer

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def base_ckpt(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("base"), golden_config(), seed=1)


@pytest.fixture(scope="module")
def sharded_ckpt(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("sharded"), golden_config(), seed=1, shards=3)


@pytest.fixture(scope="module")
def cli():
    from ming_edit.cli.app import app

    return app


def invoke(cli, args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("ming-edit: error: ")
    return lines[0]


def refused(ckpt: Path, match: str, task: str = "asr", **kwargs) -> str:
    """load_stack refuses ``ckpt`` with one CheckpointError line naming it, within seconds."""
    start = time.monotonic()
    with pytest.raises(CheckpointError, match=match) as err:
        load_stack(ckpt, task, **kwargs)
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "\n" not in message and str(ckpt) in message and "Traceback" not in message
    return message


def with_config(src: Path, dest: Path, config: dict | str) -> Path:
    shutil.copytree(src, dest)
    text = config if isinstance(config, str) else json.dumps(config)
    (dest / "config.json").write_text(text, encoding="utf-8")
    return dest


def speech_wav(path: Path, seconds: float = 2.0) -> Path:
    rng = np.random.default_rng(0)
    sf.write(path, (0.3 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
    return path


# ---- 1. config fields: type and range before any module is built --------------------------------
def _set(path: str, value):
    def mutate(raw):
        *parents, leaf = path.split(".")
        node = raw
        for name in parents:
            node = node[name]
        node[leaf] = value
    return mutate


BAD_FIELDS = [
    ("llm_config.hidden_size", -64, r"llm_config\.hidden_size must be a positive integer, got -64"),
    ("llm_config.vocab_size", 0, r"llm_config\.vocab_size must be a positive integer, got 0"),
    ("llm_config.num_attention_heads", True, r"num_attention_heads must be a positive integer, got True"),
    ("llm_config.num_hidden_layers", 1e9, r"num_hidden_layers must be a positive integer, got 1000000000\.0"),
    ("llm_config.head_dim", "128", r"llm_config\.head_dim must be a positive integer, got \"128\""),
    ("llm_config.hidden_size", {"a": 1}, r"hidden_size must be a positive integer, got an object"),
    ("llm_config.num_experts", [4], r"llm_config\.num_experts must be a positive integer, got a list"),
    ("llm_config.moe_intermediate_size", -32, r"moe_intermediate_size must be a positive integer"),
    ("llm_config.rope_theta", float("nan"), r"rope_theta must be a positive finite number"),
    ("llm_config.rope_scaling", [1, 2], r"llm_config\.rope_scaling must be a JSON object, got a list"),
    ("llm_config", [1, 2], r"llm_config must be a JSON object, got a list"),
    ("audio_tokenizer_config.enc_kwargs.backbone", [64], r"enc_kwargs\.backbone must be a JSON object"),
    ("audio_tokenizer_config.enc_kwargs.backbone.hidden_size", -4, r"backbone\.hidden_size must be a positive"),
    ("audio_tokenizer_config.dec_kwargs.backbone.num_hidden_layers", 0, r"backbone\.num_hidden_layers must be"),
    ("audio_tokenizer_config.enc_kwargs.latent_dim", "16", r"enc_kwargs\.latent_dim must be a positive integer"),
    ("audio_tokenizer_config.semantic_module_kwargs.whisper_encoder.n_layer", -1, r"n_layer must be a positive"),
    ("audio_tokenizer_config.patch_size", 0, r"patch_size must be a positive integer \(or -1\)"),
    ("ditar_config.depth", -2, r"ditar_config\.depth must be a positive integer, got -2"),
    ("ditar_config.num_heads", 2.5, r"ditar_config\.num_heads must be a positive integer, got 2\.5"),
    ("ditar_config.mlp_ratio", {"x": 1}, r"ditar_config\.mlp_ratio must be a positive finite number"),
    ("ditar_config", [], r"ditar_config must be a JSON object, got a list"),
]


@pytest.mark.parametrize("field, value, match", BAD_FIELDS, ids=[f"{f}={v!r}" for f, v, _ in BAD_FIELDS])
def test_bad_config_fields_are_refused_before_building(base_ckpt, tmp_path, field, value, match):
    raw = golden_config()
    _set(field, value)(raw)
    ckpt = with_config(base_ckpt, tmp_path / "c", json.dumps(raw))  # NaN is written as JSON NaN
    refused(ckpt, match)


def test_bad_mingtok_field_is_refused(tmp_path):
    raw = mingtok_config()
    raw["dec_kwargs"]["output_dim"] = -320
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=r"dec_kwargs\.output_dim must be a positive integer, got -320"):
        read_config(tmp_path)


def test_bad_config_is_one_line_exit_3_on_the_cli(cli, base_ckpt, tmp_path, loads):
    raw = golden_config()
    raw["llm_config"]["hidden_size"] = -64
    ckpt = with_config(base_ckpt, tmp_path / "c", raw)
    result = invoke(cli, ["transcribe", speech_wav(tmp_path / "a.wav"), "--model", ckpt])
    assert result.exit_code == 3 and "hidden_size must be a positive integer" in one_error_line(result)
    assert loads["n"] == 0


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_refused(base_ckpt, tmp_path, depth):
    """Past the recursion limit (json's own RecursionError) and below it (later code would recurse)."""
    deep = "[" * depth + "]" * depth
    text = json.dumps(golden_config()).replace('"embedding_dropout"', f'"deep": {deep}, "embedding_dropout"', 1)
    ckpt = with_config(base_ckpt, tmp_path / "c", text)
    refused(ckpt, "JSON nested (deeper than 32 levels|too deeply)")


def test_deeply_nested_index_is_refused(sharded_ckpt, tmp_path):
    ckpt = shutil.copytree(sharded_ckpt, tmp_path / "c")
    (ckpt / "model.safetensors.index.json").write_text('{"weight_map": ' + "[" * 50_000 + "]" * 50_000 + "}")
    refused(ckpt, "JSON nested too deeply")


def test_huge_integer_literal_is_refused(base_ckpt, tmp_path):
    text = json.dumps(golden_config()).replace('"hidden_size": 64', '"hidden_size": ' + "9" * 5000, 1)
    refused(with_config(base_ckpt, tmp_path / "c", text), "unreadable config")


@pytest.mark.parametrize("field, value, match", [
    ("llm_config.num_hidden_layers", 10**9, r"num_hidden_layers = 1000000000 needs at least 4000000000 tensors"),
    ("llm_config.num_experts", 10**6, r"num_experts x MoE layers = 3000000 needs at least"),
    ("ditar_config.depth", 10**9, r"ditar_config\.depth = 1000000000 needs"),
    ("audio_tokenizer_config.enc_kwargs.backbone.num_hidden_layers", 10**9, r"enc_kwargs\.backbone\.num_hidden_layers"),
    ("audio_tokenizer_config.semantic_module_kwargs.whisper_encoder.n_layer", 10**7, r"whisper_encoder\.n_layer"),
    ("llm_config.vocab_size", 10**15, r"llm_config\.vocab_size = 10{15} is more than the weight files could hold"),
    ("audio_tokenizer_config.dec_kwargs.backbone.hidden_size", 2**62, r"dec_kwargs\.backbone\.hidden_size = "),
])
def test_counts_and_sizes_are_bounded_by_the_weight_files(base_ckpt, tmp_path, field, value, match):
    raw = golden_config()
    _set(field, value)(raw)
    refused(with_config(base_ckpt, tmp_path / "c", raw), match)


def test_overflowing_product_is_one_line(base_ckpt, tmp_path):
    raw = golden_config()
    raw["ditar_config"]["mlp_ratio"] = 1e300  # hidden * ratio overflows on the meta device
    refused(with_config(base_ckpt, tmp_path / "c", raw), "unsupported flow_head configuration")


def test_count_bound_uses_the_shard_index(sharded_ckpt, tmp_path):
    raw = golden_config()
    raw["llm_config"]["num_hidden_layers"] = 10**9
    refused(with_config(sharded_ckpt, tmp_path / "c", raw), "the weight files hold")


def _structure_config() -> dict:
    from benchmarks.load_checkpoint import structure_config

    return structure_config()


def _mid_config() -> dict:
    from benchmarks.generation_speed import mid_config

    return mid_config()


@pytest.mark.parametrize("make", [golden_config, mingtok_config, _structure_config, _mid_config])
def test_generated_configs_pass_the_checks(make):
    """The configs benchmarks/ writes pass both the field checks and the weight-file bounds."""
    from ming_edit.model.checks import check_fits_weights

    raw = make()
    config = parse_config(raw)
    shapes = upstream_key_shapes(raw)
    check_fits_weights(config, len(shapes), 4 * sum(math.prod(s) for s in shapes.values()), "ckpt")


# ---- 2. weight files stay inside the checkpoint folder ---------------------------------------------
def _point_index(ckpt: Path, name) -> None:
    index_path = ckpt / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    first = sorted(set(index["weight_map"].values()))[0]
    index["weight_map"] = {k: (name if v == first else v) for k, v in index["weight_map"].items()}
    index_path.write_text(json.dumps(index))


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "not_a_string", "nul"])
def test_shard_paths_are_confined_to_the_folder(sharded_ckpt, tmp_path, kind):
    ckpt = shutil.copytree(sharded_ckpt, tmp_path / "c")
    outside = tmp_path / "outside.safetensors"
    shutil.copyfile(ckpt / "model-00001-of-00003.safetensors", outside)
    name = {"absolute": str(outside), "dotdot": "../outside.safetensors", "symlink": "link.safetensors",
            "not_a_string": ["model-00001-of-00003.safetensors"], "nul": "model\x00.safetensors"}[kind]
    if kind == "symlink":
        os.symlink(outside, ckpt / "link.safetensors")
    _point_index(ckpt, name)
    match = {"absolute": "outside the checkpoint folder", "dotdot": "outside the checkpoint folder",
             "symlink": "links to .* outside the checkpoint folder", "not_a_string": "is not a file name",
             "nul": "is not a file name"}[kind]
    refused(ckpt, match)


def test_single_file_symlink_out_of_the_folder_is_refused(base_ckpt, tmp_path):
    ckpt = shutil.copytree(base_ckpt, tmp_path / "c")
    (ckpt / "model.safetensors").rename(tmp_path / "elsewhere.safetensors")
    os.symlink(tmp_path / "elsewhere.safetensors", ckpt / "model.safetensors")
    refused(ckpt, "links to .* outside the checkpoint folder")


def test_hugging_face_cache_snapshot_links_into_blobs_still_load(sharded_ckpt, tmp_path):
    repo = tmp_path / "models--inclusionAI--Ming-UniAudio-16B-A3B"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for i, path in enumerate(sorted(sharded_ckpt.iterdir())):
        shutil.copyfile(path, blobs / f"blob{i}")
        os.symlink(f"../../blobs/blob{i}", snapshot / path.name)
    assert load_stack(snapshot, "asr").llm is not None


# ---- 3. weights: floating point and finite ---------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path, bad):
    state = random_state(golden_config())
    state["model.model.layers.1.attention.dense.weight"][3, 5] = bad
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    refused(ckpt, r"model\.model\.layers\.1\.attention\.dense\.weight has NaN or infinite values", task="tts")


def test_integer_weights_are_refused_from_the_header(tmp_path):
    state = random_state(golden_config())
    key = "flowloss.cfm.model.final_layer.linear.weight"
    state[key] = torch.zeros(state[key].shape, dtype=torch.int64)
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    refused(ckpt, rf"stored as integers or booleans, not floating point: {key} \(I64\)", task="tts")


def test_values_that_overflow_the_requested_dtype_are_named(tmp_path):
    state = random_state(golden_config())
    state["stop_head.weight"][0, 0] = 1e6  # finite in float32, inf in float16
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    refused(ckpt, r"stop_head\.weight has values beyond the range of float16", task="tts", dtype=torch.float16)
    assert load_stack(ckpt, ("stop_head",)).stop_head is not None  # fine in float32


def test_nan_weights_end_speak_with_one_line(cli, tmp_path):
    state = random_state(golden_config())
    state["model.model.norm.weight"][0] = float("nan")
    ckpt = write_checkpoint(tmp_path / "c", golden_config(), state=state)
    out = tmp_path / "x.wav"
    result = invoke(cli, ["speak", "hello there", "-o", out, "--model", ckpt, "--device", "cpu"])
    assert result.exit_code == 3 and "model.model.norm.weight has NaN" in one_error_line(result)
    assert not out.exists()


# ---- 4. control tokens in user text ----------------------------------------------------------------
def test_control_tokens_come_from_the_tokenizer(tmp_path):
    tok = TextTokenizer.from_dir(GOLDEN)
    for token in ("<|endoftext|>", "<gen_audioPatch>", "<audio>", "<role>", "<|reserved_token_7|>", "<AUDIO>"):
        assert token in tok.control_tokens
        assert tok.find_control_token(f"say {token} now") == token
    assert tok.find_control_token("a < b and c > d, [x] <b>") is None
    # a checkpoint declaring its own special token: found without any hard-coded list
    for name in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copyfile(GOLDEN / name, tmp_path / name)
    settings = json.loads((GOLDEN / "tokenizer_config.json").read_text())
    settings["additional_special_tokens"] = ["<my_control>"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    assert TextTokenizer.from_dir(tmp_path).find_control_token("x<my_control>y") == "<my_control>"


def test_prompt_builders_refuse_control_tokens(golden_set):
    from ming_edit.model.prompts import asr_prompt, edit_prompt, tts_prompt
    from ming_edit.ops.model_phrasing import edit_instruction

    tok = TextTokenizer.from_dir(GOLDEN)
    with pytest.raises(UsageError, match="hotword 'Ming<role>' contains '<role>'"):
        asr_prompt(tok, 16000, hotwords=["Ming<role>"])
    with pytest.raises(UsageError, match=re.escape("--lang contains '<|endoftext|>'")):
        asr_prompt(tok, 16000, language="English<|endoftext|>")
    with pytest.raises(UsageError, match="the text contains '<gen_audioPatch>'"):
        tts_prompt(tok, "hi <gen_audioPatch>", "ref", 50)
    with pytest.raises(UsageError, match="reference transcript contains '<audio>'"):
        tts_prompt(tok, "hi", "ref <audio>", 50)
    with pytest.raises(UsageError, match="edit instruction contains '</edit>'"):
        edit_prompt(tok, 16000, edit_instruction("delete_word", target="um</edit>"))
    assert edit_prompt(tok, 16000, edit_instruction("delete_word", target="um")).length > 0


@pytest.mark.parametrize("args, needle", [
    (["speak", "hello <|endoftext|> world"], "the text contains '<|endoftext|>'"),
    (["speak", "hello world", "--voice", "{ref}", "--voice-text", "my <role>HUMAN</role> voice"],
     "reference transcript contains '<role>'"),
    (["clone", "{ref}", "say <gen_audioPatch> this"], "the text contains '<gen_audioPatch>'"),
    (["clone", "{ref}", "say this", "--ref-text", "ref <audio>"], "reference transcript contains '<audio>'"),
])
def test_speak_and_clone_refuse_control_tokens_before_loading(cli, tmp_path, loads, args, needle):
    ref = speech_wav(tmp_path / "ref.wav")
    out = tmp_path / "x.wav"
    result = invoke(cli, [a.replace("{ref}", str(ref)) for a in args] + ["-o", out, "--model", GOLDEN])
    assert result.exit_code == 2 and needle in one_error_line(result)
    assert loads["n"] == 0 and not out.exists()


def test_transcribe_refuses_control_tokens_in_hotwords_and_lang(cli, tmp_path, loads):
    wav = speech_wav(tmp_path / "a.wav")
    hot = tmp_path / "hot.txt"
    hot.write_text("Ming\nflow <audio> matching\n")
    result = invoke(cli, ["transcribe", wav, "--context", hot, "--model", GOLDEN])
    assert result.exit_code == 2 and "contains '<audio>'" in one_error_line(result)
    result = invoke(cli, ["transcribe", wav, "--lang", "English<|endoftext|>", "--model", GOLDEN])
    assert result.exit_code == 2 and "--lang contains '<|endoftext|>'" in one_error_line(result)
    assert loads["n"] == 0


# ---- 5. bounded inputs -----------------------------------------------------------------------------
def test_speak_text_beyond_the_limit_is_refused_up_front(cli, tmp_path, loads):
    from ming_edit.pipelines.speak import MAX_TEXT_CHARS, check_text

    assert len(check_text("ab " * (MAX_TEXT_CHARS // 3))) <= MAX_TEXT_CHARS  # at the limit: accepted
    out = tmp_path / "x.wav"
    start = time.monotonic()
    result = invoke(cli, ["speak", "hello there " * 10_000, "-o", out, "--model", GOLDEN])
    line = one_error_line(result)
    assert result.exit_code == 2 and "at most 20,000" in line and "split" in line
    assert time.monotonic() - start < 10 and loads["n"] == 0 and not out.exists()


def test_long_reference_transcript_is_refused(cli, tmp_path, loads):
    ref = speech_wav(tmp_path / "ref.wav")
    result = invoke(cli, ["clone", ref, "say this", "--ref-text", "word " * 1000, "-o", tmp_path / "x.wav",
                          "--model", GOLDEN])
    assert result.exit_code == 2 and "the limit is 2,000" in one_error_line(result)
    assert loads["n"] == 0


@pytest.mark.parametrize("lang", ["x" * 41, "English\tfoo", "Eng\nlish"])
def test_lang_is_a_short_single_line_name(cli, tmp_path, loads, lang):
    result = invoke(cli, ["transcribe", speech_wav(tmp_path / "a.wav"), "--lang", lang, "--model", GOLDEN])
    assert result.exit_code == 2 and "--lang takes a language" in one_error_line(result)
    assert loads["n"] == 0


def test_hotword_files_are_bounded_and_parsed_in_linear_time(cli, tmp_path, loads):
    from ming_edit.pipelines.transcribe import MAX_HOTWORDS, read_hotwords

    wav = speech_wav(tmp_path / "a.wav")
    huge = tmp_path / "huge.txt"
    huge.write_text("".join(f"term{i}\n" for i in range(1_100_000)))  # ~12 MB: the 1.1 M lines
    start = time.monotonic()
    result = invoke(cli, ["transcribe", wav, "--context", huge, "--model", GOLDEN])
    assert result.exit_code == 2 and "the limit is 1,000,000" in one_error_line(result)
    assert time.monotonic() - start < 5
    many = tmp_path / "many.txt"
    many.write_text(",".join(f"t{i}" for i in range(MAX_HOTWORDS + 1)))
    with pytest.raises(UsageError, match="more than 10,000 terms"):
        read_hotwords(many)
    limit = tmp_path / "limit.txt"  # exactly the limit, with duplicates: accepted, quickly
    limit.write_text("\n".join(f"name {i % MAX_HOTWORDS}" for i in range(3 * MAX_HOTWORDS)))
    start = time.monotonic()
    assert len(read_hotwords(limit)) == MAX_HOTWORDS
    assert time.monotonic() - start < 2
    assert loads["n"] == 0

"""Text tokenizer and prompt builders against the golden prompt cases (all exact)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ming_edit.dev.conformance.golden import check_output
from ming_edit.dev.conformance.runners import all_runners
from ming_edit.errors import CheckpointError
from ming_edit.model import prompts
from ming_edit.ops import model_phrasing as phrasing
from ming_edit.model.config import read_config
from ming_edit.model.text_tokenizer import TextTokenizer

PROMPT_CASES = ["prompt_asr", "prompt_asr_lang", "prompt_asr_context", "prompt_edit", "prompt_edit_cot", "prompt_tts"]
README_IDS = {  # "Special token ids in this tokenizer" of tests/golden/README.md
    "<|startoftext|>": 420, "<|endoftext|>": 421, "<role>": 680, "</role>": 681, "<audio>": 698,
    "</audio>": 699, "<audioPatch>": 697, "<gen_audio>": 701, "</gen_audio>": 702, "<gen_audioPatch>": 700,
    "<edit>": 708, "</edit>": 709, "<prompt>": 710, "</prompt>": 711, "<answer>": 712, "<cot_text>": 713,
    "</cot_text>": 714, "<end_of_audio>": 696,
}


@pytest.fixture(scope="module")
def tok(golden_dir) -> TextTokenizer:
    return TextTokenizer.from_dir(golden_dir)


@pytest.fixture(scope="module")
def text_stack(golden_dir, tok):
    """What the prompt runners read from a ModelStack: the tokenizer and the config (no weights)."""
    return SimpleNamespace(path=golden_dir, config=read_config(golden_dir), text_tokenizer=tok)


@pytest.mark.parametrize("name", PROMPT_CASES)
def test_golden_prompt_case(golden_set, text_stack, name):
    case = golden_set.case(name)
    produced = all_runners()[case.runner](text_stack, case)
    assert set(produced) == set(case.spec["outputs"])
    for output, tensor in produced.items():
        assert tensor.dtype == torch.int64
        assert check_output(case, output, tensor).passed, output
    decoded = case.spec["observations"]["decoded"]
    assert text_stack.text_tokenizer.decode(produced["input_ids"][0].tolist()) == decoded


def test_special_ids_match_readme(tok):
    for token, expected in README_IDS.items():
        assert tok.token_to_id(token) == expected, token
    s = tok.special
    assert (s.audio_start, s.audio_end, s.audio_patch, s.gen_audio_start, s.answer, s.end_of_text) == (
        698, 699, 697, 701, 712, 421)
    assert tok.eos_id == tok.pad_id == 421 and tok.bos_id == 420
    with pytest.raises(KeyError):
        tok.token_to_id("<not-a-token>")


def test_encode_decode(tok):
    text = "<role>HUMAN</role>hello world<audio><audioPatch></audio><gen_audio>"
    ids = tok.encode(text)
    assert ids[0] == 680 and ids[-4:] == [698, 697, 699, 701]  # added tokens split out of raw text
    assert tok.decode(ids) == text  # specials kept, no space clean-up
    assert tok.decode(ids, skip_special_tokens=True) == "HUMANhello world"
    assert tok.encode("") == []  # no bos/eos added (upstream post-processor is empty)
    assert tok.decode([701]) == "<gen_audio>"  # generate_edit's switch test


def test_high_level_builders_equal_golden(golden_set, tok):
    n = int(golden_set.case("prompt_asr").input("waveform").shape[-1])
    expected = lambda name: golden_set.case(name).expected("input_ids")  # noqa: E731
    assert torch.equal(prompts.asr_prompt(tok, n).input_ids, expected("prompt_asr"))
    assert torch.equal(prompts.asr_prompt(tok, n, language="English").input_ids, expected("prompt_asr_lang"))
    hot = ["Golden Fixture", "Ming Tok", "flow matching", "Bailing", "semantic module"]
    assert torch.equal(prompts.asr_prompt(tok, n, hotwords=hot).input_ids, expected("prompt_asr_context"))
    instruction = phrasing.edit_instruction("delete_word", target="hello")
    assert torch.equal(prompts.edit_prompt(tok, n, instruction, use_cot=False).input_ids, expected("prompt_edit"))
    cot = prompts.edit_prompt(tok, n, instruction)
    assert torch.equal(cot.input_ids, expected("prompt_edit_cot"))
    assert cot.audio_placeholder_loc_lens.tolist() == [[[cot.audio_start, 20]]]
    assert torch.equal(cot.audio_placeholder_loc_lens, golden_set.case("prompt_edit_cot").expected("audio_placeholder_loc_lens"))
    assert int(cot.input_ids[0, cot.audio_start - 1]) == tok.special.audio_start


def test_tts_prompt_matches_e2e_fixture(golden_set, tok):
    case = golden_set.case("e2e_tts")
    frames = prompts.frame_count(int(case.input("prompt_waveform").shape[-1]))
    assert frames == 61
    p = prompts.tts_prompt(tok, case.params["text"], case.params["prompt_text"], frames, patch_size=5)
    assert torch.equal(p.input_ids, case.expected("prompt_input_ids"))
    ids = p.input_ids[0].tolist()
    assert tok.special.audio_end not in ids and ids[-12:] == [tok.special.audio_patch] * 12
    assert p.n_audio_patches == 12 and ids[p.audio_start - 1] == tok.special.audio_start
    assert p.waveform_length is None


@pytest.mark.parametrize("samples,patch,count", [(32123, 5, 20), (1600, 5, 1), (1599, 5, 1), (1, 5, 0),
                                                 (3200, 4, 2), (32000, 1, 100)])
def test_audio_patch_count(samples, patch, count):
    assert prompts.audio_patch_count(samples, patch) == count


def test_edit_instruction_texts():
    assert phrasing.edit_instruction("delete_word", target="hello") == (
        "<prompt>Please recognize the language of this speech and transcribe it. And delete the word 'hello'.\n</prompt>")
    assert phrasing.edit_instruction("insert_before_index", text="实现", index=3).endswith(
        "And insert '实现' before the character or word at index 3.\n</prompt>")  # demo "Ins"
    assert "And substitute '盘活' with '创造'." in phrasing.edit_instruction("substitute", target="盘活", text="创造")
    assert phrasing.wrap_edit_instruction(phrasing.EDIT_LEAD + "And denoise the audio.") == phrasing.edit_instruction("denoise")
    assert "denoise" not in phrasing.COT_OPS and "delete" in phrasing.COT_OPS
    with pytest.raises(KeyError):
        phrasing.edit_instruction("reverse")
    assert prompts.hotword_instruction([" a ", "", "b"]) == prompts.ASR_INSTRUCTION + prompts.HOTWORDS_LEAD + "a,b"


def test_tokenizer_file_errors(tmp_path, golden_dir):
    with pytest.raises(CheckpointError, match="no tokenizer.json"):
        TextTokenizer.from_dir(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable tokenizer"):
        TextTokenizer.from_dir(tmp_path)


def test_declared_tokens_missing_from_tokenizer_json_are_added(tmp_path, golden_dir):
    for name in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copyfile(golden_dir / name, tmp_path / name)
    config = json.loads((golden_dir / "tokenizer_config.json").read_text())
    config["additional_special_tokens"].append("<|brand_new|>")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    tok = TextTokenizer.from_dir(tmp_path)
    new_id = tok.token_to_id("<|brand_new|>")
    assert new_id >= 715 and tok.encode("a<|brand_new|>")[-1] == new_id


def test_not_a_ming_tokenizer(tmp_path, golden_dir):
    data = json.loads((golden_dir / "tokenizer.json").read_text())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "<audioPatch>"]
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="missing special tokens <audioPatch>"):
        TextTokenizer.from_dir(tmp_path)


def test_prompt_ids_layout(tok):
    p = prompts.understanding_prompt(tok, "hi", 320 * 12, audio_first=False, patch_size=3)
    assert p.input_ids.shape == p.attention_mask.shape and p.attention_mask.sum() == p.length
    assert p.audio_placeholder_loc_lens.tolist() == [[[p.audio_start, 4]]]
    assert p.waveform_length.tolist() == [3840]
    ids = p.input_ids[0].tolist()
    assert ids[p.audio_start:p.audio_start + 4] == [tok.special.audio_patch] * 4
    assert ids[p.audio_start + 4] == tok.special.audio_end
    assert Path(prompts.__file__).name == "prompts.py"

"""Instruction parser: the data table tests/data/plan_cases.tsv, plus the parser's own rules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ming_edit.errors import UsageError
from ming_edit.ops.model_phrasing import operation_phrase, plan_phrase
from ming_edit.ops.operation import Operation, Plan
from ming_edit.ops.parser import normalise_numbers, parse_instruction

CASES = Path(__file__).parent / "data" / "plan_cases.tsv"


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        instruction, expected = line.split("\t")
        rows.append((instruction, expected))
    return rows


def _same(got: object, want: object) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    return got == want


@pytest.mark.parametrize("instruction,expected", _rows(), ids=lambda v: v[:40] if isinstance(v, str) else v)
def test_plan_table(instruction: str, expected: str) -> None:
    if expected == "ERROR":
        with pytest.raises(UsageError):
            parse_instruction(instruction)
        return
    want = json.loads(expected)
    got = parse_instruction(instruction).to_json()
    assert [o["op"] for o in got] == [o["op"] for o in want], got
    for g, w in zip(got, want):
        assert set(g) == set(w), (g, w)
        assert all(_same(g[k], w[k]) for k in w), (g, w)


def test_table_is_substantial_and_covers_every_operation() -> None:
    ops = {o["op"] for _, e in _rows() if e != "ERROR" for o in json.loads(e)}
    assert ops == {"volume", "loudness", "peak", "speed", "pitch", "denoise", "channels", "resample", "convert",
                   "cut", "keep", "pad", "trim", "pauses", "fade", "level", "compress", "highpass", "hum", "delete", "insert", "substitute",
                   "emotion", "dialect", "add_sound"}
    assert len(_rows()) >= 100


def test_every_phrase_compiles() -> None:
    from ming_edit.ops.phrases import TABLE

    for phrase in TABLE:
        phrase.compiled()


@pytest.mark.parametrize("text,want", [
    ("two semitones", "2 semitones"), ("twenty-five percent", "25 percent"),
    ("one and a half times", "1.5 times"), ("两个半音", "2个半音"), ("零点八倍", "0.8倍"),
    ("十二个半音", "12个半音"), ("百分之二十", "20%"), ("负三个半音", "-3个半音"),
    ("慢一点", "慢一点"), ("四川话", "四川话"), ("一个八度", "1个八度"),
])
def test_number_words_become_digits(text: str, want: str) -> None:
    assert normalise_numbers(text) == want


def test_quoted_text_is_kept_verbatim() -> None:
    plan = parse_instruction("replace 'two and three' with \"Four, five.\"")
    assert plan.to_json() == [{"op": "substitute", "old": "two and three", "new": "Four, five."}]


def test_noise_word_vs_delete() -> None:
    assert parse_instruction("remove the background noise").operations[0].op == "denoise"
    assert parse_instruction("remove the word um").operations[0].op == "delete"
    assert parse_instruction("remove 'noise'").to_json() == [{"op": "delete", "text": "noise"}]


def test_engine_follows_operations() -> None:
    assert parse_instruction("denoise and make it 20% faster").engine == "dsp"
    assert parse_instruction("denoise and delete 'um'").engine == "model"


def test_unknown_lists_examples_in_one_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_instruction("make it better")
    message = str(info.value)
    assert "\n" not in message and "normalize for podcasts" in message and "make it better" in message


def test_freeform_when_the_model_is_asked() -> None:
    plan = parse_instruction("make it better", allow_freeform=True)
    assert plan.to_json() == [{"op": "freeform", "instruction": "make it better"}]
    assert plan_phrase(plan.operations) == "make it better"


def test_true_peak_needs_a_loudness_step() -> None:
    with pytest.raises(UsageError):
        parse_instruction("denoise and a true peak of -2 dB")


@pytest.mark.parametrize("op,want", [
    (Operation("speed", {"factor": 0.7}), "adjusts the speed to 0.7"),
    (Operation("pitch", {"semitones": -4.0}), "shifts the pitch by -4 steps"),
    (Operation("volume", {"factor": 0.5}), "adjusts the volume to 0.5"),
    (Operation("denoise"), "denoise the audio"),
    (Operation("delete", {"text": "um"}), "delete the word 'um'"),
    (Operation("delete", {"start": 5, "end": 8}), "delete the characters or words from index 5 to index 8"),
    (Operation("insert", {"text": "实现", "before_index": 3}), "insert '实现' before the character or word at index 3"),
    (Operation("insert", {"text": "really", "after": "is"}), "insert 'really' after the character or word 'is'"),
    (Operation("substitute", {"old": "盘活", "new": "创造"}), "substitute '盘活' with '创造'"),
    (Operation("emotion", {"emotion": "happy"}), "change the emotion to happy mood"),
    (Operation("dialect", {"dialect": "Chengdu"}), "change the accent of the speech to Chengdu"),
    (Operation("add_sound", {"sound": "rain"}), "add rain to audio"),
])
def test_model_instruction_uses_the_trained_templates(op: Operation, want: str) -> None:
    assert operation_phrase(op) == want


def test_model_instruction_round_trips_through_the_parser() -> None:
    for instruction in ["delete the word hello", "insert 'really' after 'is'", "把A替换成B", "用开心的语气说",
                        "转换成四川话", "加入雨声", "语速放慢到0.8倍", "音调升高两个半音",
                        "normalize peaks to -1 dB", "normalize peaks to -1 dBTP", "raise pitch 20 cents"]:
        plan = parse_instruction(instruction)
        again = parse_instruction(plan_phrase(plan.operations))
        assert again.to_json() == plan.to_json(), instruction


def test_plan_json_and_describe() -> None:
    plan = Plan("x", (Operation("volume", {"factor": 0.5}), Operation("loudness", {"lufs": -16.0, "true_peak_db": -1.0})))
    assert plan.to_json() == [{"op": "volume", "factor": 0.5}, {"op": "loudness", "lufs": -16.0, "true_peak_db": -1.0}]
    assert plan.operations[0].describe() == "volume x0.5 (-6.02 dB)"


def test_two_steps_in_one_clause_are_refused_not_dropped() -> None:
    with pytest.raises(UsageError) as info:
        parse_instruction("降噪后标准化响度")
    assert "two steps (denoise and loudness)" in str(info.value)
    # the model engine gets the request whole instead
    assert parse_instruction("降噪后标准化响度", allow_freeform=True).to_json()[0]["op"] == "freeform"
    # a refinement of the same step is not a second step
    assert len(parse_instruction("normalize the volume to -16 LUFS").operations) == 1


def test_unknown_quotes_the_users_own_words() -> None:
    with pytest.raises(UsageError) as info:
        parse_instruction("one and a half times")
    assert 'cannot understand "one and a half times"' in str(info.value)


def test_terse_out_of_range_values_reach_the_range_check() -> None:
    from ming_edit.pipelines.edit import make_plan

    for instruction, needle in (("speed 0", "speed factor 0 is out of range"), ("speed 100", "out of range"),
                                ("pitch 48", "out of range"), ("pitch -48", "out of range")):
        with pytest.raises(UsageError) as info:
            make_plan(instruction)
        assert needle in str(info.value), instruction

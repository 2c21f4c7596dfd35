"""Parsing that cannot silently misread (issue 8): every refusal is one UsageError line (exit 2),
and peak normalisation is its own, exact step. Accepted phrasings are rows of data/plan_cases.tsv."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ming_edit.dsp import apply_operation, validate_operation
from ming_edit.dsp.loudness.truepeak import true_peak_dbtp
from ming_edit.errors import AudioError, UsageError
from ming_edit.ops.operation import Operation
from ming_edit.ops.parser import parse_instruction
from test_cli_support import digest, invoke, listing, tone

# instruction -> a fragment the one-line refusal must contain
REFUSED = {
    # pitch units: Hz (and loudness units) are refused, not read as semitones
    "raise the pitch by 10 hz": "Hz is ambiguous",
    "lower the pitch 200 Hz": "semitones or cents",
    "pitch +5 hertz": "Hz is ambiguous",
    "10 hz": "Hz is ambiguous",
    "音调升高10赫兹": "Hz is ambiguous",
    "raise the pitch by 3 dB": "semitones or cents",
    "raise the pitch by 10%": "semitones or cents",
    # every number is used or the instruction is refused
    "normalize to banana": 'loudness target "banana"',
    "normalize to nan LUFS": 'loudness target "nan LUFS"',
    "normalize for the web": 'loudness target "the web"',
    "响度标准化到香蕉": 'loudness target "香蕉"',
    "remove the noise at 0:30": 'what "0" is for',
    "make it 20% faster 3": 'what "3" is for',
    "make it sound happy one more time": 'what "1" is for',
    "normalize, don't exceed -2 dBTP": "cannot understand",
    # a positive level, in any spelling, is refused with its likely meaning
    "normalize to 14 LUFS": "did you mean -14 LUFS?",
    "normalize to +14 LUFS": "did you mean -14 LUFS?",
    "14LUFS": "did you mean -14 LUFS?",
    "loudness 14": "did you mean -14 LUFS?",
    "normalize to 14": "did you mean -14 LUFS?",
    "响度标准化到14 LUFS": "did you mean -14 LUFS?",
    "normalize to -16 LUFS with true peak 2": "did you mean -2 dBTP?",
    "normalize peaks to 1 dB": "did you mean -1 dBFS?",
    "true peak normalize to +1": "did you mean -1 dBTP?",
    "peak normalize": "needs a target",
    # negation removes a step; a plan of nothing but negations, or a contradiction, is refused
    "don't denoise": "only says what not to do (denoise)",
    "不要标准化": "only says what not to do (loudness)",
    "don't remove the pauses": "only says what not to do (pauses)",
    # times that cannot be read are refused, never sent to the model as words
    "cut from 0:05 to the middle": "cannot read the times",
    "shorten pauses longer than 1 second to 2 seconds": "cannot be shortened to 2 s",
    "denoise, don't denoise": "contradicts",
    # acoustic non-words never reach the model as words
    "remove the ums": 'cannot remove "ums"',
    "remove the 3 uhs": 'cannot remove "uhs"',
    "delete all the filler words": "delete the word 'um'",
    "remove the echo": 'cannot remove "echo"',
    "reduce the reverb": 'cannot remove "reverb"',
    "delete the breaths": 'cannot remove "breaths"',
    "remove the clicks": 'cannot remove "clicks"',
    "remove the background music": 'cannot remove "music"',
    "de-reverb it": 'cannot "de-reverb"',
    "去掉回声": 'cannot remove "回声"',
    "删除语气词": 'cannot remove "语气词"',
    "make it louder x2": "cannot understand",
    # "delete the word" whose word was split off is not the text "the word"
    "delete the word but": "cannot understand",
    "delete the word without": "cannot understand",
    # a bare Chinese amount names neither volume nor speed
    "提高到1.5倍": "音量提高到1.5倍",
}


@pytest.mark.parametrize("instruction", list(REFUSED))
def test_refused_with_one_line(instruction: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_instruction(instruction)
    message = str(info.value)
    assert "\n" not in message and REFUSED[instruction] in message, message
    assert info.value.exit_code == 2


def test_a_refusal_is_never_turned_into_a_model_word_deletion() -> None:
    for instruction in ("remove the long pauses", "帮我去掉底噪", "remove the background noise", "remove the ums"):
        try:
            ops = parse_instruction(instruction).operations
        except UsageError:
            continue
        assert all(o.op != "delete" for o in ops), (instruction, ops)


def test_quoted_fillers_stay_model_deletions() -> None:
    for instruction, word in (("delete the word 'um'", "um"), ("remove 'um'", "um"), ("删除'嗯'", "嗯"),
                              ("remove 'the pauses'", "the pauses")):
        assert parse_instruction(instruction).to_json() == [{"op": "delete", "text": word}]


def test_negation_never_adds_a_step() -> None:
    for instruction in ("don't normalize, just denoise", "denoise without normalizing", "不要标准化，只降噪",
                        "denoise but don't normalize", "no normalization, just denoise", "降噪，不要标准化"):
        assert [o.op for o in parse_instruction(instruction).operations] == ["denoise"], instruction


def test_pitch_units_convert() -> None:
    def semitones(instruction: str) -> float:
        (op,) = parse_instruction(instruction).operations
        return op.args["semitones"]

    assert math.isclose(semitones("raise pitch 20 cents"), 0.2)
    assert math.isclose(semitones("50 cents"), 0.5)
    assert math.isclose(semitones("lower the pitch by 3 half steps"), -3)
    assert math.isclose(semitones("shift the pitch by 1 octave"), 12)


def test_refusal_on_the_command_line(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    sf.write(str(clip), tone(0.5), 16000)
    before, digest_before = listing(tmp_path), digest(clip)
    for instruction in ("raise the pitch by 10 hz", "normalize to banana", "remove the echo", "cut from 0:05 to the middle"):
        result = invoke(["edit", clip, instruction])
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("ming-edit: error: "), result.stderr
    assert listing(tmp_path) == before and digest(clip) == digest_before


# ---- the peak step ---------------------------------------------------------------------------
def _speech(speech_bench) -> tuple[np.ndarray, int]:
    audio = speech_bench.espeak("The quick brown fox jumps over the lazy dog.", sample_rate=16000)
    return speech_bench.scale_to_peak(audio, -12.0)[:, None], 16000


def test_peak_normalize_hits_the_sample_peak_on_speech(speech_bench) -> None:
    audio, sr = _speech(speech_bench)
    result = apply_operation(audio, sr, Operation("peak", {"peak_db": -1.0, "true_peak": False}))
    assert math.isclose(20 * math.log10(np.max(np.abs(result.audio))), -1.0, abs_tol=1e-9)
    gain = result.audio / np.where(audio == 0, 1, audio)
    assert np.allclose(gain[audio != 0], gain[audio != 0][0])  # one pure gain, nothing limited
    assert "sample peak" in result.notes[0]


def test_true_peak_normalize_hits_the_true_peak(speech_bench) -> None:
    audio, sr = _speech(speech_bench)
    result = apply_operation(audio, sr, Operation("peak", {"peak_db": -1.0, "true_peak": True}))
    assert abs(true_peak_dbtp(result.audio, sr) - (-1.0)) < 0.001
    assert np.max(np.abs(result.audio)) <= 10 ** (-1.0 / 20) + 1e-9  # samples sit at or under the true peak


def test_peak_on_a_stereo_tone_is_exact_on_the_louder_channel() -> None:
    audio = tone(1.0, sr=48000, channels=2, amp=0.2)
    audio[:, 1] *= 0.5
    out = apply_operation(audio, 48000, Operation("peak", {"peak_db": -3.0, "true_peak": False})).audio
    assert math.isclose(20 * math.log10(np.max(np.abs(out))), -3.0, abs_tol=1e-9)
    assert np.allclose(out[:, 1] / out[:, 0], audio[:, 1] / audio[:, 0])  # channel balance kept


def test_peak_of_silence_is_refused() -> None:
    for true_peak in (False, True):
        with pytest.raises(AudioError, match="silent"):
            apply_operation(np.zeros((16000, 1)), 16000, Operation("peak", {"peak_db": -1.0, "true_peak": true_peak}))


@pytest.mark.parametrize("args", [{"peak_db": 0.5}, {"peak_db": -61.0}, {}, {"peak_db": float("nan")},
                                  {"peak_db": -1.0, "true_peak": "yes"}])
def test_peak_arguments_are_range_checked(args: dict) -> None:
    with pytest.raises(UsageError):
        validate_operation(Operation("peak", args))


def test_peak_accepts_its_range_and_describes_itself() -> None:
    for db in (-60.0, 0.0):
        validate_operation(Operation("peak", {"peak_db": db, "true_peak": False}))
    assert Operation("peak", {"peak_db": -1.0, "true_peak": True}).describe() == "peak normalize to -1 dBTP (true peak)"
    assert Operation("peak", {"peak_db": -1.0, "true_peak": False}).engine == "dsp"


def test_peak_instruction_end_to_end(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    sf.write(str(clip), tone(0.5, amp=0.1), 16000, subtype="FLOAT")
    result = invoke(["edit", clip, "normalize peaks to -1 dB", "-o", tmp_path / "out.wav"])
    assert result.exit_code == 0, result.stderr
    out, _ = sf.read(str(tmp_path / "out.wav"))
    assert math.isclose(20 * math.log10(np.max(np.abs(out))), -1.0, abs_tol=1e-6)

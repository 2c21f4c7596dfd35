"""Model-driven edit: instruction phrasing, CoT rendering, and upstream's e2e_edit replayed end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from ming_edit.errors import ModelNeededError
from ming_edit.model import session
from ming_edit.ops.model_phrasing import model_prompt, render_cot
from ming_edit.ops.operation import Operation
from ming_edit.ops.parser import parse_instruction
from ming_edit.options import EditOptions, EditResult, ModelOptions
from ming_edit.pipelines.edit import edit_file, make_plan

GOLDEN = Path(__file__).parent / "golden"


def build_instruction(text, operation=None):
    return model_prompt([operation] if operation is not None else parse_instruction(text, allow_freeform=True).operations)


def model_edit(src, instruction, out, *, model=GOLDEN, seed=None, on_cot=None, max_steps=None, whole_clip=True):
    """One model edit through the pipeline; ``whole_clip``: the model's whole output, as upstream
    writes it (the replayed golden cases compare with that), else spliced into the input."""
    plan = make_plan(instruction, "model")
    options = EditOptions(engine="model", model=ModelOptions(model=model, device="cpu", seed=seed),
                          max_steps=max_steps, whole_clip=whole_clip)
    return edit_file(src, plan, out, options, on_cot=on_cot)


LSB = 1.0 / 32768
LEAD = "<prompt>Please recognize the language of this speech and transcribe it. "


@pytest.fixture
def replay_edit(monkeypatch, golden_set):
    case = golden_set.case("e2e_edit")
    monkeypatch.setattr(session, "make_noise", lambda seed: case.noise())
    return case


@pytest.fixture
def golden_input(tmp_path, golden_set) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, golden_set.case("e2e_edit").input("waveform")[0].numpy(), 16000, subtype="PCM_16")
    return path


def test_render_cot_masks_edit_spans():
    # CoT strings as the released edit model prints them (upstream demo notebook outputs)
    assert render_cot("<cot_text>有望<edit><framePatch></edit>盘活超万亿的国企存量资产</cot_text>") == \
        "有望[MASK]盘活超万亿的国企存量资产"
    assert render_cot("<cot_text>有望盘活<edit></edit>国企存量资产</cot_text>") == "有望盘活[MASK]国企存量资产"
    assert render_cot("<cot_text>say <edit>hi</edit> and <edit>bye</edit> now</cot_text>") == \
        "say [MASK] and [MASK] now"
    assert render_cot("<cot_text>cut off <edit>mid span") == "cut off [MASK]"
    assert render_cot("plain text, no spans") == "plain text, no spans"
    assert render_cot("") == ""


def test_instructions_use_the_trained_phrasing():
    golden = LEAD + "And delete the word 'hello'.\n</prompt>"
    assert build_instruction("delete the word 'hello'") == (golden, True)
    assert build_instruction("delete 'hello'") == (golden, True)  # the plan's own wording round-trips
    cases = [
        (Operation("delete", {"start": 5, "end": 8}), "And delete the characters or words from index 5 to index 8.", True),
        (Operation("insert", {"text": "实现", "before_index": 3}), "And insert '实现' before the character or word at index 3.", True),
        (Operation("insert", {"text": "really", "after": "is"}), "And insert 'really' after the character or word 'is'.", True),
        (Operation("substitute", {"old": "盘活", "new": "创造"}), "And substitute '盘活' with '创造'.", True),
        (Operation("emotion", {"emotion": "happy"}), "And change the emotion to happy mood.", False),
        (Operation("dialect", {"dialect": "Chengdu"}), "And change the accent of the speech to Chengdu.", False),
        (Operation("add_sound", {"sound": "rain"}), "And add rain to audio.", False),
        (Operation("speed", {"factor": 0.7}), "And adjusts the speed to 0.7.", False),
        (Operation("pitch", {"semitones": 3.0}), "And shifts the pitch by 3 steps.", False),
        (Operation("volume", {"factor": 0.6}), "And adjusts the volume to 0.6.", False),
        (Operation("denoise", {}), "And denoise the audio.", False),
    ]
    for op, body, cot in cases:
        assert build_instruction("", op) == (f"{LEAD}{body}\n</prompt>", cot), op
    prompt, cot = build_instruction("Whisper it like a secret")
    assert prompt == LEAD + "And whisper it like a secret.\n</prompt>" and not cot


def test_edit_reproduces_upstream_generate_edit(golden_input, tmp_path, replay_edit, golden_set):
    seen = []

    def on_cot(raw, rendered):
        seen.append((raw, rendered, (tmp_path / "out.wav").exists()))

    result = model_edit(golden_input, "delete the word 'hello'", tmp_path / "out.wav", on_cot=on_cot)
    case = replay_edit
    assert result.model_run.text_token_ids == case.expected("text_token_ids")[0].tolist()
    latents = case.expected("audio_latents")
    assert result.model_run.audio_latents.shape == latents.shape
    assert float((result.model_run.audio_latents - latents).abs().max()) <= case.spec["outputs"]["audio_latents"]["atol"]
    audio, rate = sf.read(tmp_path / "out.wav", dtype="float64")
    expected = case.expected("speech").reshape(-1).double().numpy()
    assert rate == 16000 and audio.shape == expected.shape
    assert np.abs(audio - expected).max() <= 2 * LSB
    # the CoT was reported once, before any audio was written
    assert seen == [(result.cot_raw, result.cot, False)]
    assert result.cot_raw == case.spec["observations"]["edited_text"].removesuffix("<gen_audio>")
    assert result.model_run.used_cot and result.duration_out == pytest.approx(27200 / 16000)


def test_edit_through_the_cli_reproduces_upstream(golden_input, tmp_path, replay_edit):
    from ming_edit.cli.app import app

    out = tmp_path / "cli.wav"
    result = CliRunner().invoke(app, ["edit", str(golden_input), "delete the word 'hello'", "--engine", "model",
                                      "--model", str(GOLDEN), "--device", "cpu", "-o", str(out), "--json",
                                      "--whole-clip"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == "model"
    assert report["cot"] == replay_edit.spec["observations"]["edited_text"].removesuffix("<gen_audio>")
    audio, _ = sf.read(out, dtype="float64")
    assert np.abs(audio - replay_edit.expected("speech").reshape(-1).double().numpy()).max() <= 2 * LSB


def test_output_keeps_the_input_rate_and_channels(tmp_path, golden_set):
    wave = golden_set.case("e2e_edit").input("waveform")[0].numpy()
    import torch
    import torchaudio.functional as AF

    up = AF.resample(torch.from_numpy(wave), 16000, 44100).numpy()
    src = tmp_path / "stereo.flac"
    sf.write(src, np.stack([up, -0.5 * up], axis=1), 44100, subtype="PCM_24")
    out = tmp_path / "edited.flac"
    result = model_edit(src, "make it sound happy", out, seed=0)
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_24")
    assert not result.model_run.used_cot and result.duration_in == pytest.approx(len(up) / 44100)
    assert info.frames == round(result.duration_out * 44100)
    assert result.duration_out >= 17 * 5 * 320 / 16000 - 1e-3  # at least the 17 patches upstream requires


def test_instruction_the_model_cannot_follow_leaves_no_output(golden_input, tmp_path):
    from ming_edit.model.edit_loop import NoEditAudioError

    out = tmp_path / "never.wav"
    with pytest.raises(NoEditAudioError, match="within 2 steps"):
        model_edit(golden_input, "delete the word 'hello'", out, seed=0, max_steps=2)
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_missing_model_is_one_clear_line(golden_input, tmp_path, monkeypatch):
    monkeypatch.delenv("MING_EDIT_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNeededError, match="Ming-UniAudio-16B-A3B-Edit.*--model DIR"):
        model_edit(golden_input, "delete the word 'hello'", tmp_path / "o.wav", model=None)


def test_generated_peaks_are_scaled_with_a_note_not_clipped(tmp_path) -> None:
    """Clipping is never silent on the model path either: the writer scales and says so."""
    import numpy as np
    import soundfile as sf

    from ming_edit.errors import AudioError
    from ming_edit.io.writer import write_checked

    hot = np.linspace(-2.0, 2.0, 1600)[:, None]
    note, gain_db = write_checked(tmp_path / "out.wav", hot.copy(), 16000, fmt="WAV", subtype="PCM_16",
                                  no_limit=False, what="the generated audio")
    assert "scaled by" in note and gain_db == pytest.approx(-0.1 - 20 * np.log10(2.0))
    written, _ = sf.read(str(tmp_path / "out.wav"))
    assert np.abs(written).max() == pytest.approx(10 ** (-0.1 / 20), abs=1e-4)
    assert written[0] / written[-1] == pytest.approx(-1.0, abs=1e-3)  # a gain, not a clip
    with pytest.raises(AudioError, match="--no-limit"):
        write_checked(tmp_path / "refused.wav", hot.copy(), 16000, fmt="WAV", subtype="PCM_16", no_limit=True,
                      what="the generated audio")
    assert not (tmp_path / "refused.wav").exists()


def test_model_edit_honours_subtype_like_dsp_edits(golden_input, tmp_path):
    from ming_edit.cli.app import app

    out = tmp_path / "out.wav"
    result = CliRunner().invoke(app, ["edit", str(golden_input), "make it sound happy", "--model", str(GOLDEN),
                                      "--device", "cpu", "--seed", "0", "-o", str(out), "--subtype", "PCM_24"])
    assert result.exit_code == 0, result.output
    assert sf.info(str(out)).subtype == "PCM_24"

"""The always-audio test checkpoint (benchmarks/checkpoints.always_audio_checkpoint) end to end:
any input and instruction gets its CoT (word edits), then audio, ended by the stop head after
max(17, input patches + 1) patches, through the normal loader, the library and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks.checkpoints import ALWAYS_AUDIO_COT, ALWAYS_AUDIO_TRANSCRIPT, always_audio_state, golden_config
from ming_edit.model import session
from ming_edit.model.config import HOP_SAMPLES
from ming_edit.model.edit_loop import MIN_EDIT_PATCHES
from ming_edit.options import EditOptions, ModelOptions
from ming_edit.pipelines.edit import edit_file, make_plan

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PATCH = 5  # the golden preprocessor's patch size
GEN_AUDIO = 701  # <gen_audio> in the golden tokenizer
SHOWN_COT = "so [MASK] ok"  # ALWAYS_AUDIO_COT as the CLI prints it
WORD_EDIT = "delete the word 'hello'"


def expected_patches(path: Path) -> int:
    """What the checkpoint promises: one patch more than the input has, at least upstream's 17."""
    mono16k = session.load_for_model(path)[0]
    return max(MIN_EDIT_PATCHES, -(-len(mono16k) // HOP_SAMPLES) // PATCH + 1)


def make_clip(name: str, folder: Path, request: pytest.FixtureRequest) -> Path:
    en, rate = sf.read(EXAMPLES / "speech_en.wav", dtype="float64")
    if name in ("speech_en", "speech_zh"):
        return EXAMPLES / f"{name}.wav"
    if name == "espeak":
        audio, rate = request.getfixturevalue("speech_bench").espeak("please edit this sentence for me"), 16000
    elif name == "one_second":
        audio = en[rate : 2 * rate]
    else:  # ten seconds of speech, one window of the model edit
        audio = np.concatenate([en, en])[: 10 * rate]
    path = folder / f"{name}.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


def model_options(model: Path, seed: int | None = 0) -> EditOptions:
    return EditOptions(model=ModelOptions(model=model, device="cpu", seed=seed))


def check_audio(path: Path, duration_in: float) -> np.ndarray:
    """Written, finite, audible, and about as long as the input (17 patches at least)."""
    audio, rate = sf.read(path, dtype="float64", always_2d=True)
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() > 0.01 and np.sqrt(np.mean(audio**2)) > 1e-3
    duration = audio.shape[0] / rate
    assert 0.9 * duration_in <= duration <= max(duration_in, MIN_EDIT_PATCHES * PATCH * HOP_SAMPLES / 16000) + 0.2
    return audio


@pytest.mark.parametrize("name", ["speech_en", "speech_zh", "espeak", "one_second", "ten_seconds"])
def test_word_edit_gets_cot_then_audio_of_the_inputs_length(name, always_audio_dir, tmp_path, request):
    src = make_clip(name, tmp_path, request)
    seen = []
    result = edit_file(src, make_plan(WORD_EDIT), tmp_path / "out.wav", model_options(always_audio_dir),
                       on_cot=lambda raw, shown: seen.append((raw, shown)))
    # the CoT is reported once, rendered with [MASK]
    assert seen == [(ALWAYS_AUDIO_COT, SHOWN_COT)] and result.cot == SHOWN_COT
    run = result.model_run
    assert run.used_cot and run.text_token_ids[-1] == GEN_AUDIO
    # the stop head, not the step budget, ended the audio, after the promised number of patches
    assert run.stopped and run.audio_latents.shape[1] == PATCH * expected_patches(src)
    audio = check_audio(tmp_path / "out.wav", result.duration_in)
    assert audio.shape[0] == pytest.approx(result.duration_out * sf.info(str(tmp_path / "out.wav")).samplerate, abs=1)


def test_cli_word_edit_exits_0_with_audio(always_audio_dir, tmp_path):
    out = tmp_path / "cli.wav"
    src = EXAMPLES / "speech_zh.wav"
    done = subprocess.run([sys.executable, "-m", "ming_edit", "edit", str(src), WORD_EDIT, "-o", str(out),
                           "--model", str(always_audio_dir), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["engine"] == "model" and report["cot"] == SHOWN_COT
    check_audio(out, report["duration_in"])


def test_global_edit_gets_audio_without_cot(always_audio_dir, tmp_path):
    src = EXAMPLES / "speech_en.wav"
    plan = make_plan("make it sound happy")
    assert [op.op for op in plan.operations] == ["emotion"]  # routed to the model as a global edit
    result = edit_file(src, plan, tmp_path / "happy.wav", model_options(always_audio_dir))
    run = result.model_run
    assert not run.used_cot and run.text_token_ids == [GEN_AUDIO]  # straight to audio
    assert run.stopped and run.audio_latents.shape[1] == PATCH * expected_patches(src)
    check_audio(tmp_path / "happy.wav", result.duration_in)


def test_same_seed_same_audio(always_audio_dir, tmp_path):
    src = make_clip("one_second", tmp_path, None)
    outs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        edit_file(src, make_plan(WORD_EDIT), tmp_path / f"{name}.wav", model_options(always_audio_dir, seed))
        outs[name] = sf.read(tmp_path / f"{name}.wav", dtype="int16")[0]
    assert np.array_equal(outs["a"], outs["b"])
    assert outs["a"].shape == outs["c"].shape and not np.array_equal(outs["a"], outs["c"])


def test_transcription_is_the_fixed_transcript(always_audio_dir):
    """ASR prompts carry no <prompt>, so </role> leads to the transcript instead of <gen_audio>:
    long recordings can locate the words of a word edit on this checkpoint."""
    from ming_edit.pipelines.transcribe import Transcriber

    transcriber = Transcriber.open(ModelOptions(model=always_audio_dir, device="cpu", seed=0))
    en = session.load_for_model(EXAMPLES / "speech_en.wav")[0]
    for audio in (en, np.zeros(16000, dtype=np.float32)):
        assert [c.text for c in transcriber.transcribe_array(audio).chunks] == [ALWAYS_AUDIO_TRANSCRIPT]


def test_a_token_needing_two_successors_is_refused():
    with pytest.raises(ValueError, match="two successors"):  # 'l' would be followed by 'lo' and 'd'
        always_audio_state(golden_config(), cot="<cot_text>world</cot_text>", transcript="hello")

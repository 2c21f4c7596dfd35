"""Generation loops: golden end-to-end parity, KV cache vs full recompute, batching, edge cases."""

from __future__ import annotations

import pytest
import torch

from ming_edit.dev.conformance.golden import check_output
from ming_edit.dev.conformance.runners import run_case
from ming_edit.errors import MingEditError
from ming_edit.model.embedding import encode_for_asr, splice_audio
from ming_edit.model.generation import (
    MIN_TTS_PATCHES,
    NoEditAudioError,
    PromptBatch,
    generate_edit,
    generate_tts,
    patch_budget,
    transcribe_ids,
    upstream_patch_budget,
)
from ming_edit.model.noise import ReplayNoise, TorchNoise


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tiny golden model runs far faster single-threaded on a shared, busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _asr_prompt(case) -> PromptBatch:
    return PromptBatch(case.input("input_ids"), case.input("attention_mask"), case.input("audio_placeholder_loc_lens"))


@pytest.mark.parametrize("name", ["e2e_asr", "e2e_edit", "e2e_tts"])
def test_golden_end_to_end(golden_stack, golden_set, name):
    case = golden_set.case(name)
    outputs = run_case(golden_stack, case)
    assert set(outputs) == set(case.spec["outputs"])
    failed = [(k, r.max_abs_err, r.atol) for k in outputs if not (r := check_output(case, k, outputs[k])).passed]
    assert not failed, failed


def test_kv_cached_decoding_equals_full_recompute(golden_stack, golden_set):
    case = golden_set.case("e2e_asr")
    prompt = _asr_prompt(case)
    wave = case.input("waveform")
    out = transcribe_ids(golden_stack, wave, prompt, max_new_tokens=5, eos_ids=[], noise=case.noise(), keep_logits=True)
    assert out.new_tokens.shape == (1, 5)

    with torch.inference_mode():
        audio = encode_for_asr(golden_stack, wave, torch.tensor([wave.shape[1]]), case.noise())
        llm = golden_stack.llm
        embeds, audio_mask = splice_audio(llm.embed(prompt.input_ids), prompt.audio_placeholder_loc_lens,
                                          audio.embeds, audio.feat_lens)
        # audio_mask only applies to the prompt; later tokens are routed by the text gate
        full = torch.cat([embeds, llm.embed(out.new_tokens[:, :-1])], dim=1)
        mask = torch.cat([audio_mask, torch.zeros((1, 4), dtype=torch.bool)], dim=1)
        logits = llm(full, audio_mask=mask).logits
    prompt_len = prompt.input_ids.shape[1]
    torch.testing.assert_close(logits[:, prompt_len - 1:], out.step_logits, atol=2e-5, rtol=1e-5)
    assert torch.equal(logits[:, prompt_len - 1:].argmax(-1), out.new_tokens)


def test_batched_transcription_matches_one_by_one(golden_stack, golden_set):
    """Two waveforms of different lengths (and prompt lengths) decoded together == separately."""
    from ming_edit.model.prompts import asr_prompt
    from ming_edit.model.text_tokenizer import TextTokenizer

    tok = TextTokenizer.from_dir(golden_stack.path)
    wave = golden_set.case("e2e_asr").input("waveform")
    waves = [wave[:, :32123], wave[:, :17000]]
    prompts = [asr_prompt(tok, 32123), asr_prompt(tok, 17000, language="English")]
    eps = torch.randn((2, 16, 101), generator=torch.Generator().manual_seed(3))
    batched = transcribe_ids(golden_stack, waves, prompts, max_new_tokens=4, eos_ids=[],
                             noise=ReplayNoise([eps]), keep_logits=True)
    for i, (w, p) in enumerate(zip(waves, prompts)):
        frames = -(-w.shape[1] // 320)
        single = transcribe_ids(golden_stack, w, p, max_new_tokens=4, eos_ids=[],
                                noise=ReplayNoise([eps[i : i + 1, :, :frames]]), keep_logits=True)
        assert single.token_ids[0] == batched.token_ids[i]
        torch.testing.assert_close(batched.step_logits[i : i + 1], single.step_logits, atol=2e-5, rtol=1e-5)


def test_asr_stops_at_eos(golden_stack, golden_set):
    case = golden_set.case("e2e_asr")
    expected = case.expected("new_tokens")[0].tolist()
    out = transcribe_ids(golden_stack, case.input("waveform"), _asr_prompt(case), max_new_tokens=6,
                         eos_ids=[expected[2]], noise=case.noise())
    assert out.new_tokens[0].tolist() == expected[:3]
    assert out.token_ids == [expected[:2]]


def test_tts_short_text_is_spoken(golden_stack, golden_set):
    assert upstream_patch_budget("hello there", "en") == 0
    assert patch_budget("hello there", "en") == MIN_TTS_PATCHES
    assert upstream_patch_budget("the quick brown fox jumps over", "en") == 50
    assert upstream_patch_budget("你好世界", "zh") == 25
    prompt_wave = golden_set.case("e2e_tts").input("prompt_waveform")
    chunks: list[torch.Tensor] = []
    out = generate_tts(golden_stack, "hello there", prompt_wave, "please say it clearly.", patch_size=5,
                       lang="en", cfg=2.0, noise=TorchNoise(0), on_audio=chunks.append)
    n_patches = out.latents.shape[1] // 5
    assert 1 <= n_patches <= MIN_TTS_PATCHES and out.speech.shape == (1, n_patches * 5 * 320)
    assert float(out.speech.abs().max()) > 0
    torch.testing.assert_close(torch.cat(chunks)[None], out.speech)
    # the streaming decode (flushed at the end) equals the whole-utterance decode
    whole = golden_stack.audio_decoder(out.latents)[0]
    torch.testing.assert_close(out.speech, whole, atol=2e-5, rtol=1e-5)


def test_tts_budget_end_flushes_or_matches_upstream(golden_stack, golden_set):
    prompt_wave = golden_set.case("e2e_tts").input("prompt_waveform")
    kw = dict(patch_size=5, lang="en", cfg=2.0, max_patches=3)
    flushed = generate_tts(golden_stack, "hi", prompt_wave, "x", noise=TorchNoise(1), **kw)
    upstream = generate_tts(golden_stack, "hi", prompt_wave, "x", noise=TorchNoise(1), flush_at_budget=False, **kw)
    assert not flushed.stopped and flushed.speech.shape == (1, 3 * 5 * 320)
    assert upstream.speech.shape == (1, 3 * 5 * 320 - 480)  # upstream never releases the tail
    torch.testing.assert_close(upstream.speech, flushed.speech[:, : upstream.speech.shape[1]])
    with pytest.raises(MingEditError):
        generate_tts(golden_stack, "  ", prompt_wave, "x", noise=TorchNoise(1), **kw)


def test_edit_reports_text_then_raises_without_audio(golden_stack, golden_set):
    case = golden_set.case("e2e_edit")
    prompt = _asr_prompt(case)
    seen: list[str] = []
    # <gen_audio> is the 4th text token: with 3 calls it never comes, with 4 no patch follows it
    for steps in (3, 4):
        with pytest.raises(NoEditAudioError, match="no edited audio"):
            generate_edit(golden_stack, case.input("waveform"), prompt, patch_size=5, cfg=2.0,
                          noise=case.noise(), max_steps=steps, on_text=seen.append)
    assert len(seen) == 1 and "<gen_audio>" not in seen[0]
    out = generate_edit(golden_stack, case.input("waveform"), prompt, patch_size=5, cfg=2.0,
                        noise=case.noise(), max_steps=8)
    assert not out.stopped and out.audio_latents.shape == (1, 4 * 5, 16)
    assert out.text.endswith("<gen_audio>") and out.speech.shape == (1, 1, 4 * 5 * 320)


def test_requests_beyond_the_context_are_refused_up_front(golden_stack) -> None:
    """The golden LLM has max_position_embeddings 1024: a 60 s edit (600 patches in, ~600 out) cannot fit."""
    from ming_edit.model.embedding import ContextTooLongError
    from ming_edit.model.generation import generate_edit, transcribe_ids
    from ming_edit.model.noise import TorchNoise
    from ming_edit.model.prompts import asr_prompt, edit_prompt

    from ming_edit.model.embedding import stack_tokenizer

    tok = stack_tokenizer(golden_stack)
    wave = torch.zeros(1, 16000 * 60)
    wave[0, ::97] = 0.1
    prompt = edit_prompt(tok, wave.shape[1], "And delete the word 'hello'.")
    with pytest.raises(ContextTooLongError, match="context of 1024"):
        generate_edit(golden_stack, wave, prompt, patch_size=5, cfg=2.0, noise=TorchNoise(0))
    # ASR: 110 s is 1100 audio patches in the prompt alone
    long = torch.zeros(1, 16000 * 110)
    with pytest.raises(ContextTooLongError, match="ming-edit transcribe"):
        transcribe_ids(golden_stack, long, asr_prompt(tok, long.shape[1]), max_new_tokens=5, noise=TorchNoise(0))
    # the conformance path never refuses: upstream has no such limit
    out = transcribe_ids(golden_stack, long, asr_prompt(tok, long.shape[1]), max_new_tokens=1,
                         noise=TorchNoise(0), enforce_context=False)
    assert out.new_tokens.shape == (1, 1)

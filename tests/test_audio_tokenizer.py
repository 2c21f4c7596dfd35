"""MingTok-Audio tokenizer: golden parity, streaming/cache equivalences, edge cases, other configs."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from ming_edit.dev.conformance.golden import check_output
from ming_edit.dev.conformance.runners import run_case
from ming_edit.errors import AudioError, CheckpointError
from ming_edit.model.audio_tokenizer import AudioEncoder, WaveformDecoder
from ming_edit.model.config import parse_config
from ming_edit.model.loader import load_stack
from ming_edit.model.noise import TorchNoise
from ming_edit.model.semantic import SemanticModule

GOLDEN_CASES = (
    "tok_encoder", "tok_encode_latent", "semantic_full", "semantic_chunked", "decoder_full", "decoder_streaming"
)
TOKENIZER = ("audio_encoder", "semantic", "audio_decoder")


@pytest.fixture(scope="module")
def tok_stack(golden_dir):
    return load_stack(golden_dir, TOKENIZER, device="cpu")


@pytest.fixture(scope="module")
def latent(golden_set):
    return golden_set.case("decoder_full").input("latent")  # [1, 100, 16]


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_case(tok_stack, golden_set, name):
    case = golden_set.case(name)
    outputs = run_case(tok_stack, case)
    assert set(outputs) == set(case.spec["outputs"])
    for output, tensor in outputs.items():
        result = check_output(case, output, tensor)
        assert result.passed, result


def test_no_meta_tensors_after_loading(tok_stack):
    for module in (tok_stack.audio_encoder, tok_stack.semantic, tok_stack.audio_decoder):
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            assert not tensor.is_meta, name


def _stream(decoder, latent, sizes):
    stream, chunks, start = decoder.stream(), [], 0
    for i, size in enumerate(sizes):
        chunks.append(stream.push(latent[:, start:start + size], last=i == len(sizes) - 1))
        start += size
    assert start == latent.shape[1]
    return chunks


@pytest.mark.parametrize(
    "sizes",
    [
        [2] * 50,
        [7] * 14 + [2],  # 100 frames, last chunk shorter than a patch
        [1, 1, 3, 0, 40, 55],  # one-frame and empty chunks (upstream cannot do a 1-frame first chunk)
        [100],
    ],
)
def test_decoder_streaming_equals_whole(tok_stack, latent, sizes):
    with torch.inference_mode():
        whole = tok_stack.audio_decoder(latent)
        chunks = _stream(tok_stack.audio_decoder, latent, sizes)
    streamed = torch.cat(chunks, dim=-1)
    assert streamed.shape == whole.shape == (1, 1, 100 * 320)
    torch.testing.assert_close(streamed, whole, atol=2e-6, rtol=1e-5)


def test_decoder_streaming_chunk_lengths_and_odd_length(tok_stack, latent):
    part = latent[:, :37]  # not a multiple of the 5-frame patch
    with torch.inference_mode():
        whole = tok_stack.audio_decoder(part)
        chunks = _stream(tok_stack.audio_decoder, part, [5] * 7 + [2])
    assert [c.shape[-1] for c in chunks] == [5 * 320 - 480] + [5 * 320] * 6 + [2 * 320 + 480]
    torch.testing.assert_close(torch.cat(chunks, dim=-1), whole, atol=2e-6, rtol=1e-5)


def test_decoder_stream_refuses_push_after_last(tok_stack, latent):
    stream = tok_stack.audio_decoder.stream()
    with torch.inference_mode():
        stream.push(latent[:, :4], last=True)
        with pytest.raises(Exception, match="already finished"):
            stream.push(latent[:, 4:8])


@pytest.mark.parametrize("sizes", [[1] * 30, [7, 3, 11, 9], [30], [2, 28]])
def test_semantic_cache_chunks_equal_full(tok_stack, latent, sizes):
    part = latent[:, :30]
    with torch.inference_mode():
        full = tok_stack.semantic(part)
        cache, pieces, start = tok_stack.semantic.new_cache(), [], 0
        for size in sizes:
            pieces.append(tok_stack.semantic(part[:, start:start + size], cache=cache))
            start += size
    assert cache.length == 30
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)


def test_semantic_cache_clone_is_independent(tok_stack, latent):
    with torch.inference_mode():
        cache = tok_stack.semantic.new_cache()
        tok_stack.semantic(latent[:, :10], cache=cache)
        branch = cache.clone()
        a = tok_stack.semantic(latent[:, 10:12], cache=cache)
        b = tok_stack.semantic(latent[:, 10:12], cache=branch)
    assert cache.length == branch.length == 12
    torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_short_audio_pads_to_one_frame(tok_stack):
    encoder = tok_stack.audio_encoder
    short = torch.linspace(-0.5, 0.5, 100)[None]
    padded = torch.nn.functional.pad(short, (0, 220))
    with torch.inference_mode():
        latent, frames = encoder.encode_latent(short, None, TorchNoise(seed=3))
        same, _ = encoder.encode_latent(padded, None, TorchNoise(seed=3))
        wave = tok_stack.audio_decoder(latent)
    assert latent.shape == (1, 1, 16) and frames.tolist() == [1]
    torch.testing.assert_close(latent, same, atol=0, rtol=0)
    assert wave.shape == (1, 1, 320) and torch.isfinite(wave).all()


def test_bad_audio_is_a_clear_error(tok_stack):
    encoder = tok_stack.audio_encoder
    with pytest.raises(AudioError, match="empty"):
        encoder.encode_latent(torch.zeros(1, 0), None, TorchNoise(seed=0))
    with pytest.raises(AudioError, match="NaN"):
        encoder.encode_latent(torch.full((1, 400), float("nan")), None, TorchNoise(seed=0))
    with pytest.raises(AudioError, match="lengths"):
        encoder.encode_latent(torch.zeros(1, 400), torch.tensor([401]), TorchNoise(seed=0))


def test_padded_batch_keeps_real_frames(tok_stack):
    """The encoder is causal: zero-padding a shorter item does not change its real frames."""
    gen = torch.Generator().manual_seed(0)
    long, short = torch.rand(1, 3200, generator=gen) - 0.5, torch.rand(1, 1000, generator=gen) - 0.5
    batch = torch.cat([long, torch.nn.functional.pad(short, (0, 2200))])
    with torch.inference_mode():
        mean_b, std_b = tok_stack.audio_encoder.posterior(batch)
        mean_s, std_s = tok_stack.audio_encoder.posterior(short)
        frames = tok_stack.audio_encoder.frame_counts(batch, [3200, 1000])
    assert frames.tolist() == [10, 4]
    torch.testing.assert_close(mean_b[1:, :4], mean_s, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(std_b[1:, :4], std_s, atol=1e-5, rtol=1e-5)


def _backbone(hidden, layers, heads, kv_heads):
    return {
        "hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "hidden_act": "silu",
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "use_sliding_window": False, "sliding_window": None, "tie_word_embeddings": False, "vocab_size": 1,
    }


OTHER_CONFIG = {  # standalone MingTok-Audio layout (keys encoder.* / decoder.*), different sizes and hop
    "enc_kwargs": {"backbone": _backbone(96, 1, 8, 2), "input_dim": 160, "hop_size": 160, "latent_dim": 8},
    "semantic_module_kwargs": {"whisper_encoder": {"n_state": 40, "n_head": 5, "n_layer": 3}},
    "dec_kwargs": {"backbone": _backbone(48, 2, 6, 3), "output_dim": 160, "latent_dim": 8},
    "patch_size": 4,
}


def test_other_config_builds_on_meta_and_loads(tmp_path):
    config = parse_config(OTHER_CONFIG)
    torch.manual_seed(0)
    reference = {
        "audio_encoder": AudioEncoder(config),
        "semantic": SemanticModule(config),
        "audio_decoder": WaveformDecoder(config),
    }
    for module in reference.values():
        for name, param in module.named_parameters():
            torch.nn.init.normal_(param, std=0.3 if "weight" in name else 0.05)
    reference["semantic"].fc1.load_state_dict(reference["audio_decoder"].fc1.state_dict())  # one checkpoint key
    tensors = {f"encoder.{k}": v for k, v in reference["audio_encoder"].state_dict().items()}
    for name in ("semantic", "audio_decoder"):
        tensors.update({f"decoder.{k}": v for k, v in reference[name].state_dict().items()})
    tensors["decoder.fc3.weight"] = torch.randn(48, 40)  # training-only key, present in real checkpoints
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(OTHER_CONFIG))

    stack = load_stack(tmp_path, TOKENIZER, device="cpu")
    wave = torch.rand(2, 1234, generator=torch.Generator().manual_seed(1)) - 0.5
    with torch.inference_mode():
        latent, frames = stack.audio_encoder.encode_latent(wave, [1234, 600], TorchNoise(seed=5))
        ref_latent, _ = reference["audio_encoder"].encode_latent(wave, None, TorchNoise(seed=5))
        emb = stack.semantic(latent)
        whole = stack.audio_decoder(latent)
        streamed = torch.cat(_stream(stack.audio_decoder, latent, [3, 1, 2, 2]), dim=-1)
        cache, pieces = stack.semantic.new_cache(), []
        for start in range(0, 8, 3):
            pieces.append(stack.semantic(latent[:, start:start + 3], cache=cache))
        ref_emb, ref_whole = reference["semantic"](latent), reference["audio_decoder"](latent)
    assert latent.shape == (2, 8, 8) and frames.tolist() == [8, 4]
    torch.testing.assert_close(latent, ref_latent, atol=0, rtol=0)
    assert emb.shape == (2, 8, 40) and whole.shape == (2, 1, 8 * 160)
    torch.testing.assert_close(emb, ref_emb, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(whole, ref_whole, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.cat(pieces, dim=1), emb, atol=1e-5, rtol=1e-5)


def test_checkpoint_without_semantic_module(tmp_path):
    config = parse_config({**OTHER_CONFIG, "semantic_module_kwargs": None})
    WaveformDecoder(config)  # the decoder does not need it
    with pytest.raises(CheckpointError, match="no semantic module"):
        SemanticModule(config)


def test_bfloat16_smoke(golden_dir, golden_set, tok_stack):
    stack = load_stack(golden_dir, TOKENIZER, device="cpu", dtype=torch.bfloat16)
    waveform = golden_set.case("tok_encoder").input("waveform")
    with torch.inference_mode():
        latent, _ = stack.audio_encoder.encode_latent(waveform, None, TorchNoise(seed=0))
        emb = stack.semantic(latent)
        wave = stack.audio_decoder(latent[:, :20])
        ref = tok_stack.audio_decoder(latent[:, :20])
    assert latent.dtype == torch.float32 and emb.dtype == torch.bfloat16 and wave.dtype == torch.float32
    assert torch.isfinite(emb).all() and torch.isfinite(wave).all()
    assert (wave - ref).abs().max() < 0.1 * ref.abs().max()

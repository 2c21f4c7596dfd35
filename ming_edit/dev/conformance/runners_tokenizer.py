"""Golden runners for the audio tokenizer: encoder, posterior sample, semantic module, decoder."""

from __future__ import annotations

import torch

from ming_edit.dev.conformance.golden import GoldenCase
from ming_edit.dev.conformance.registry import runner


@runner("tok_encoder")
def run_tok_encoder(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    waveform = case.input("waveform")
    encoder_h = stack.audio_encoder(waveform)
    mean, std = stack.audio_encoder.posterior(waveform)
    return {"encoder_h": encoder_h, "posterior_mean": mean, "posterior_std": std}


@runner("tok_encode_latent")
def run_tok_encode_latent(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    noise = case.noise()
    waveform, lengths = case.input("waveform"), case.input("waveform_length")
    latent, frame_num = stack.audio_encoder.encode_latent(waveform, lengths, noise)
    if noise.remaining:
        raise RuntimeError(f"{case.name}: {noise.remaining} recorded noise draws were not used")
    return {"latent": latent, "frame_num": frame_num}


@runner("semantic_full")
def run_semantic_full(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    return {"unified_emb": stack.semantic(case.input("latent"))}


@runner("semantic_chunked")
def run_semantic_chunked(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    latent = case.input("latent")
    cache = stack.semantic.new_cache()
    pieces, start = [], 0
    for size in case.params["chunk_sizes"]:
        pieces.append(stack.semantic(latent[:, start:start + size], cache=cache))
        start += size
    return {"unified_emb": torch.cat(pieces, dim=1)}


@runner("decoder_full")
def run_decoder_full(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    return {"waveform": stack.audio_decoder(case.input("latent"))}


@runner("decoder_streaming")
def run_decoder_streaming(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    latent = case.input("latent")
    patch = int(case.params["patch_size"])
    starts = range(0, latent.shape[1], patch)
    stream = stack.audio_decoder.stream()
    chunks = [stream.push(latent[:, s:s + patch], last=s + patch >= latent.shape[1]) for s in starts]
    lengths = torch.tensor([c.shape[-1] for c in chunks], dtype=torch.int64)
    return {"waveform": torch.cat(chunks, dim=-1), "chunk_lengths": lengths}

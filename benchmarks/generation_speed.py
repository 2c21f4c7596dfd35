"""CPU speed of the generation loops on a mid-size random checkpoint in the released layout.

    python benchmarks/generation_speed.py [--threads N] [--ckpt DIR] [--keep] [--repeat N]

Builds (once, into --ckpt or a temp dir) a random checkpoint with the real structure scaled
down: Bailing MoE LLM with 3D rope (head_dim 128), GQA, 16 routed experts top-2 + 1 shared,
multi_gate; MingTok-Audio encoder / semantic module / decoder; DiT flow head; latent_dim 64.
Random weights never stop or switch to audio on their own, so the stop head is biased to
"continue" (fixed patch budgets) and the lm_head row of <gen_audio> is set so the edit's CoT
switches to audio after EDIT_TEXT_TOKENS tokens. Reports, for transcribe / speak / edit:
text tokens/s, audio patches/s (1 patch = 5 frames = 100 ms) and time to first audio.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ming_edit.model.embedding import encode_for_generation, splice_audio, step_positions  # noqa: E402
from ming_edit.model.generation import generate_edit, generate_tts, transcribe_ids  # noqa: E402
from ming_edit.model.loader import load_stack  # noqa: E402
from ming_edit.model.noise import TorchNoise  # noqa: E402
from ming_edit.model.prompts import asr_prompt, edit_prompt  # noqa: E402
from ming_edit.ops.model_phrasing import edit_instruction  # noqa: E402
from ming_edit.model.rope import positions_from_attention_mask  # noqa: E402
from ming_edit.model.text_tokenizer import TextTokenizer  # noqa: E402
from benchmarks.checkpoints import golden_config, write_checkpoint  # noqa: E402

SR = 16000
PATCH = 5
EDIT_TEXT_TOKENS = 12
ASR_NEW_TOKENS = 32
AUDIO_PATCHES = 40


def mid_config() -> dict:
    cfg = copy.deepcopy(golden_config())
    cfg["llm_config"].update(
        vocab_size=16384, hidden_size=1024, intermediate_size=2816, num_hidden_layers=6,
        num_attention_heads=8, num_key_value_heads=2, head_dim=128, num_experts=16,
        num_experts_per_tok=2, num_shared_experts=1, moe_intermediate_size=256, max_position_embeddings=8192,
    )
    vae = cfg["audio_tokenizer_config"]
    for part in ("enc_kwargs", "dec_kwargs"):
        vae[part]["latent_dim"] = 64
        vae[part]["backbone"].update(hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                                     num_attention_heads=8, num_key_value_heads=4)
    vae["semantic_module_kwargs"]["whisper_encoder"].update(n_state=512, n_head=8, n_layer=4)
    cfg["ditar_config"].update(hidden_size=512, depth=4, num_heads=8)
    return cfg


def test_signal(seconds: float, seed: int = 0) -> torch.Tensor:
    """A speech-like band-limited signal [1, N] in [-1, 1)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SR)) / SR
    f0 = 140 + 30 * torch.sin(2 * torch.pi * 0.7 * t)
    voiced = sum(torch.sin(2 * torch.pi * k * torch.cumsum(f0, 0) / SR) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * torch.sin(2 * torch.pi * 3 * t).clamp(min=0)
    wave = 0.2 * voiced * envelope + 0.01 * torch.randn(t.shape, generator=g)
    return (wave / wave.abs().max() * 0.8).float()[None]


def never_stop(stack) -> None:
    with torch.no_grad():
        stack.stop_head.bias.copy_(torch.tensor([20.0, -20.0]))


def force_gen_audio(stack, tok, wave, prompt, seed: int) -> None:
    """Set the <gen_audio> lm_head row so the greedy CoT (same seed) switches after EDIT_TEXT_TOKENS."""
    llm = stack.llm
    with torch.inference_mode():
        audio = encode_for_generation(stack, wave, torch.tensor([wave.shape[1]]), PATCH, TorchNoise(seed))
        embeds, _ = splice_audio(llm.embed(prompt.input_ids), prompt.audio_placeholder_loc_lens,
                                 audio.embeds, audio.feat_lens)
        pos, deltas = positions_from_attention_mask(prompt.attention_mask)
        cache, hidden = llm.new_cache(), []
        for _ in range(EDIT_TEXT_TOKENS + 1):
            out = llm(embeds, position_ids=pos, cache=cache, logits_last_only=True)
            hidden.append(out.last_hidden[0, -1].float())
            token = out.logits[0, -1].argmax()
            embeds, pos = llm.embed(token.view(1, 1)), step_positions(cache.length, deltas)
        top = float(out.logits[0, -1].max())
    past = torch.stack(hidden[:-1], dim=1)
    q, _ = torch.linalg.qr(past)
    r = hidden[-1] - q @ (q.T @ hidden[-1])
    with torch.no_grad():
        llm.lm_head.weight[tok.special.gen_audio_start] = r / r.norm() * (top + 5.0) / r.norm()


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_transcribe(stack, tok, seconds: float) -> dict:
    wave = test_signal(seconds)
    prompt = asr_prompt(tok, wave.shape[1])

    def run(n):
        return transcribe_ids(stack, wave, prompt, max_new_tokens=n, eos_ids=[], noise=TorchNoise(0))

    run(2)  # warm-up
    # medians of 3: the decode rate is a difference of two timings, so one slow run would skew it
    first = statistics.median(timed(lambda: run(1))[1] for _ in range(3))
    total = statistics.median(timed(lambda: run(ASR_NEW_TOKENS + 1))[1] for _ in range(3))
    return {"audio_s": seconds, "prompt_tokens": prompt.length, "encode+prefill_s": first,
            "decode_tok_per_s": ASR_NEW_TOKENS / (total - first), "total_s": total}


def bench_speak(stack, tok) -> dict:
    prompt_wave = test_signal(3.0, seed=1)
    text = "this is a short benchmark sentence for the speech generation loop"
    stamps: list[float] = []
    start = time.perf_counter()
    out = generate_tts(stack, text, prompt_wave, "a voice prompt", patch_size=PATCH, lang="en", cfg=2.0,
                       noise=TorchNoise(0), on_audio=lambda c: stamps.append(time.perf_counter()),
                       max_patches=AUDIO_PATCHES)
    total = time.perf_counter() - start
    n = out.latents.shape[1] // PATCH
    return {"patches": n, "time_to_first_audio_s": stamps[0] - start,
            "patches_per_s": (n - 1) / (stamps[-1] - stamps[0]), "realtime_factor": (n * 0.1) / total,
            "total_s": total}


def edit_inputs(tok, seconds: float):
    wave = test_signal(seconds, seed=2)
    prompt = edit_prompt(tok, wave.shape[1], edit_instruction("delete_word", target="hello"), use_cot=True,
                         patch_size=PATCH)
    return wave, prompt


def bench_edit(stack, tok, seconds: float) -> dict:
    wave, prompt = edit_inputs(tok, seconds)
    marks: dict[str, float] = {}
    start = time.perf_counter()
    out = generate_edit(stack, wave, prompt, patch_size=PATCH, cfg=2.0, noise=TorchNoise(5),
                        max_steps=EDIT_TEXT_TOKENS + 1 + AUDIO_PATCHES,
                        on_text=lambda _: marks.setdefault("text", time.perf_counter()))
    total = time.perf_counter() - start
    n_text, n_patches = out.text_token_ids.shape[1], out.audio_latents.shape[1] // PATCH
    text_s = marks["text"] - start
    return {"audio_s": seconds, "text_tokens": n_text, "text_phase_s(incl. encode+prefill)": text_s,
            "text_tok_per_s(incl. prefill)": n_text / text_s, "patches": n_patches,
            "patches_per_s(incl. final decode)": n_patches / (total - text_s), "total_s": total}


def median_figures(runs: list[dict]) -> dict:
    """Per key, the median over runs (keys and integer counts are the same in every run)."""
    return {k: (statistics.median(r[k] for r in runs) if isinstance(v, float) else v) for k, v in runs[0].items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--ckpt", type=Path, default=None, help="checkpoint dir (built if missing)")
    ap.add_argument("--keep", action="store_true", help="keep the temp checkpoint")
    ap.add_argument("--seconds", type=float, default=10.0, help="input audio length for transcribe")
    ap.add_argument("--repeat", type=int, default=1, help="runs per workload; the median of each figure is shown")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = None
    ckpt = args.ckpt
    if ckpt is None:
        tmp = tempfile.mkdtemp(prefix="ming-bench-")
        ckpt = Path(tmp) / "ckpt"
    if not (ckpt / "config.json").is_file():
        _, t = timed(lambda: write_checkpoint(ckpt, mid_config(), shards=2))
        print(f"wrote {ckpt} in {t:.1f}s")
    size = sum(f.stat().st_size for f in ckpt.glob("*.safetensors")) / 2**20
    stack, t_load = timed(lambda: load_stack(ckpt, "all"))
    n_params = sum(p.numel() for name in stack.loaded for p in getattr(stack, name).parameters())
    print(f"checkpoint {size:.0f} MiB, {n_params / 1e6:.1f} M params, loaded in {t_load:.1f}s; "
          f"torch threads {args.threads}; load average {os.getloadavg()[0]:.2f}")
    never_stop(stack)
    tok = TextTokenizer.from_dir(ckpt)
    print(f"budgets: transcribe {ASR_NEW_TOKENS} greedy tokens; speak {AUDIO_PATCHES} patches; edit "
          f"{EDIT_TEXT_TOKENS} CoT tokens + <gen_audio>, then {AUDIO_PATCHES} patches (1 patch = {PATCH} frames "
          f"= {PATCH * 20} ms); cfg 2, 10 solver steps; fp32; median of {args.repeat} run(s)")
    with torch.inference_mode():
        force_gen_audio(stack, tok, *edit_inputs(tok, 6.0), seed=5)
        for name, fn in (("transcribe", lambda: bench_transcribe(stack, tok, args.seconds)),
                         ("speak", lambda: bench_speak(stack, tok)),
                         ("edit", lambda: bench_edit(stack, tok, 6.0))):
            result = median_figures([fn() for _ in range(max(1, args.repeat))])
            print(f"{name:10s} " + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                             for k, v in result.items()), flush=True)
    if tmp and not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

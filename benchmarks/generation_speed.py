"""CPU speed of the generation loops on a mid-size random checkpoint in the released layout.

    python benchmarks/generation_speed.py [--threads N] [--ckpt DIR] [--keep] [--repeat N]
        [--dtype fp32 bf16] [--quantize none int8 int4] [--modes fp32 bf16 int8-fp32 int8-bf16 int4-bf16]

Builds (once, into --ckpt or a temp dir) a random checkpoint with the real structure scaled
down: Bailing MoE LLM with 3D rope (head_dim 128), GQA, 16 routed experts top-2 + 1 shared,
multi_gate; MingTok-Audio encoder / semantic module / decoder; DiT flow head; latent_dim 64.
Random weights never stop or switch to audio on their own, so the stop head is biased to
"continue" (fixed patch budgets) and the lm_head row of <gen_audio> is set so the edit's CoT
switches to audio after EDIT_TEXT_TOKENS tokens. Reports, for transcribe / speak / edit:
text tokens/s, audio patches/s (1 patch = 5 frames = 100 ms) and time to first audio.

With several modes (--dtype x --quantize, or --modes; quantisation is load_stack's weight-only
quantize= of the LLM's linear layers, the rest of the stack stays in the mode's dtype) every mode is
loaded from the same checkpoint into the same process, the repeats are interleaved (each repeat runs
every mode once, the order rotated) so load drift on a shared machine hits all alike, and one table
gives each figure's median with its speed-up against fp32 (median of the per-repeat ratios).
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
from benchmarks.cpu_share import Window  # noqa: E402

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


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
QUANTIZE = ("none", "int8", "int4")
# benchmark-only: --quantize int8, then int8_kernels.use_int8pack_mm (aten._weight_int8pack_mm, bf16
# activations, for inputs of <= 8 rows; prefill keeps torchao's path)
EXPERIMENTAL = ("int8mm",)


def parse_mode(mode: str) -> tuple[str, str]:
    """"fp32" / "bf16" / "int8-fp32" / "int4-bf16" / "none-bf16" / "int8" (fp32) / "int8mm-bf16"
    -> (quantize, dtype)."""
    parts = mode.split("-")
    known = parts[0] in QUANTIZE + EXPERIMENTAL
    quantize = parts[0] if known else "none"
    rest = parts[1:] if known else parts
    dtype = rest[0] if rest else "fp32"
    if len(rest) > 1 or dtype not in DTYPES:
        raise argparse.ArgumentTypeError(f"mode {mode!r}: expected [none|int8|int4|int8mm-]fp32|bf16")
    return quantize, dtype


def mode_label(quantize: str, dtype: str) -> str:
    return dtype if quantize == "none" else f"{quantize}-{dtype}"


def model_mib(stack) -> float:
    """MiB the loaded tensors hold (torchao tensors: quantised values + scales + zeros)."""
    from ming_edit.model.quantize import is_quantized, storage_bytes

    seen, total = set(), 0
    for name in stack.loaded:
        for t in getattr(stack, name).state_dict(keep_vars=True).values():
            ptr = t.qdata.data_ptr() if is_quantized(t) and hasattr(t, "qdata") else t.data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                total += storage_bytes(t)
    return total / 2**20


# table columns: (header, workload, key, higher is better)
COLUMNS = (
    ("transcribe enc+prefill s", "transcribe", "encode+prefill_s", False),
    ("transcribe text tok/s", "transcribe", "decode_tok_per_s", True),
    ("speak first audio s", "speak", "time_to_first_audio_s", False),
    ("speak patches/s", "speak", "patches_per_s", True),
    ("edit text tok/s", "edit", "text_tok_per_s(incl. prefill)", True),
    ("edit first audio step s", "edit", "text_phase_s(incl. encode+prefill)", False),
    ("edit patches/s", "edit", "patches_per_s(incl. final decode)", True),
)


def print_table(labels: list[str], runs: dict[str, list[dict]], base: str, mib: dict[str, float],
                others: dict[str, list[float]]) -> None:
    """One markdown row per mode: the median of each figure and, in brackets, the median over the
    interleaved repeats of its speed-up against ``base`` in the same repeat (rates: mode / base,
    times: base / mode; > 1 is faster)."""
    print("| mode | model MiB | " + " | ".join(c[0] for c in COLUMNS) + " | others' CPU % |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for label in labels:
        cells = []
        for _, work, key, higher in COLUMNS:
            values = [r[work][key] for r in runs[label]]
            pairs = [(r[work][key] / b[work][key]) if higher else (b[work][key] / r[work][key])
                     for r, b in zip(runs[label], runs[base])]
            cells.append(f"{statistics.median(values):.3g} ({statistics.median(pairs):.2f}x)")
        busy = f"{100 * statistics.median(others[label]):.0f}" if others[label] else "?"
        print(f"| {label} | {mib[label]:.0f} | " + " | ".join(cells) + f" | {busy} |")
    print(f"(in brackets: speed-up against {base}, median of the per-repeat ratios; > 1 is faster; others' CPU: "
          "median share of all CPUs other processes used during that mode's runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--ckpt", type=Path, default=None, help="checkpoint dir (built if missing)")
    ap.add_argument("--keep", action="store_true", help="keep the temp checkpoint")
    ap.add_argument("--seconds", type=float, default=10.0, help="input audio length for transcribe")
    ap.add_argument("--repeat", type=int, default=1, help="runs per workload; the median of each figure is shown")
    ap.add_argument("--dtype", nargs="+", choices=list(DTYPES), default=["fp32"],
                    help="stack dtype(s); every --dtype x --quantize pair is one mode")
    ap.add_argument("--quantize", nargs="+", choices=list(QUANTIZE), default=["none"],
                    help="weight-only quantisation of the LLM's linear layers (load_stack(quantize=...))")
    ap.add_argument("--modes", nargs="+", type=parse_mode, default=None,
                    help="instead of --dtype x --quantize: e.g. fp32 bf16 int8-fp32 int8-bf16 int4-bf16; also "
                         "int8mm-fp32 / int8mm-bf16: --quantize int8 with decode steps on aten._weight_int8pack_mm "
                         "(benchmark-only, int8_kernels.use_int8pack_mm)")
    ap.add_argument("--max-others", type=float, default=0.2,
                    help="redo a mode's run (up to 2 times) when other processes used more than this share "
                         "of the CPUs during it")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    modes = args.modes or [(q, d) for q in args.quantize for d in args.dtype]
    modes = list(dict.fromkeys(modes))
    labels = [mode_label(q, d) for q, d in modes]
    tmp = None
    ckpt = args.ckpt
    if ckpt is None:
        tmp = tempfile.mkdtemp(prefix="ming-bench-")
        ckpt = Path(tmp) / "ckpt"
    if not (ckpt / "config.json").is_file():
        _, t = timed(lambda: write_checkpoint(ckpt, mid_config(), shards=2))
        print(f"wrote {ckpt} in {t:.1f}s")
    size = sum(f.stat().st_size for f in ckpt.glob("*.safetensors")) / 2**20
    tok = TextTokenizer.from_dir(ckpt)
    stacks, mib = {}, {}
    for (quantize, dtype), label in zip(modes, labels):
        stack, t_load = timed(lambda: load_stack(ckpt, "all", dtype=DTYPES[dtype],
                                                 quantize="int8" if quantize == "int8mm" else quantize))
        if quantize == "int8mm":
            from benchmarks.int8_kernels import use_int8pack_mm

            print(f"{label}: {use_int8pack_mm(stack.llm)} LLM linears on aten._weight_int8pack_mm for <= 8 rows")
        n_params = sum(p.numel() for name in stack.loaded for p in getattr(stack, name).parameters())
        mib[label] = model_mib(stack)
        print(f"{label}: checkpoint {size:.0f} MiB, {n_params / 1e6:.1f} M params ({mib[label]:.0f} MiB "
              f"loaded), loaded in {t_load:.1f}s; torch threads {args.threads}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        never_stop(stack)
        with torch.inference_mode():
            force_gen_audio(stack, tok, *edit_inputs(tok, 6.0), seed=5)
        stacks[label] = stack
    print(f"budgets: transcribe {ASR_NEW_TOKENS} greedy tokens; speak {AUDIO_PATCHES} patches; edit "
          f"{EDIT_TEXT_TOKENS} CoT tokens + <gen_audio>, then {AUDIO_PATCHES} patches (1 patch = {PATCH} frames "
          f"= {PATCH * 20} ms); cfg 2, 10 solver steps; {', '.join(labels)}; median of {args.repeat} run(s)"
          + ("; modes interleaved, the order rotated each repeat" if len(labels) > 1 else ""))
    workloads = (("transcribe", lambda s: bench_transcribe(s, tok, args.seconds)),
                 ("speak", lambda s: bench_speak(s, tok)),
                 ("edit", lambda s: bench_edit(s, tok, 6.0)))
    runs: dict[str, list[dict]] = {label: [] for label in labels}
    loads, others, redone = [], {label: [] for label in labels}, 0
    with torch.inference_mode():
        for i in range(max(1, args.repeat)):
            k = i % len(labels)
            for label in labels[k:] + labels[:k]:
                for attempt in range(3):  # other processes on a 2-core machine slow 2 threads 4-6x
                    window = Window()
                    result = {name: fn(stacks[label]) for name, fn in workloads}
                    busy = window.others()
                    if busy is None or busy <= args.max_others or attempt == 2:
                        break
                    redone += 1
                runs[label].append(result)
                loads.append(os.getloadavg()[0])
                if busy is not None:
                    others[label].append(busy)
    for label in labels:
        for name, _ in workloads:
            result = median_figures([r[name] for r in runs[label]])
            print(f"{label + ' ' if len(labels) > 1 else ''}{name:10s} "
                  + "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()),
                  flush=True)
    if len(labels) > 1:
        shares = [x for v in others.values() for x in v]
        busy = f"; other processes used {100 * min(shares):.0f}-{100 * max(shares):.0f} % of the CPUs" if shares else ""
        print(f"load average during the runs: {min(loads):.2f}-{max(loads):.2f} (1-minute, sampled after each mode)"
              + busy
              + f"; {redone} run(s) redone for other processes above {100 * args.max_others:.0f} %")
        print_table(labels, runs, "fp32" if "fp32" in labels else labels[0], mib, others)
    if tmp and not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

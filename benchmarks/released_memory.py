"""Weight memory of the released 16B checkpoints from their tensor shapes (no weights needed).

    python benchmarks/released_memory.py [--seconds 30] [--task all|edit|asr|tts]

Builds the checkpoint key -> shape map of inclusionAI/Ming-UniAudio-16B-A3B (and -Edit, the same
architecture fine-tuned) with ``benchmarks.checkpoints.upstream_key_shapes`` from the configuration
below, turns it into safetensors-style headers ({key: (shape, "BF16")}, the released dtype) and asks
``ming_edit.model.memory`` what the device and the host need for bf16 / int8 / int4 with and without
``--offload experts``, and whether that fits a 12 GB / 24 GB GPU with the pre-load check's margin
(``needed_with_margin``: x 1.1 + 1 GiB; a "12 GB" card taken as 12 GiB).

Where each number comes from (mirrors read with ``git show HEAD:path``):

LLM (BailingMoe, Ling-lite): verified. ``llm_config`` of Ming-Lite-Omni
(github inclusionAI/Ming @ 4876ed41, Ming-omni/config.json) - Ming-UniAudio-Edit is "built upon
Ming-Lite-Omni" (Ming-UniAudio README) - identical in Ming-UniVision-16B-A3B (github
inclusionAI/Ming-UniVision @ 3bbdd2f0, mingunivision/config.json, whose maintainers call its LLM
"Ling-lite-1.5", Ming-UniVision issue #10) and in Ling-lite itself (github inclusionAI/Ling @
5ccaeae0, inference/mindie/lite/model_chat_config.json): vocab_size 126464, hidden_size 2048,
num_hidden_layers 28, num_attention_heads 16, num_key_value_heads 4, head_dim 128 (Ming-UniVision;
= 2048 / 16), num_experts 64, num_experts_per_tok 6, num_shared_experts 2, moe_intermediate_size
1408, intermediate_size 5632 (unused: first_k_dense_replace 0, every layer is MoE),
tie_word_embeddings false (a separate lm_head), use_bias / use_qkv_bias false, multi_gate true
(3 routers a layer), rope 3D (Ming-UniVision; Ming-UniAudio's get_rope_index is 3D). Consistency:
Ming-UniAudio's own tokenizer_config.json (github inclusionAI/Ming-UniAudio @ dd117534) has its
added tokens at ids 126080..126374 < 126464; Ling's README gives 16.8B total / 2.75B activated,
which the shapes below reproduce.

Audio tokenizer (MingTok-Audio) and flow head: NOT verified - neither github repository nor any
public page found holds their config.json, so these are assumptions (they are ~1.4B of the ~18.2B
parameters and stay in --dtype under any --quantize, so +-0.5B here moves every device figure by
about +-1 GB):
* latent_dim 64: upstream's Encoder / Decoder default (audio_tokenizer/vae_modules.py) and what
  third-party users of the released tokenizer report; frames 320 samples at 16 kHz
  (Ming-UniAudio preprocessor_config.json: hop_size 320, sampling_rate 16000, patch_size 5).
* semantic module = Whisper-large-v3 encoder dims (n_state 1280, n_head 20, n_layer 32): a
  third-party description ("ported from the Whisper large-v3 encoder"); not confirmed.
* encoder / decoder Qwen2 backbones: hidden 1024, 12 layers, 16 heads (no GQA), intermediate 4096
  each - a guess, chosen so that MingTok-Audio totals ~1.0B, the size Hugging Face lists for
  inclusionAI/MingTok-Audio ("1B", rounded).
* DiT flow head: fm/dit.py's defaults (hidden 1024, depth 28, 16 heads, mlp_ratio 4), which apply
  to every key the released ditar_config leaves out.
Check: the whole model comes to ~18.2B parameters; Hugging Face lists both released checkpoints
as "18B" (rounded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.checkpoints import upstream_key_shapes  # noqa: E402
from ming_edit.model import memory  # noqa: E402
from ming_edit.model.config import parse_config  # noqa: E402

CHECKPOINTS = ("inclusionAI/Ming-UniAudio-16B-A3B", "inclusionAI/Ming-UniAudio-16B-A3B-Edit")
GPUS_GIB = (12, 24)
MODES = (("bf16", "none"), ("int8", "int8"), ("int4", "int4"))
GIB = 2**30

LLM = {  # verified (module note)
    "model_type": "bailing_moe", "vocab_size": 126464, "hidden_size": 2048, "intermediate_size": 5632,
    "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 128,
    "hidden_act": "silu", "use_qkv_bias": False, "use_bias": False, "rms_norm_eps": 1e-06, "norm_head": False,
    "tie_word_embeddings": False, "max_position_embeddings": 32768, "rope_theta": 600000,
    "rope_scaling": {"type": "3D", "factor": 1.0}, "max_window_layers": 28, "num_experts": 64,
    "num_shared_experts": 2, "num_experts_per_tok": 6, "norm_topk_prob": True, "moe_intermediate_size": 1408,
    "first_k_dense_replace": 0, "multi_gate": True, "pad_token_id": 126081, "eos_token_id": 126081,
}


def _qwen2(hidden: int, layers: int, heads: int, inter: int) -> dict:
    return {"hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": heads, "hidden_act": "silu",
            "max_position_embeddings": 8192, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
            "tie_word_embeddings": False, "vocab_size": 1}


def released_config() -> dict:
    """config.json of the released checkpoints: the verified LLM + the assumed audio side."""
    backbone = _qwen2(1024, 12, 16, 4096)  # ASSUMED (module note)
    return {
        "architectures": ["BailingMMNativeForConditionalGeneration"], "model_type": "bailingmm",
        "torch_dtype": "bfloat16", "llm_config": dict(LLM),
        "audio_tokenizer_config": {
            "enc_kwargs": {"backbone": dict(backbone), "input_dim": 320, "hop_size": 320, "latent_dim": 64},
            "semantic_module_kwargs": {"whisper_encoder": {"n_state": 1280, "n_head": 20, "n_layer": 32}},
            "dec_kwargs": {"backbone": dict(backbone), "output_dim": 320, "latent_dim": 64},
            "patch_size": 5,
        },
        "ditar_config": {"hidden_size": 1024, "depth": 28, "num_heads": 16, "mlp_ratio": 4.0},
    }


def released_headers(config: dict) -> dict[str, tuple[tuple[int, ...], str]]:
    """Safetensors-style headers: every tensor bf16 as released, the two persistent buffers float32."""
    return {key: (shape, "F32" if key.endswith(("istft.window", "inv_freq")) else "BF16")
            for key, shape in upstream_key_shapes(config).items()}


def parameter_counts(headers: dict, config: dict) -> dict[str, int]:
    """Parameters per part, and the LLM's active parameters per token (top-k of the routed experts)."""
    def numel(shape: tuple[int, ...]) -> int:
        n = 1
        for d in shape:
            n *= d
        return n

    parts = {"llm": 0, "routed experts": 0, "audio tokenizer": 0, "flow head": 0, "projector + stop head": 0}
    for key, (shape, _) in headers.items():
        n = numel(shape)
        if memory.is_routed_expert_key(key):
            parts["routed experts"] += n
        elif key.startswith("model."):
            parts["llm"] += n
        elif key.startswith("audio."):
            parts["audio tokenizer"] += n
        elif key.startswith("flowloss."):
            parts["flow head"] += n
        else:
            parts["projector + stop head"] += n
    llm = config["llm_config"]
    parts["llm total"] = parts["llm"] + parts["routed experts"]
    parts["llm active"] = parts["llm"] + parts["routed experts"] * llm["num_experts_per_tok"] // llm["num_experts"]
    parts["total"] = sum(parts[k] for k in ("llm total", "audio tokenizer", "flow head", "projector + stop head"))
    return parts


def rows(headers: dict, config: dict, seconds: float, task: str) -> list[dict]:
    parsed = parse_config(config)
    out = []
    for label, mode in MODES:
        for offload in memory.OFFLOAD_CHOICES:
            weights = memory.weight_bytes(headers, mode, 2, task, "bailingmm", "cuda", offload)
            host = memory.offloaded_bytes(headers, mode, 2, task) if offload == "experts" else 0
            est = memory.Estimate(mode, weights, memory.runtime_bytes(parsed, seconds, 2), host)
            needed = memory.needed_with_margin(est, "cuda")
            out.append({"dtype": label, "offload": offload, "weights": weights, "runtime": est.runtime,
                        "total": est.total, "needed": needed, "host": host,
                        "fits": {g: needed <= g * GIB for g in GPUS_GIB}})
    return out


def table(results: list[dict], seconds: float) -> str:
    head = (f"| weights | --offload | device: weights | KV + activations ({seconds:g} s) | device total | "
            f"with margin (GiB) | host: offloaded experts | " + " | ".join(f"fits {g} GB" for g in GPUS_GIB) + " |")
    lines = [head, "|" + "---|" * (7 + len(GPUS_GIB))]
    for r in results:
        cells = [r["dtype"], r["offload"], *(f"{r[k] / 1e9:.1f} GB" for k in ("weights", "runtime", "total")),
                 f"{r['needed'] / GIB:.1f} GiB",
                 f"{r['host'] / 1e9:.1f} GB" if r["host"] else "-",
                 *("yes" if r["fits"][g] else "no" for g in GPUS_GIB)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length for the KV/activation estimate")
    parser.add_argument("--task", default="all", choices=sorted(memory.TASKS), help="components counted")
    args = parser.parse_args()
    config = released_config()
    headers = released_headers(config)
    counts = parameter_counts(headers, config)
    print(f"{' and '.join(CHECKPOINTS)} (same shapes), {len(headers)} tensors, bf16 as released")
    print("parameters: " + ", ".join(f"{k} {v / 1e9:.3f}B" for k, v in counts.items()))
    print("sanity: Ling-lite is 16.8B total / 2.75B active; Hugging Face lists both checkpoints as 18B\n")
    results = rows(headers, config, args.seconds, args.task)
    print(table(results, args.seconds))
    print(f"\ntask {args.task}, device cuda (int4: tinygemm layout on the device, CPU int4 packing for the "
          f"offloaded experts), margin x{memory.MARGIN} + {memory.HEADROOM_BYTES['cuda'] / GIB:.0f} GiB, "
          f"a 'N GB' card = N GiB; GB = 1e9 bytes")
    for target, (label, offload), gib in (("int4 + expert offload on a 12 GB GPU", ("int4", "experts"), 12),
                                          ("int8 on a 24 GB GPU", ("int8", "none"), 24)):
        r = next(r for r in results if (r["dtype"], r["offload"]) == (label, offload))
        verdict = "met" if r["fits"][gib] else "MISSED"
        print(f"target {target}: {verdict} (needs {r['needed'] / GIB:.1f} GiB with margin, card {gib} GiB)")


if __name__ == "__main__":
    main()

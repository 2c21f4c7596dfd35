"""Checkpoint loading: time and peak host memory of ming_edit.model.loader.load_stack.

Writes a random checkpoint with the key layout of the released Ming-UniAudio-16B-A3B structure
(28 Bailing MoE layers x 64 routed + 2 shared experts, multi-gate, 3D rope; MingTok-Audio encoder /
semantic module / decoder; DiT flow head; stop head) with the widths scaled down so that it is
~1.2 GB in float32, saved as several shards + model.safetensors.index.json. Each measurement then
runs in a fresh subprocess: import everything, note RSS, load_stack(), and sample RSS every 2 ms.

    python benchmarks/load_checkpoint.py [--shards 4] [--keep DIR]

Columns: load s; peak dRSS = highest RSS during load minus RSS before it; kept dRSS = RSS after
load minus before (the model itself); overhead = peak - kept, the loader's transient memory, which
must stay below 1.25 x the largest shard. A CPU float32 load keeps safetensors' memory maps (pages
arrive on first use), so its "touch" row also reads every weight once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def structure_config(hidden: int = 256, expert_width: int = 112, audio_layers: int = 12, dit_depth: int = 6) -> dict:
    """The 16B-A3B layout (layer / expert / block counts) with narrow widths (the LLM's hidden
    size and expert width, the audio tokenizer's depth and the flow head's depth given)."""
    from benchmarks.checkpoints import golden_config

    cfg = golden_config()
    cfg["llm_config"].update(
        vocab_size=157184, hidden_size=hidden, intermediate_size=1024, num_hidden_layers=28,
        num_attention_heads=4, num_key_value_heads=2, head_dim=128, num_experts=64,
        num_shared_experts=2, num_experts_per_tok=6, moe_intermediate_size=expert_width,
        first_k_dense_replace=0, multi_gate=True, max_position_embeddings=32768,
    )
    vae = cfg["audio_tokenizer_config"]
    for part in ("enc_kwargs", "dec_kwargs"):
        vae[part]["backbone"].update(hidden_size=256, intermediate_size=1024, num_hidden_layers=audio_layers,
                                     num_attention_heads=4, num_key_value_heads=4)
        vae[part]["latent_dim"] = 64
    vae["semantic_module_kwargs"]["whisper_encoder"] = {"n_state": 256, "n_head": 4, "n_layer": audio_layers}
    cfg["ditar_config"].update(hidden_size=256, depth=dit_depth, num_heads=4)
    return cfg


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(directory: str, dtype_name: str, touch: bool) -> None:
    """Fresh process: import, measure RSS around load_stack, print one JSON line."""
    import torch

    from ming_edit.model.loader import COMPONENTS, component_class, load_stack

    for name in COMPONENTS:  # import cost is not loading cost
        component_class(name)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    before = rss_bytes()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    stack = load_stack(directory, "all", device="cpu", dtype=dtype)
    if touch:  # bring every mapped page in, as the first forward pass would
        for name in stack.loaded:
            for p in getattr(stack, name).parameters():
                p.float().sum()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss_bytes())
    kept = rss_bytes() - before
    n_bytes = sum(p.numel() * p.element_size() for n in stack.loaded for p in getattr(stack, n).parameters())
    print(json.dumps({"seconds": seconds, "before": before, "peak": peak[0] - before, "kept": kept,
                      "model_bytes": n_bytes, "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def measure(directory: Path, dtype: str, touch: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(directory), "--dtype", dtype] + (["--touch"] if touch else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="write/reuse the checkpoint here instead of a temp dir")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--touch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dtype, args.touch)
        return

    from benchmarks.checkpoints import write_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.keep or Path(tmp) / "ckpt"
        if not (ckpt / "config.json").is_file():
            start = time.perf_counter()
            write_checkpoint(ckpt, structure_config(), shards=args.shards, seed=0)
            print(f"wrote {ckpt} in {time.perf_counter() - start:.1f} s")
        shards = sorted(ckpt.glob("model-*.safetensors")) or [ckpt / "model.safetensors"]
        sizes = [p.stat().st_size for p in shards]
        n_keys = len(json.loads((ckpt / "model.safetensors.index.json").read_text())["weight_map"])
        mb = 1 / 2**20
        print(f"checkpoint: {sum(sizes) * mb:.0f} MiB in {len(sizes)} shards, {n_keys} keys, "
              f"largest shard {max(sizes) * mb:.0f} MiB (limit for overhead: {1.25 * max(sizes) * mb:.0f} MiB)")
        rows = [("cpu fp32 (mmap)", "fp32", False), ("cpu fp32 + touch", "fp32", True), ("cpu bf16 (cast)", "bf16", False)]
        print(f"{'target':<18}{'load s':>8}{'model MiB':>11}{'peak dRSS':>11}{'kept dRSS':>11}{'overhead':>10}{'ok':>5}")
        for label, dtype, touch in rows:
            r = measure(ckpt, dtype, touch)
            overhead = r["peak"] - r["kept"]
            ok = overhead < 1.25 * max(sizes)
            print(f"{label:<18}{r['seconds']:>8.2f}{r['model_bytes'] * mb:>11.0f}{r['peak'] * mb:>11.0f}"
                  f"{r['kept'] * mb:>11.0f}{overhead * mb:>10.0f}{'yes' if ok else 'NO':>5}")


if __name__ == "__main__":
    main()

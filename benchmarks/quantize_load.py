"""--quantize while loading: peak host memory, load time and CPU decode speed on a mid-size checkpoint.

    python benchmarks/quantize_load.py [--shards 4] [--keep DIR] [--threads 2] [--no-speed]

Writes (once, into --keep or a temp dir) a random checkpoint in the released Ming-UniAudio layout:
the 16B-A3B structure (28 Bailing MoE layers x 64 routed experts top-6 + 2 shared, multi-gate, 3D
rope, vocab 157184; MingTok-Audio encoder / semantic module / decoder; DiT; stop head) with narrower
widths (hidden 384, expert width 256), stored in bf16 as released (~1.4 GB) in --shards shards.
Each row then loads it in a fresh process (imports and one warm-up quantisation first):

  model MiB  bytes the loaded tensors hold (torchao tensors: quantised values + scales + zeros)
  peak dRSS  highest RSS during load_stack minus RSS before it (VmHWM, reset just before the load,
             and RSS sampled every 2 ms)
  bound      (model + largest shard) x 1.25 - the issue's limit for a quantised load
  load s     wall time of load_stack

Loads run with --load-threads torch threads (default 1). With --threads N (default 2) the same processes then time the LLM alone on CPU: a 64-token prefill,
then 32 greedy decode steps with the KV cache (lm_head included): text tokens/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.load_checkpoint import rss_bytes, structure_config  # noqa: E402

ROWS = [  # (label, --quantize, dtype)
    ("none bf16 (mmap)", "none", "bf16"),
    ("none fp32 (cast)", "none", "fp32"),
    ("int8 fp32", "int8", "fp32"),
    ("int8 bf16", "int8", "bf16"),
    ("int4 fp32", "int4", "fp32"),
    ("int4 bf16", "int4", "bf16"),
]
PREFILL, DECODE = 64, 32


def mid_config() -> dict:
    """The 16B-A3B layer / expert counts with narrower widths (~700 M parameters)."""
    return structure_config(hidden=384, expert_width=256, audio_layers=4, dit_depth=4)


def status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak() -> bool:
    """Linux: reset VmHWM (the peak RSS) to the current RSS, so it measures the load alone."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(directory: str, quantize: str, dtype_name: str, threads: int, load_threads: int) -> None:
    """Fresh process: import, measure RSS around load_stack, optionally time decoding; one JSON line."""
    import torch

    torch.set_num_threads(load_threads)

    from ming_edit.model.loader import COMPONENTS, component_class, load_stack
    from ming_edit.model.quantize import is_quantized, storage_bytes

    for name in COMPONENTS:  # import cost is not loading cost
        component_class(name)
    if quantize != "none":
        import torchao.quantization  # noqa: F401
        if quantize == "int4":
            import torchao.prototype.quantization.int4  # noqa: F401
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    from ming_edit.model.quantize import quantize_weight

    quantize_weight(torch.randn(64, 64, dtype=dtype), quantize)  # first-call set-up is not the load
    hwm = reset_peak()
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
    stack = load_stack(directory, "all", device="cpu", dtype=dtype, quantize=quantize)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss_bytes(), status_bytes("VmHWM") if hwm else 0)
    seen, model_bytes, n_quantized = set(), 0, 0
    for name in stack.loaded:
        for t in getattr(stack, name).state_dict(keep_vars=True).values():
            ptr = t.qdata.data_ptr() if is_quantized(t) else t.data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                model_bytes += storage_bytes(t)
                n_quantized += is_quantized(t)
    result = {"seconds": seconds, "peak": peak[0] - before, "kept": rss_bytes() - before,
              "model_bytes": model_bytes, "quantized_tensors": n_quantized}
    if threads:
        result["tok_per_s"] = decode_speed(stack, threads)
    print(json.dumps(result))


def decode_speed(stack, threads: int) -> float:
    """Greedy decode tokens/s of the LLM alone (prefill of PREFILL tokens first, not timed)."""
    import torch

    torch.set_num_threads(threads)
    llm = stack.llm
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, llm.cfg.vocab_size, (1, PREFILL), generator=gen)
    rates = []
    with torch.inference_mode():
        for _ in range(3):
            cache = llm.new_cache()
            out = llm(llm.embed(ids).to(stack.dtype), cache=cache, logits_last_only=True)
            token = out.logits[0, -1].argmax().view(1, 1)
            start = time.perf_counter()
            for _ in range(DECODE):
                out = llm(llm.embed(token).to(stack.dtype), cache=cache, logits_last_only=True)
                token = out.logits[0, -1].argmax().view(1, 1)
            rates.append(DECODE / (time.perf_counter() - start))
    return statistics.median(rates)


def measure(directory: Path, quantize: str, dtype: str, threads: int, load_threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", str(directory), "--quantize", quantize, "--dtype", dtype,
           "--threads", str(threads), "--load-threads", str(load_threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(threads, 1)))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="write/reuse the checkpoint here instead of a temp dir")
    parser.add_argument("--threads", type=int, default=2, help="threads for the decode timing (0: skip it)")
    parser.add_argument("--load-threads", type=int, default=1,
                        help="torch threads while loading (default 1: the small per-tensor ops of quantising "
                             "lose more to OpenMP on a busy 2-core machine than they gain)")
    parser.add_argument("--no-speed", action="store_true", help="skip the decode timing")
    parser.add_argument("--only", nargs="*", help="row labels to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quantize", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.quantize, args.dtype, args.threads, args.load_threads)
        return

    import torch

    from benchmarks.checkpoints import write_checkpoint

    threads = 0 if args.no_speed else args.threads
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.keep or Path(tmp) / "ckpt"
        if not (ckpt / "config.json").is_file():
            start = time.perf_counter()
            write_checkpoint(ckpt, mid_config(), shards=args.shards, seed=0, dtype=torch.bfloat16)
            print(f"wrote {ckpt} in {time.perf_counter() - start:.1f} s")
        shards = sorted(ckpt.glob("model-*.safetensors")) or [ckpt / "model.safetensors"]
        sizes = [p.stat().st_size for p in shards]
        mb = 1 / 2**20
        print(f"checkpoint: {sum(sizes) * mb:.0f} MiB (bf16) in {len(sizes)} shards, largest "
              f"{max(sizes) * mb:.0f} MiB; torch {torch.__version__}; load threads {args.load_threads}; "
              f"decode threads {threads or '-'}; "
              f"load average {os.getloadavg()[0]:.2f}")
        head = f"{'row':<18}{'load s':>8}{'model MiB':>11}{'peak dRSS':>11}{'bound':>9}{'ok':>5}"
        print(head + (f"{'tok/s':>8}" if threads else ""))
        for label, quantize, dtype in ROWS:
            if args.only and label not in args.only:
                continue
            r = measure(ckpt, quantize, dtype, threads, args.load_threads)
            bound = 1.25 * (r["model_bytes"] + max(sizes))
            line = (f"{label:<18}{r['seconds']:>8.2f}{r['model_bytes'] * mb:>11.0f}{r['peak'] * mb:>11.0f}"
                    f"{bound * mb:>9.0f}{'yes' if r['peak'] <= bound else 'NO':>5}")
            if threads:
                line += f"{r['tok_per_s']:>8.1f}"
            print(line, flush=True)
        print("none bf16 keeps safetensors' memory maps (pages arrive on first use: its peak is what the "
              "load touched, the decode then reads the rest); every other row copies.")


if __name__ == "__main__":
    main()

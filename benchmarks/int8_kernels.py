"""CPU weight-only matmul kernels at the LLM's decode shapes: float, torchao int8 / int4, aten int8pack.

    python benchmarks/int8_kernels.py [--threads 2] [--tokens 1 64] [--repeat 7] [--seconds 0.1] [--copies N]
        [--shapes 2048x1408 ...] [--only KERNEL ...] [--max-others 0.2]

By default each kernel cycles through copies of its weight, as many as make >= 64 MiB in int4 (2x
this machine's L3; the real model reads other experts every step, so its weights come from memory,
not cache): 26-47 copies, ~6 GB peak RSS (measured 5.9 GB). --copies 1 times one weight, hot in L2 / L3.

For each weight [out, in] (the real model's widths: expert 2048 -> 1408 and 1408 -> 2048, attention
2048 -> 2560) and each activation [tokens, in] it times, in interleaved blocks (every kernel once per
block, the order rotated, so load drift on a shared machine hits all alike):

  F.linear fp32 / bf16          plain float weights (MKL / oneDNN)
  torchao int8 wo fp32 / bf16   model/quantize.py's quantize_weight(w, "int8"): Int8WeightOnlyConfig ->
                                Int8Tensor, whose linear casts the int8 matrix to the activation dtype
                                on every call, multiplies, then scales the output
  aten int8pack fp32 / bf16     torch.ops.aten._weight_int8pack_mm(x, w_int8 [out, in], scales [out]),
                                the same int8 values and scales as torchao's (scales in x's dtype);
                                "bf16, fp32 in/out": an fp32 x cast to bf16 and the output back
  torchao int4 fp32 / bf16      quantize_weight(w, "int4"): Int4OpaqueTensor -> aten._weight_int4pack_mm_for_cpu
  torchao int8 dyn fp32 / bf16  Int8DynamicActivationInt8WeightConfig (int8 activations per token,
                                int8 x int8 -> int32 matmul); changes the activations too

Reports per kernel: median us per call, speed-up against F.linear fp32 (median of the per-block
ratios), the weight bytes it reads, and its relative output error ||y - y_fp32|| / ||y_fp32||.
Kernels more than 10x slower than F.linear fp32 (marked *: scalar fallbacks) are timed in blocks of
their own after the interleaved ones, their speed-up as a ratio of medians. A block during which
other processes used > --max-others of the CPUs is redone (up to twice; see cpu_share.py).

``use_int8pack_mm(module)`` (benchmark-only) routes a loaded int8 LLM's decode-sized matmuls
through aten._weight_int8pack_mm; generation_speed.py's int8mm-fp32 / int8mm-bf16 modes use it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cpu_share import Window  # noqa: E402
from ming_edit.model.quantize import quantize_weight, storage_bytes  # noqa: E402

SHAPES = ((2048, 1408), (1408, 2048), (2048, 2560))  # (in, out)
SLOW = 10
MAX_ROWS = 8  # aten int8pack bf16 beats F.linear bf16 up to 8 rows at 2048x1408 (2.9x at 1, 1.3x at 8, 0.9x at 16)


def dyn_int8(weight: torch.Tensor) -> torch.Tensor:
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=weight.dtype)
    linear.weight = torch.nn.Parameter(weight.detach().clone(), requires_grad=False)
    quantize_(linear, Int8DynamicActivationInt8WeightConfig(set_inductor_config=False))
    return linear.weight


def kernels(w32: torch.Tensor) -> dict:
    """name -> (activation dtype, fn(x), weight bytes)."""
    w16 = w32.to(torch.bfloat16)
    q8_32, q8_16 = quantize_weight(w32, "int8"), quantize_weight(w16, "int8")
    q4_32, q4_16 = quantize_weight(w32, "int4"), quantize_weight(w16, "int4")
    d8_32, d8_16 = dyn_int8(w32), dyn_int8(w16)
    qdata = q8_32.qdata.contiguous()  # [out, in] int8, symmetric, one scale per output row
    s32 = q8_32.scale.reshape(-1).float().contiguous()
    s16 = s32.to(torch.bfloat16)
    int8mm = torch.ops.aten._weight_int8pack_mm
    f32, b16 = torch.float32, torch.bfloat16
    return {
        "F.linear fp32": (f32, lambda x: F.linear(x, w32), storage_bytes(w32)),
        "F.linear bf16": (b16, lambda x: F.linear(x, w16), storage_bytes(w16)),
        "torchao int8 wo fp32": (f32, lambda x: F.linear(x, q8_32), storage_bytes(q8_32)),
        "torchao int8 wo bf16": (b16, lambda x: F.linear(x, q8_16), storage_bytes(q8_16)),
        "aten int8pack fp32": (f32, lambda x: int8mm(x, qdata, s32), qdata.numel() + s32.numel() * 4),
        "aten int8pack bf16": (b16, lambda x: int8mm(x, qdata, s16), qdata.numel() + s16.numel() * 2),
        "aten int8pack bf16, fp32 in/out": (f32, lambda x: int8mm(x.to(b16), qdata, s16).to(f32),
                                            qdata.numel() + s16.numel() * 2),
        "torchao int4 fp32": (f32, lambda x: F.linear(x, q4_32), storage_bytes(q4_32)),
        "torchao int4 bf16": (b16, lambda x: F.linear(x, q4_16), storage_bytes(q4_16)),
        "torchao int8 dyn fp32": (f32, lambda x: F.linear(x, d8_32), storage_bytes(d8_32)),
        "torchao int8 dyn bf16": (b16, lambda x: F.linear(x, d8_16), storage_bytes(d8_16)),
    }


_NEXT: dict[int, int] = {}


def use_int8pack_mm(module: torch.nn.Module, max_rows: int = MAX_ROWS) -> int:
    """Benchmark-only (the library is unchanged): route each nn.Linear under ``module`` whose weight is
    torchao's per-row Int8Tensor (quantize_weight(w, "int8")) through aten._weight_int8pack_mm when
    the input has <= ``max_rows`` rows (decode steps), with bf16 activations (an fp32 input is cast to
    bf16 and the output back); larger inputs (prefill) keep torchao's path. Returns how many."""
    from torchao.quantization import Int8Tensor

    count = 0
    for linear in module.modules():
        weight = getattr(linear, "weight", None)
        if not isinstance(linear, torch.nn.Linear) or not isinstance(weight, Int8Tensor):
            continue
        if weight.act_quant_kwargs is not None or weight.block_size[-1] != weight.qdata.shape[-1]:
            continue  # not weight-only per-row
        qdata = weight.qdata.contiguous()
        scales = weight.scale.reshape(-1).to(torch.bfloat16).contiguous()

        def forward(x, linear=linear, qdata=qdata, scales=scales, torchao_forward=linear.forward):
            rows = x.numel() // x.shape[-1]
            if rows > max_rows:
                return torchao_forward(x)
            y = torch.ops.aten._weight_int8pack_mm(x.reshape(rows, x.shape[-1]).to(torch.bfloat16), qdata, scales)
            if linear.bias is not None:
                y = y + linear.bias.to(y.dtype)
            return y.to(x.dtype).reshape(*x.shape[:-1], qdata.shape[0])

        linear.forward = forward
        count += 1
    return count


def per_call(fns: list, x, n: int) -> float:
    """Seconds per call, cycling through the weight copies (``fns``), each call on the copy after the
    previous call's (across calls of per_call too), so none comes from cache when there are enough."""
    i = _NEXT.get(id(fns), 0)
    start = time.perf_counter()
    for j in range(i, i + n):
        fns[j % len(fns)](x)
    elapsed = time.perf_counter() - start
    _NEXT[id(fns)] = (i + n) % len(fns)
    return elapsed / n


def bench(n_in: int, n_out: int, tokens: int, repeat: int, seconds: float, only: list[str] | None,
          copies: int, max_others: float = 1.0) -> tuple[list[dict], int]:
    """Rows for one weight shape and token count, and how many blocks were redone because other
    processes used more than ``max_others`` of the CPUs meanwhile (at most 3 tries a block)."""
    gen = torch.Generator().manual_seed(n_in * 7 + n_out)
    weights = [torch.randn(n_out, n_in, generator=gen) / n_in**0.5 for _ in range(copies)]
    x32 = torch.randn(tokens, n_in, generator=gen)
    tables = [kernels(w) for w in weights]
    names = [k for k in tables[0] if not only or k in only or k == "F.linear fp32"]
    table = {k: (tables[0][k][0], [t[k][1] for t in tables], tables[0][k][2]) for k in names}
    ref = F.linear(x32, weights[0])
    xs = {torch.float32: x32, torch.bfloat16: x32.to(torch.bfloat16)}
    iters, errors, first = {}, {}, {}
    with torch.inference_mode():
        for name, (dtype, fns, _) in table.items():
            y = fns[0](xs[dtype])  # warm-up (first-call set-up, packing caches)
            errors[name] = float((y.float() - ref).norm() / ref.norm())
            first[name] = per_call(fns, xs[dtype], 3)
            iters[name] = max(3, int(seconds / max(first[name], 1e-7)))
        # kernels > SLOW x slower than F.linear fp32 (scalar fallbacks taking up to a second a call)
        # are timed after the others: interleaved with them they slowed the float kernels of the
        # same blocks 2-8x (seen at 2048x2560, 64 tokens), so they get their own blocks
        fast = [n for n in names if first[n] <= SLOW * first["F.linear fp32"]]
        slow = [n for n in names if n not in fast]
        times = {name: [] for name in names}
        redone = 0
        for r in range(repeat):
            k = r % len(fast)
            for attempt in range(3):
                window = Window()
                block = {}
                for name in fast[k:] + fast[:k]:
                    dtype, fns, _ = table[name]
                    block[name] = per_call(fns, xs[dtype], iters[name])
                busy = window.others()
                if busy is None or busy <= max_others or attempt == 2:
                    break
                redone += 1
            for name, t in block.items():
                times[name].append(t)
        for name in slow:
            dtype, fns, _ = table[name]
            times[name] = [per_call(fns, xs[dtype], iters[name]) for _ in range(max(1, min(repeat, 3)))]
    base = times["F.linear fp32"]
    return [{"kernel": name + (" *" if name in slow else ""), "us": statistics.median(times[name]) * 1e6,
             "speedup": (statistics.median(b / t for b, t in zip(base, times[name])) if name in fast
                         else statistics.median(base) / statistics.median(times[name])),
             "weight_mib": table[name][2] / 2**20, "rel_err": errors[name]} for name in names], redone


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, nargs="+", default=[1, 64], help="activation rows (decode: 1)")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved blocks per shape")
    ap.add_argument("--seconds", type=float, default=0.1, help="target length of one kernel's block")
    ap.add_argument("--only", nargs="*", help="kernel names to run besides F.linear fp32")
    ap.add_argument("--copies", type=int, default=0,
                    help="weight copies each kernel cycles through (0: enough for >= 64 MiB of int4 weights, "
                         "2x this machine's L3, so every format comes from memory as in the real model, where "
                         "each step reads other experts; 1: one weight, hot in cache)")
    ap.add_argument("--shapes", nargs="+", default=None,
                    help="weights as INxOUT (default: 2048x1408 1408x2048 2048x2560)")
    ap.add_argument("--max-others", type=float, default=0.2,
                    help="redo an interleaved block (up to 2 times) when other processes used more than this "
                         "share of the CPUs during it")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            have = set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
        flags = " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
                                     "amx_int8", "amx_tile") if f in have)
    except (OSError, StopIteration):
        pass
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"flags: {flags or '?'}; threads {args.threads}; {args.repeat} interleaved blocks of ~{args.seconds} s; "
          f"weight copies {args.copies or 'auto (>= 64 MiB in int4)'}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| in x out | tokens | kernel | us/call | vs F.linear fp32 | weight MiB | rel. error |")
    print("|---|---|---|---|---|---|---|")
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes] if args.shapes else SHAPES
    for n_in, n_out in shapes:
        for tokens in args.tokens:
            window = Window()
            copies = args.copies or -(-64 * 2**20 // (n_in * n_out // 2))  # the int4 copies fill 64 MiB
            rows, redone = bench(n_in, n_out, tokens, args.repeat, args.seconds, args.only, copies, args.max_others)
            for r in rows:
                print(f"| {n_in}x{n_out} | {tokens} | {r['kernel']} | {r['us']:.1f} | {r['speedup']:.2f}x | "
                      f"{r['weight_mib']:.2f} | {r['rel_err']:.1e} |", flush=True)
            print(f"<!-- {n_in}x{n_out}, {tokens} tokens: {window.note()}; {redone} block(s) redone -->", flush=True)


if __name__ == "__main__":
    main()

"""Peak memory and speed of `ming-edit edit` on whole podcast episodes (48 kHz stereo PCM_16).

Builds synthetic speech-like episodes block by block (never one array), then runs each edit in a
fresh `python -m ming_edit edit` process and reports wall time, x real time and peak RSS, beside
the sox binary doing a plain gain on the same file. Peak RSS is the larger of getrusage's
RUSAGE_CHILDREN ru_maxrss (the biggest single process, sox children included) and the sum over the
process tree sampled every 50 ms (ming-edit and its sox children together).

    python benchmarks/episode_memory.py                          # 10, 30 and 90 minutes
    python benchmarks/episode_memory.py --minutes 10 --ops volume speed
    python benchmarks/episode_memory.py --minutes 10 30 --before 30   # + the in-memory path up to 30 min

Target (issue 8): peak RSS under 600 MB on the 90-minute file, no slower per minute than before.
The episodes (~11.5 MB a minute) and outputs are written under --dir and deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
RATE = 48000
OPS = {
    "volume": "turn it down 3 dB",
    "speed": "make it 10% faster",
    "peak": "normalize peaks to -1 dB",
    "mono": "make it mono",
    "loudness": "normalize for podcasts",
    "truepeak": "normalize peaks to -1 dBTP",
    "denoise": "remove the background noise",
}
# the in-memory path as it was before streaming: the same CLI with the streaming route switched off
BEFORE = ("import sys; from ming_edit.pipelines import stream_edit; stream_edit.can_stream = lambda plan, subtype=None: False; "
          "sys.argv[0] = 'ming-edit'; from ming_edit.cli.app import main; main()")


def make_episode(path: Path, minutes: float, block_s: int = 30) -> None:
    """Voiced syllables on a wandering f0, phrase pauses, a noise floor; stereo with a small offset."""
    if path.exists() and sf.info(str(path)).frames == int(minutes * 60 * RATE):
        return
    rng = np.random.default_rng(90)
    total = int(minutes * 60 * RATE)
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16") as f:
        for start in range(0, total, block_s * RATE):
            t = (start + np.arange(min(block_s * RATE, total - start))) / RATE
            phase = 2 * np.pi * np.cumsum(130 + 40 * np.sin(2 * np.pi * 0.25 * t)) / RATE
            voiced = sum(np.sin(k * phase) / k for k in range(1, 7))
            syllables = np.clip(np.sin(2 * np.pi * 4.3 * t), 0, None) * (np.sin(2 * np.pi * 0.1 * t) > -0.6)
            mono = 0.25 * syllables * voiced + 0.004 * rng.standard_normal(t.size)
            f.write(np.stack([mono, 0.8 * mono + 0.002 * rng.standard_normal(t.size)], axis=1))


# A slim launcher: a child's ru_maxrss also counts the memory of the process that forked it, so
# the edit is started by this (a few MB) rather than by the benchmark (numpy, soundfile).
LAUNCHER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def _tree_rss_kib(root: int) -> int:
    """Resident KiB of ``root`` and all its descendants (children of every thread, recursively)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
            for task in os.scandir(f"/proc/{pid}/task"):
                todo += [int(c) for c in Path(task.path, "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one command run to completion: the larger of the biggest
    single process (getrusage RUSAGE_CHILDREN in the launcher) and the sampled sum of its tree."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, *cmd], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampled, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            sampled[0] = max(sampled[0], _tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {stderr.strip()}")
    return wall, max(int(stdout.split()[-1]), sampled[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 90])
    parser.add_argument("--ops", nargs="+", choices=sorted(OPS), default=list(OPS))
    parser.add_argument("--before", type=float, default=0, help="also time the in-memory path on episodes up to this many minutes")
    parser.add_argument("--dir", type=Path, default=REPO / "benchmarks" / "out" / "episodes")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    sox = shutil.which("sox")
    rows: list[tuple[float, str, str, float, float]] = []
    print("| minutes | edit | path | wall s | x real time | peak RSS MiB |\n|---|---|---|---|---|---|", flush=True)
    try:
        for minutes in args.minutes:
            src, out = args.dir / f"episode_{minutes:g}min.wav", args.dir / "out.wav"
            make_episode(src, minutes)
            runs = [("sox gain -3", "sox binary", [sox, str(src), str(out), "gain", "-3"])] if sox else []
            for op in args.ops:
                edit = ["edit", str(src), OPS[op], "-o", str(out), "--overwrite"]
                runs.append((op, "streamed", [sys.executable, "-m", "ming_edit", *edit]))
                if minutes <= args.before:
                    runs.append((op, "in memory (before)", [sys.executable, "-c", BEFORE, *edit]))
            for name, path, cmd in runs:
                wall, rss = measure(cmd)
                rows.append((minutes, name, path, wall, rss))
                print(f"| {minutes:g} | {name} | {path} | {wall:.1f} | {minutes * 60 / wall:.0f}x | {rss:.0f} |", flush=True)
            src.unlink()
            out.unlink(missing_ok=True)
    finally:
        for leftover in args.dir.glob("*.wav"):
            leftover.unlink()
    lo, hi = min(args.minutes), max(args.minutes)
    if lo == hi:
        return
    print(f"\n| edit | path | wall {hi:g} / {lo:g} min | peak RSS {hi:g} / {lo:g} min |\n|---|---|---|---|")
    for name, path in dict.fromkeys((r[1], r[2]) for r in rows):
        at = {r[0]: r for r in rows if (r[1], r[2]) == (name, path)}
        if lo in at and hi in at:
            print(f"| {name} | {path} | {at[hi][3] / at[lo][3]:.1f}x | {at[hi][4] / at[lo][4]:.2f}x |")


if __name__ == "__main__":
    main()

"""Speed and memory of the DSP engine on one hour of 16 kHz mono speech.

Each operation runs in a fresh process (so peak RSS is per operation):
    python benchmarks/dsp_speed.py [--minutes 60] [--ops volume,loudness,speed,pitch,denoise]
Reports engine wall time (apply_operation only, no file I/O), x real time, and peak RSS above
the process's RSS with the input loaded, in multiples of the input array size.
The hour is real espeak-ng speech (benchmarks/speech.py corpus, tiled with varying gain).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

CASES = {
    "volume": ("volume", {"factor": 0.5}),
    "loudness": ("loudness", {"lufs": -16.0, "true_peak_db": -1.0}),
    "speed": ("speed", {"factor": 1.25}),
    "speed_slow": ("speed", {"factor": 0.8}),
    "pitch": ("pitch", {"semitones": 3.0}),
    "denoise": ("denoise", {}),
}


def long_speech(minutes: float, sample_rate: int = 16000) -> np.ndarray:
    cache = Path(f"/tmp/ming_dsp_speech_{minutes:g}min_{sample_rate}.npy")
    if cache.exists():
        return np.load(cache)
    from speech import speech_corpus

    clips = [audio for _, audio in speech_corpus(sample_rate)]
    frames = int(minutes * 60 * sample_rate)
    rng = np.random.default_rng(0)
    out = np.empty(frames)
    pos, i = 0, 0
    while pos < frames:
        clip = clips[i % len(clips)] * 10 ** (rng.uniform(-12, 0) / 20)  # quiet recording overall
        n = min(len(clip), frames - pos)
        out[pos : pos + n] = clip[:n] * 0.3
        pos += n + int(rng.uniform(0.1, 0.6) * sample_rate)  # pauses stay silent (zeros)
        i += 1
    out = out[:, None]
    out += 1e-4 * rng.standard_normal(out.shape)  # a faint noise floor, like a real recording
    np.save(cache, out)
    return out


def _child(case: str, minutes: float) -> None:
    from ming_edit.dsp import apply_operation
    from ming_edit.ops.parser import Operation

    audio = long_speech(minutes)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    op, args = CASES[case]
    start = time.perf_counter()
    result = apply_operation(audio, 16000, Operation(op, args))
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "case": case, "wall_s": wall, "audio_s": audio.shape[0] / 16000,
        "extra_rss_copies": (peak - base_rss) / audio.nbytes, "notes": result.notes,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--ops", default="volume,loudness,speed,speed_slow,pitch,denoise")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.minutes)
        return
    long_speech(args.minutes)  # build the cache once
    print(f"{'operation':<12} {'engine s':>9} {'x real time':>12} {'extra RSS (x input)':>20}")
    for case in args.ops.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", case, "--minutes", str(args.minutes)],
            capture_output=True, text=True, check=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{case:<12} {r['wall_s']:>9.2f} {r['audio_s'] / r['wall_s']:>12.0f} "
              f"{r['extra_rss_copies']:>20.2f}   {'; '.join(r['notes'])}")


if __name__ == "__main__":
    main()

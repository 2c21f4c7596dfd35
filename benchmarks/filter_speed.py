"""Hum and rumble filters (ming_edit/dsp/filters.py) on an hour of 48 kHz stereo, beside sox.

Builds an N-minute 48 kHz stereo PCM_16 speech-like episode (benchmarks/episode_memory.py's
generator), then, in this process, streams it in blocks of 2^16 frames through each filter:

* ``filter``: the filter calls alone (their summed time; the blocks are read from the file
  outside the clock), as x real time;
* ``file -> file``: read (soundfile), filter, write PCM_16 (soundfile): the whole streamed job
  without the CLI around it;

and times the sox binary on the same file with its nearest equivalents (``highpass 80`` is sox's
2-pole high-pass; ``highpass 80 highpass 80`` has 4 poles, like ours; ``bandreject 50 4h`` is one
4 Hz-wide notch; the 8-notch chain has one per harmonic, like ours; sox has no hum detection). ``remove hum`` is both passes
of hum removal (HumDetector, then the notches it chose) on the episode with a 50 Hz hum (8
harmonics, -30 dB re the speech) mixed into a second file.

    python benchmarks/filter_speed.py [--minutes 60] [--repeat 2] [--threads N] [--dir /tmp]

``--threads`` sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before numpy loads (default: as the
environment has it). Target (issue 10): every operation at >= 200x real time as a whole process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BLOCK = 1 << 16
RATE = 48000


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs of each")
    parser.add_argument("--threads", type=int, default=0, help="BLAS threads (0: leave the environment alone)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--skip-sox", action="store_true")
    return parser.parse_args()


ARGS = parse() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from episode_memory import make_episode  # noqa: E402

from ming_edit.dsp.filters import HighPass, NotchFilter  # noqa: E402
from ming_edit.dsp.hum import HumDetector, hum_notch  # noqa: E402

HUM_HZ = 50.0
HUM_SHAPE = (1.0, 0.6, 0.5, 0.35, 0.3, 0.2, 0.15, 0.1)


def hum_table(level: float) -> np.ndarray:
    """One second of 50 Hz hum (a whole number of periods, so it tiles), RMS ``level``."""
    t = np.arange(RATE) / RATE
    hum = sum(a * np.sin(2 * np.pi * k * HUM_HZ * t + 0.3 * k) for k, a in enumerate(HUM_SHAPE, 1))
    return hum * (level / np.sqrt(np.mean(hum**2)))


def blocks(path: Path, hum: np.ndarray | None = None):
    """The file's [frames, 2] float64 blocks, with the tiled hum added when given."""
    pos = 0
    for block in sf.blocks(str(path), blocksize=BLOCK, dtype="float64", always_2d=True):
        if hum is not None:
            block = block + hum[(pos + np.arange(len(block))) % RATE][:, None]
        pos += len(block)
        yield block


def time_filter(path: Path, make, hum: np.ndarray | None = None) -> float:
    """Summed seconds of the filter calls over the file (reading not counted)."""
    filt, spent = make(), 0.0
    for block in blocks(path, hum):
        start = time.perf_counter()
        filt.process(block)
        spent += time.perf_counter() - start
    return spent


def time_detector(path: Path) -> tuple[float, object]:
    det, spent = HumDetector(RATE, 2), 0.0
    for block in blocks(path):
        start = time.perf_counter()
        det.feed(block)
        spent += time.perf_counter() - start
    start = time.perf_counter()
    result = det.result()
    return spent + time.perf_counter() - start, result


def file_to_file(src: Path, dst: Path, make) -> float:
    start = time.perf_counter()
    filt = make()
    with sf.SoundFile(str(dst), "w", samplerate=RATE, channels=2, subtype="PCM_16") as out:
        for block in blocks(src):
            out.write(filt.process(block))
    return time.perf_counter() - start


def with_hum(src: Path, dst: Path, hum: np.ndarray) -> None:
    with sf.SoundFile(str(dst), "w", samplerate=RATE, channels=2, subtype="PCM_16") as out:
        for block in blocks(src, hum):
            out.write(block)


def remove_hum_file(src: Path, dst: Path) -> tuple[float, str]:
    """Both passes of hum removal, file to file."""
    start = time.perf_counter()
    det = HumDetector(RATE, 2)
    for block in blocks(src):
        det.feed(block)
    est = det.result()
    notch = hum_notch(est, RATE, 2)
    with sf.SoundFile(str(dst), "w", samplerate=RATE, channels=2, subtype="PCM_16") as out:
        for block in blocks(src):
            out.write(notch.process(block) if notch else block)
    return time.perf_counter() - start, est.describe()


def sox(src: Path, dst: Path, effects: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(["sox", str(src), str(dst), *effects], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"sox {' '.join(effects)} failed: {done.stderr.strip()}")
    return time.perf_counter() - start


FILTERS = (  # (name, factory)
    ("high-pass 80 Hz, 4th order", lambda: HighPass(RATE, 2, 80.0, 4)),
    ("high-pass 120 Hz, 2nd order", lambda: HighPass(RATE, 2, 120.0, 2)),
    ("notch 50 Hz (1, 3 Hz wide)", lambda: NotchFilter(RATE, 2, [50.0], 3.0)),
    ("notches 50 Hz x 1..8 (3 Hz wide)", lambda: NotchFilter(RATE, 2, [50.0 * k for k in range(1, 9)], 3.0)),
)
SOX = (  # (what, effects)
    ("2 poles", ["highpass", "80"]),
    ("4 poles", ["highpass", "80", "highpass", "80"]),
    ("2 poles", ["highpass", "120"]),
    ("1 notch", ["bandreject", "50", "4h"]),
    ("8 notches", [arg for k in range(1, 9) for arg in ("bandreject", str(50 * k), "4h")]),
)


def main() -> None:
    args = ARGS
    seconds = args.minutes * 60
    have_sox = shutil.which("sox") is not None and not args.skip_sox
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src, dst, sox_out = Path(tmp) / "episode.wav", Path(tmp) / "out.wav", Path(tmp) / "sox.wav"
        make_episode(src, args.minutes)
        best = lambda fn: min(fn() for _ in range(args.repeat))
        print(f"{args.minutes:g} min, 48 kHz stereo PCM_16, blocks of {BLOCK} frames, BLAS threads: {threads}")
        print("| ours | filter alone x rt | file -> file s | file -> file x rt |")
        print("|---|---|---|---|")
        for name, make in FILTERS:
            alone = best(lambda: time_filter(src, make))
            whole = best(lambda: file_to_file(src, dst, make))
            print(f"| {name} | {seconds / alone:.0f}x | {whole:.2f} | {seconds / whole:.0f}x |", flush=True)
        speech_rms = float(np.sqrt(np.mean(next(blocks(src)) ** 2)))
        hummed = Path(tmp) / "hum.wav"
        with_hum(src, hummed, hum_table(speech_rms * 10 ** (-30 / 20)))
        detect, est = best(lambda: time_detector(hummed))
        print(f"| hum detection pass ({est.describe()}) | {seconds / detect:.0f}x | - | - |")
        whole, found = min(remove_hum_file(hummed, dst) for _ in range(args.repeat))
        print(f"| remove hum: detection + notches, file -> file | - | {whole:.2f} | {seconds / whole:.0f}x |", flush=True)
        if have_sox:
            print("\n| sox, same file, PCM_16 out | what | s | x rt |")
            print("|---|---|---|---|")
            for what, effects in SOX:
                theirs = best(lambda: sox(src, sox_out, effects))
                label = " ".join(effects) if len(effects) <= 4 else "bandreject 50 4h bandreject 100 4h ... bandreject 400 4h"
                print(f"| `sox in.wav out.wav {label}` | {what} | {theirs:.2f} | {seconds / theirs:.0f}x |", flush=True)


if __name__ == "__main__":
    main()

"""Time edits, dynamics and filters on an hour: whole `ming-edit edit` processes beside sox's own
equivalents.

Builds an N-minute 48 kHz stereo PCM_16 speech-like episode (benchmarks/episode_memory.py's
generator: syllables, phrase pauses, a noise floor), then times each edit as a fresh process and
the sox binary doing the nearest equivalent on the same file, in turn, best of --repeat:

    python benchmarks/time_edits_speed.py [--minutes 60] [--repeat 2] [--dir /tmp]

Target (issue 10): each at >= 200x real time as a whole process.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from episode_memory import make_episode  # noqa: E402

EDITS = (  # (name, instruction, sox effect arguments or None)
    ("cut 1:00-2:00", "cut from 1:00 to 2:00", ["trim", "0", "=60", "=120"]),
    ("keep 1:00-4:00", "keep from 1:00 to 4:00", ["trim", "60", "=240"]),
    ("fade in 2 s, out 3 s", "fade in over 2 seconds and fade out over 3 seconds", ["fade", "h", "2", "-0", "3"]),
    ("pad 2 s at the end", "add 2 seconds of silence at the end", ["pad", "0", "2"]),
    ("trim the silence", "trim the silence at the start and the end", ["silence", "1", "0.1", "1%", "reverse", "silence", "1", "0.1", "1%", "reverse"]),
    ("shorten long pauses", "remove the long pauses", ["silence", "-l", "1", "0.1", "1%", "-1", "1.0", "1%"]),
    ("level the speakers", "level the speakers", ["compand", "0.3,1", "-90,-90,-70,-70,-60,-20,0,0", "-5", "0", "0.2"]),
    ("compress the dynamics", "compress the dynamics", ["compand", "0.01,0.15", "-60,-60,-30,-20,0,-10", "0", "-90", "0.01"]),
    ("remove the rumble", "remove the rumble", ["highpass", "80", "highpass", "80"]),
    ("remove the hum", "remove the hum", ["bandreject", "50", "4h"]),
)


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        src, out, sox_out = Path(tmp) / "episode.wav", Path(tmp) / "out.wav", Path(tmp) / "sox.wav"
        make_episode(src, args.minutes)
        print(f"| edit ({args.minutes:g} min, 48 kHz stereo) | ming-edit s | x real time | sox s | sox x real time | ratio |")
        print("|---|---|---|---|---|---|")
        for name, instruction, sox_args in EDITS:
            ours = min(run([sys.executable, "-m", "ming_edit", "edit", str(src), instruction, "-o", str(out), "--overwrite"])
                       for _ in range(args.repeat))
            theirs = None
            if sox_args and shutil.which("sox"):
                theirs = min(run(["sox", str(src), str(sox_out), *sox_args]) for _ in range(args.repeat))
            sox_cells = f"{theirs:.2f} | {seconds / theirs:.0f}x | {ours / theirs:.2f}" if theirs else "- | - | -"
            print(f"| {name} | {ours:.2f} | {seconds / ours:.0f}x | {sox_cells} |")


if __name__ == "__main__":
    main()

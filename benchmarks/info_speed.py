"""`ming-edit info FILE --json` on an hour of 48 kHz stereo PCM_16: wall time and peak RSS of the
whole process, beside an anchor measured in the same run on the same file: `ffmpeg -af ebur128`
(integrated loudness, LRA, true peak) when ffmpeg is installed, else `sox FILE -n stats` (peaks and
RMS levels, no loudness). The episode is the speech-like synthetic of episode_memory.py (voiced
syllables on a wandering f0, phrase pauses, a noise floor), written block by block.

    python benchmarks/info_speed.py                 # 60 minutes
    python benchmarks/info_speed.py --minutes 10 60 --repeat 2

Target (issue 10): an hour analysed in under 15 s, in constant memory (peak RSS about the same for
10 and 60 minutes). The files (~11.5 MB a minute) are written under --dir and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from episode_memory import REPO, make_episode, measure  # noqa: E402


def anchor() -> tuple[str, list[str]] | None:
    """(name, argv with FILE as a placeholder) of the reference tool present here."""
    if shutil.which("ffmpeg"):
        return "ffmpeg ebur128=peak=true", ["ffmpeg", "-nostats", "-hide_banner", "-i", "FILE",
                                            "-af", "ebur128=peak=true", "-f", "null", "-"]
    if shutil.which("sox"):
        return "sox -n stats", ["sox", "FILE", "-n", "stats"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[60])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command (the best is kept)")
    parser.add_argument("--dir", type=Path, default=REPO / "benchmarks" / "out" / "info")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    ref = anchor()
    print("| minutes | command | wall s | x real time | peak RSS MiB | ratio to anchor |\n|---|---|---|---|---|---|", flush=True)
    try:
        for minutes in args.minutes:
            src = args.dir / f"episode_{minutes:g}min.wav"
            make_episode(src, minutes)
            runs = [("ming-edit info --json", [sys.executable, "-m", "ming_edit", "info", str(src), "--json"])]
            if ref is not None:
                runs.append((ref[0], [str(src) if a == "FILE" else a for a in ref[1]]))
            best: dict[str, tuple[float, float]] = {}
            for name, cmd in runs:
                for _ in range(args.repeat):
                    wall, rss = measure(cmd)
                    if name not in best or wall < best[name][0]:
                        best[name] = (wall, rss)
            anchor_wall = best[ref[0]][0] if ref is not None else None
            for name, (wall, rss) in best.items():
                ratio = f"{wall / anchor_wall:.2f}" if anchor_wall else "-"
                print(f"| {minutes:g} | {name} | {wall:.1f} | {minutes * 60 / wall:.0f}x | {rss:.0f} | {ratio} |", flush=True)
            report = subprocess.run(runs[0][1], capture_output=True, text=True, cwd=REPO, check=True)
            figures = json.loads(report.stdout)
            print("  " + ", ".join(f"{k}={figures[k]}" for k in ("integrated_lufs", "lra_lu", "true_peak_dbtp",
                                                                  "sample_peak_dbfs", "noise_floor_dbfs", "pause_share")))
            src.unlink()
    finally:
        for leftover in args.dir.glob("*.wav"):
            leftover.unlink()


if __name__ == "__main__":
    main()

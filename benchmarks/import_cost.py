"""Start-up cost of the libraries the DSP path could use, against the whole `ming-edit` CLI.

Each figure is the median wall time of `python -c "import X"` minus that of `python -c pass`
over --runs fresh processes, so it is what every shell-loop invocation would pay. It backs the
choice (docs/ARCHITECTURE.md, "Hand-written pieces") to drive sox ourselves and to keep our own
K-weighting instead of importing pysox / pyloudnorm (which brings scipy).

    python benchmarks/import_cost.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

MODULES = ("ming_edit.cli.app", "sox", "pyloudnorm", "scipy.signal", "torch")


def wall(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    base = wall("pass", args.runs)
    print(f"{'module':<20} {'import (s)':>10}")
    for module in MODULES:
        try:
            cost = wall(f"import {module}", args.runs) - base
        except subprocess.CalledProcessError:
            print(f"{module:<20} {'absent':>10}")
            continue
        print(f"{module:<20} {cost:>10.3f}")


if __name__ == "__main__":
    main()

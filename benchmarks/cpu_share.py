"""How busy the rest of the machine was while a benchmark ran (Linux /proc/stat; elsewhere only the load).

On the shared 2-core development machine another process on one core slows a 2-thread torch
matmul 4-6x (the OpenMP team waits for its descheduled thread), and the load average hardly shows
it. ``Window`` compares the machine's busy CPU time with this process's own:

    w = Window()
    ... timed work ...
    print(w.note())   # "load 1.42, others 3 % of 2 CPUs"
"""

from __future__ import annotations

import os
import time


def _busy_ticks() -> int | None:
    """Busy ticks of all CPUs (user + nice + system + irq + softirq + steal), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Window:
    """Starts now; ``others()`` is the share of all CPUs other processes used since then."""

    def __init__(self) -> None:
        self.wall, self.busy, self.own = time.monotonic(), _busy_ticks(), _own_seconds()

    def others(self) -> float | None:
        busy = _busy_ticks()
        if busy is None or self.busy is None:
            return None
        wall = time.monotonic() - self.wall
        hz = os.sysconf("SC_CLK_TCK")
        cpus = os.cpu_count() or 1
        other = (busy - self.busy) / hz - (_own_seconds() - self.own)
        return max(0.0, other / max(wall * cpus, 1e-9))

    def note(self) -> str:
        share = self.others()
        text = f"load {os.getloadavg()[0]:.2f}"
        if share is not None:
            text += f", others {100 * share:.0f} % of {os.cpu_count()} CPUs"
        return text

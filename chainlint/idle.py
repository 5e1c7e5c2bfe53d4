"""What is idle now: how many of this process's CPUs were idle since a mark, from the kernel's
idle time counters. The read split (chainlint.lint.read_files) forks helpers only onto cores
idle now; `chainlint` marks as it starts (chainlint.entry), so the window is the whole run up
to the read, this process busy on one core (one read of /proc/stat, ~0.1 ms)."""

from __future__ import annotations

import os
import time


class IdleMeter:
    """How many of this process's CPUs were idle since a mark, from the kernel's idle time
    counters (`/proc/stat`): what is idle now. The load average (1 minute) still counts work
    that has ended, a previous run of this very command among it."""

    # A mark older than this says little about now; a window shorter than this, too little.
    STALE = 10.0
    SHORTEST = 0.02

    def __init__(self) -> None:
        self._mark: tuple[float, float] | None = None
        self._credit = 0.0
        # What the last decision saw (None before one, or when the counters cannot be read).
        self._last: float | None = None

    def mark(self) -> None:
        self._mark = idle_seconds()
        self._credit = 0.0

    def credit(self, seconds: float) -> None:
        """Count `seconds` of CPU time since the mark as idle: the work of this process's own
        child, done by now (chainlint.lint's cache writer), is not load the next decision
        should stay off a core for."""
        self._credit += seconds

    def marked(self) -> bool:
        return self._mark is not None

    def cores(self) -> float | None:
        """Idle CPUs on average since the mark (a fresh window of SHORTEST seconds without a
        recent one), None where the counters cannot be read."""
        mark, now = self._mark, idle_seconds()
        credit, self._credit = self._credit, 0.0
        if now is None:
            return None
        if mark is None or not 0 < now[0] - mark[0] <= self.STALE:
            mark, credit = now, 0.0
        if now[0] - mark[0] < self.SHORTEST:
            if self._last is not None and mark is self._mark:
                # Marked just now, after this process's own helpers (chainlint.lint marks
                # once they are done): what the decision that started them saw still holds,
                # and the window goes on for the next one (an edited 10k tree: ~16 ms).
                self._credit = credit
                return self._last
            time.sleep(self.SHORTEST - (now[0] - mark[0]))
            now = idle_seconds()
            if now is None:
                return None
        self._mark = now
        self._last = (now[1] - mark[1] + credit) / (now[0] - mark[0])
        return self._last


def idle_seconds() -> tuple[float, float] | None:
    """(now, seconds this process's CPUs have been idle since boot), or None."""
    try:
        with open("/proc/stat", "rb") as handle:
            text = handle.read()
        cpus = os.sched_getaffinity(0)
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError):
        return None
    idle = idle_ticks(text, cpus)
    return (time.monotonic(), idle / ticks) if idle is not None and ticks > 0 else None


def idle_ticks(stat: bytes, cpus: set[int]) -> int | None:
    """The idle and iowait ticks of these CPUs in a /proc/stat text (None when one is absent)."""
    total = 0
    found = 0
    for line in stat.splitlines():
        name, _, rest = line.partition(b" ")
        if not name.startswith(b"cpu") or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        fields = rest.split()
        if len(fields) < 5:
            return None
        total += int(fields[3]) + int(fields[4])
        found += 1
    return total if found == len(cpus) else None


METER = IdleMeter()

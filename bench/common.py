"""Helpers shared by the bench driver and its peers (standard library only: the Quix peer
imports this from its own venv, where logradar is not installed).

Every peer measures the same way: the clock starts when the first batch of records
arrives, and the rate is the records after that batch over the time after it:
``(n - c0) / (t_end - t0)``. That leaves out start-up and group joins, the same for all.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class Meter:
    """Counts records; ``rate`` once ``target`` are in (see the module docstring)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.t0: float | None = None
        self.c0 = 0
        self.t_end: float | None = None

    def add(self, n: int) -> bool:
        """Count ``n`` more records; True the first time the target is reached."""
        if self.t0 is None:
            self.t0 = time.perf_counter()
            self.c0 = n
        self.count += n
        if self.t_end is None and self.count >= self.target:
            self.t_end = time.perf_counter()
            return True
        return False

    @property
    def rate(self) -> float:
        assert self.t0 is not None and self.t_end is not None
        return (self.count - self.c0) / max(self.t_end - self.t0, 1e-9)

    def result(self, **extra: object) -> dict[str, object]:
        assert self.t0 is not None and self.t_end is not None
        return {
            "rate": self.rate,
            "events": self.count,
            "seconds": self.t_end - self.t0,
            "rss_bytes": rss_bytes(),
            **extra,
        }


def write_result(path: str | os.PathLike[str], result: dict[str, object]) -> None:
    """Write a peer's result atomically (the driver polls for the file)."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)


def rss_bytes(pid: int | str = "self", field: str = "VmRSS") -> int:
    """Resident set size (or VmHWM, the peak) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

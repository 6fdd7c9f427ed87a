"""Where the backtest's time goes: one core, keying in-process, default settings and rules.

Writes (once, then reuses) a file of generated lines as ``bench.py`` does (20
services, mixed formats, ``seed=3``), times ``backtest`` over it ``--runs`` times
and prints the best and the median rate, then (``--profile``) runs it once more
under cProfile and prints the functions with the most self time.

    PYTHONPATH=. python bench/engine_profile.py --lines 200000 --runs 3 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import statistics
import sys
import time
from pathlib import Path

from logradar.backtest import BacktestResult, backtest
from logradar.generate import generate
from logradar.rules import default_rules
from logradar.settings import load_settings

SERVICES = 20  # as bench/bench.py


def lines_file(n: int, directory: Path) -> Path:
    """The generated file of ``n`` lines, written on first use (its mtime is the Kafka time)."""
    path = directory / f"engine-{n}.log"
    if not path.exists():
        start_ts = math.floor(time.time() / 60) * 60 - 6 * 3600
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            for rec in generate(start_ts=start_ts, rate=200.0, count=n, services=SERVICES, seed=3):
                f.write(rec.value + b"\n")
        tmp.rename(path)
    return path


def run(path: Path) -> BacktestResult:
    return backtest([path], settings=load_settings(), rules=default_rules(), jobs=0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dir", type=Path, default=Path("/tmp/logradar-engine-bench"))
    p.add_argument("--profile", action="store_true", help="one more run under cProfile")
    p.add_argument("--top", type=int, default=30)
    a = p.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    path = lines_file(a.lines, a.dir)
    rates = []
    for i in range(a.runs):
        res = run(path)
        rates.append(res.events_per_second)
        print(
            f"run {i + 1}: {res.events_per_second:,.0f} events/s ({res.events:,} lines, "
            f"{len(res.alerts)} alerts, {len(res.counts)} counts, dead {res.dead_letters})",
            file=sys.stderr,
        )
    if rates:
        print(f"best {max(rates):,.0f} events/s, median {statistics.median(rates):,.0f}")
    if a.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(path)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(a.top)


if __name__ == "__main__":
    main()

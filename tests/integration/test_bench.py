"""`make bench --quick` runs: a short run of two of its rows produces real numbers.

Speed is measured by `make bench` and recorded in BENCHMARKS.md, never asserted
here; this only keeps the benchmark working.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.integration.harness import REPO

pytestmark = pytest.mark.integration


def test_the_quick_bench_measures_the_ceiling_and_the_worker() -> None:
    proc = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "bench/bench.py",
            "--quick",
            "--events",
            "20000",
            "--only",
            "aiokafka,logradar",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = {
        m.group(1): float(m.group(2).replace(",", ""))
        for m in re.finditer(
            r"^\| \d+ \| (bare aiokafka|logradar worker)[^|]*\| ([\d,]+) ", proc.stdout, re.M
        )
    }
    assert set(rows) == {"bare aiokafka", "logradar worker"}, proc.stdout[-2000:]
    assert all(rate > 0 for rate in rows.values())

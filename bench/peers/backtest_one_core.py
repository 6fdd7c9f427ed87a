"""``logradar.backtest.backtest`` over a file, pinned to one CPU, keying in-process (jobs=0).

Default settings and rules (every detector, templates included), as ``logradar backtest``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import rss_bytes, write_result  # noqa: E402

from logradar.backtest import backtest  # noqa: E402
from logradar.rules import default_rules  # noqa: E402
from logradar.settings import load_settings  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("path")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    res = backtest([a.path], settings=load_settings(), rules=default_rules(), jobs=0)
    write_result(
        a.out,
        {
            "rate": res.events_per_second,
            "events": res.events,
            "seconds": res.seconds,
            "cpu": cpu,
            "alerts": len(res.alerts),
            "rss_bytes": rss_bytes("self", "VmHWM"),
        },
    )


if __name__ == "__main__":
    main()

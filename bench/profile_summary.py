"""Summarise a ``py-spy record --format raw --idle --threads`` file (bench.py --profile).

Prints, for the main thread: the share of samples in each part of the worker (a
sample counts for the first part in ``PARTS`` that any frame of its stack matches,
so a metric update called from the processor counts as metrics) and the functions
with the most self time.

    python bench/profile_summary.py out/worker-single.txt
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

# (label, pattern on "function (file:line)"), in priority order
PARTS: list[tuple[str, str]] = [
    (
        "bench scraping /metrics (4 a second)",
        r"metrics_handler",
    ),
    (
        "changelog restore on first use of a partition (tables/state.py read_changelog, "
        "a blocking confluent-kafka read on the event loop)",
        r"read_changelog \(tables/state\.py",
    ),
    ("idle: event loop waiting (select/epoll)", r"\(selectors\.py|select \("),
    ("protobuf decode (otlp_proto)", r"FromString|ParseFromString|_decode_otlp|_otlp_proto"),
    ("parsing (logradar/parsing)", r"logradar/parsing/"),
    ("detectors (logradar/detectors)", r"logradar/detectors/"),
    ("windows and partition pipeline", r"logradar/(windows|pipeline)\.py"),
    ("correlation", r"logradar/correlation\.py"),
    ("Faust's Prometheus sensor (per message)", r"faust/sensors/prometheus\.py"),
    ("prometheus metrics (logradar's)", r"prometheus_client/|logradar/metrics\.py"),
    ("processor glue (logradar/processor.py)", r"logradar/processor\.py"),
    ("sending outputs (agents/outputs.py, Faust producer)", r"agents/outputs\.py"),
    ("state persistence (tables/)", r"tables/state\.py"),
    ("Faust stream / take_events / conductor", r"faust/(streams|transport/conductor|channels)"),
    ("Faust consumer / aiokafka fetch", r"faust/transport/(consumer|drivers)|aiokafka/"),
    ("Faust other (tables, sensors, web)", r"faust/"),
    ("mode / asyncio scheduling", r"mode/|asyncio/"),
]
FRAME = re.compile(r"^(.*) \((.*)\)$")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("path")
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args()
    parts: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    with open(a.path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if not frames or "MainThread" not in frames[0]:
                continue
            n = int(count)
            total += n
            self_time[frames[-1]] += n
            for label, pattern in PARTS:
                if any(re.search(pattern, fr) for fr in reversed(frames[1:])):
                    parts[label] += n
                    break
            else:
                parts["other"] += n
    print(f"{a.path}: {total} main-thread samples")
    for label, n in parts.most_common():
        print(f"  {n / total:6.1%}  {label}")
    print("  self time:")
    for fr, n in self_time.most_common(a.top):
        m = FRAME.match(fr)
        print(f"  {n / total:6.1%}  {m.group(1) if m else fr}  {m.group(2) if m else ''}")


if __name__ == "__main__":
    main()

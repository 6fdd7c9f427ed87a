"""Throughput benchmark on the embedded broker: `make bench` (or `--quick` for 100,000 events).

Produces N events in mixed formats (JSON, logfmt, bracketed, syslog) to a
4-partition topic, then measures, in the same run:
  * a bare confluent-kafka consumer that only decodes JSON (the ceiling);
  * one logradar worker, from ready to every event counted (its /metrics).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from logradar.broker import free_port, start_broker  # noqa: E402
from logradar.generate import generate  # noqa: E402
from logradar.kafka import ensure_topics, make_consumer, make_producer  # noqa: E402
from tests.integration.harness import metric_value  # noqa: E402


def produce(bootstrap: str, topic: str, n: int) -> float:
    start_ts = math.floor(time.time() / 60) * 60 - 6 * 3600
    producer = make_producer(bootstrap)
    t0 = time.perf_counter()
    for i, rec in enumerate(generate(start_ts=start_ts, rate=200.0, count=n, services=20, seed=3)):
        while True:
            try:
                producer.produce(topic, rec.value, rec.key)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10000 == 0:
            producer.poll(0)
    producer.flush()
    return time.perf_counter() - t0


def bare_consumer(bootstrap: str, topic: str, n: int) -> float:
    consumer = make_consumer(bootstrap, f"bare-{time.monotonic_ns()}")
    consumer.subscribe([topic])
    seen = 0
    loads = orjson.loads
    t0 = None
    while seen < n:
        msgs = consumer.consume(10000, 1.0)
        if msgs and t0 is None:
            t0 = time.perf_counter()
        for m in msgs:
            v = m.value()
            if v and v[:1] == b"{":
                try:
                    loads(v)
                except orjson.JSONDecodeError:
                    pass
        seen += len(msgs)
    consumer.close()
    assert t0 is not None
    return n / (time.perf_counter() - t0)


def worker_rate(bootstrap: str, topic: str, n: int, workdir: Path) -> tuple[float, str]:
    port = free_port()
    env = {
        **os.environ,
        "LOGRADAR_BROKER": f"kafka://{bootstrap}",
        "LOGRADAR_APP_ID": f"bench-{time.monotonic_ns()}",
        "LOGRADAR_INPUT_TOPICS": topic,
        "LOGRADAR_WEB_PORT": str(port),
        "LOGRADAR_DATA_DIR": str(workdir),
        "LOGRADAR_COUNTS_TOPIC": f"{topic}-counts",
        "LOGRADAR_ALERTS_TOPIC": f"{topic}-alerts",
        "LOGRADAR_DEAD_LETTER_TOPIC": f"{topic}-dlq",
    }
    log = workdir / "worker.log"
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "logradar", "worker", "--loglevel", "warn"],
        cwd=REPO,
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    names = ("logradar_events_total", "logradar_dead_letters_total", "logradar_late_events_total")
    t0 = None
    done = 0.0
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                time.sleep(0.2)
                continue
            done = sum(metric_value(text, name) for name in names)
            if done > 0 and t0 is None:
                t0 = time.perf_counter()
            if done >= n:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - (t0 or time.perf_counter())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    if done < n:
        raise SystemExit(f"worker counted {done} of {n}; see {log}")
    return n / elapsed, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 events instead of 1,000,000")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 1_000_000)
    broker = start_broker()
    try:
        topic = "bench.raw"
        ensure_topics(broker.bootstrap, [topic], 4)
        produce_s = produce(broker.bootstrap, topic, n)
        ceiling = bare_consumer(broker.bootstrap, topic, n)
        with tempfile.TemporaryDirectory() as tmp:
            rate, _ = worker_rate(broker.bootstrap, topic, n, Path(tmp))
    finally:
        broker.stop()
    print(
        f"# logradar bench, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(
        f"events: {n:,} in mixed formats, 4 partitions, embedded broker "
        f"(produced in {produce_s:.1f} s)"
    )
    print("| what | events/s |")
    print("|---|---|")
    print(f"| bare confluent-kafka consume(10000) + orjson.loads (ceiling) | {ceiling:,.0f} |")
    what = "logradar worker (parse, tumbling + hopping, default detectors, outputs)"
    print(f"| {what} | {rate:,.0f} |")
    print(f"| logradar / ceiling | {rate / ceiling:.1%} |")


if __name__ == "__main__":
    main()

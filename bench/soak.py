"""Memory soak: `make soak` (20 minutes by default; `--minutes`, `--rate`, `--keys`).

Starts the embedded broker and one worker with the default detectors, then
produces live JSON logs at a steady rate over ``--keys`` distinct (service,
level) keys for ``--minutes``, sampling the worker's resident memory every
``--every`` seconds. Prints the RSS series and judges it: after the warm-up,
resident memory must not grow by more than 10 %, because expired windows,
detector state, sessions and pattern matches are freed.

The warm-up (``--warmup``, 420 s) is how long the state takes to fill, not a
guess: a key's hopping windows (300 s) hold a step bucket per minute until
the first of them closes, the live page's rate history spans 300 s, and the
template memos fill over the first minutes. Until then memory grows with the
state, leak or not; judged from the first third of a 10-minute run, that
filling alone read as +12 %.
"""

from __future__ import annotations

import argparse
import os
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
from logradar.kafka import ensure_topics, make_producer  # noqa: E402
from tests.integration.harness import metric_value  # noqa: E402

LEVELS = ("TRACE", "DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument(
        "--warmup", type=float, default=420.0, help="seconds before RSS is judged (see above)"
    )
    ap.add_argument("--rate", type=float, default=2000.0, help="events per second")
    ap.add_argument("--keys", type=int, default=10_000, help="distinct (service, level) keys")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    args = ap.parse_args()
    services = max(1, args.keys // len(set(LEVELS)))
    tmp = Path(tempfile.mkdtemp(prefix="logradar-soak-"))
    broker = start_broker(log_path=tmp / "broker.log")
    port = free_port()
    topic = "soak.raw"
    ensure_topics(broker.bootstrap, [topic], 4)
    env = {
        **os.environ,
        "LOGRADAR_BROKER": broker.url,
        "LOGRADAR_APP_ID": "soak",
        "LOGRADAR_INPUT_TOPICS": topic,
        "LOGRADAR_DATA_DIR": str(tmp / "data"),
        "LOGRADAR_WEB_PORT": str(port),
        "LOGRADAR_MAX_SERVICE_LABELS": "500",
    }
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "logradar", "worker", "--loglevel", "warn"],
        cwd=REPO,
        env=env,
        stdout=open(tmp / "worker.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    producer = make_producer(broker.bootstrap)
    series: list[tuple[float, float, float]] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                metrics(port)
                break
            except OSError:
                if time.monotonic() > deadline or worker.poll() is not None:
                    print("worker did not start; see", tmp / "worker.log")
                    return 2
                time.sleep(0.5)
        started = time.monotonic()
        end = started + args.minutes * 60
        next_sample = started
        sent = 0
        keys = services * len(set(LEVELS))
        print(f"soak: {args.rate:.0f} events/s over {keys:,} (service, level) keys")
        print(f"{'t (s)':>7} {'RSS (MB)':>9} {'events counted':>15}")
        while time.monotonic() < end:
            now = time.monotonic()
            due = int((now - started) * args.rate)
            while sent < due:
                i = sent
                service = f"svc-{(i * 7919) % services}"
                level = LEVELS[i % len(LEVELS)]
                value = orjson.dumps(
                    {"ts": time.time(), "service": service, "level": level, "msg": f"m {i % 97}"}
                )
                try:
                    producer.produce(topic, value, key=service.encode())
                except BufferError:
                    producer.poll(0.05)
                    continue
                sent += 1
            producer.poll(0)
            if now >= next_sample:
                counted = metric_value(metrics(port), "logradar_events_total")
                series.append((now - started, rss_mb(worker.pid), counted))
                print(
                    f"{series[-1][0]:7.0f} {series[-1][1]:9.1f} {series[-1][2]:15,.0f}", flush=True
                )
                next_sample += args.every
            time.sleep(0.01)
        producer.flush(30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        broker.stop()
    warm = [rss for t, rss, _ in series if t >= args.warmup]
    if len(warm) < 2:
        print("too few samples after warm-up to judge")
        return 2
    growth = (max(warm) - warm[0]) / warm[0]
    verdict = "FLAT" if growth <= 0.10 else "GROWING"
    print(f"after warm-up: {warm[0]:.1f} MB -> max {max(warm):.1f} MB ({growth:+.1%}): {verdict}")
    return 0 if verdict == "FLAT" else 1


if __name__ == "__main__":
    sys.exit(main())

"""``logradar demo``: the embedded broker, a worker, a scenario replay and a live terminal view.

The demo generates the ``all`` scenario (one incident per detector, 30 minutes
of event time apart, in calm traffic) and replays it at ``speed`` times real
time, paced by event time, so a newcomer sees windows close and every alert
type fire, one about every ``1800 / speed`` seconds (30 s at the default 60x):
error burst, anomaly, traffic drop, silence, brute force, an order without
payment, a new log template and a long session. Every child runs in its own
process group and is stopped on exit (Ctrl-C included), so nothing is left
behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from logradar.broker import EmbeddedBroker, free_port, start_broker, wait_for_port
from logradar.kafka import ensure_topics, make_consumer

DEMO_ENV = {
    "LOGRADAR_IDLE_FLUSH_S": "5",  # a silent partition idles within 5 min of event time
    "LOGRADAR_SESSION_TIMEOUT_S": "10",
}
TOPICS = ("logs.raw", "alerts", "logs.window-counts", "logs.dead-letter", "logs.sessions")
RATE = 10.0  # events/s of event time in the generated scenario
# The example rules, with a template warm-up that fits RATE.
DEMO_RULES_EXTRA = "\ntemplates: {warmup: 200}\n"


def _scenario(directory: Path) -> tuple[Path, Path]:
    """Write the all-incidents scenario and the demo rules; return their paths."""
    from logradar.generate import generate, scenario_defaults, write_lines

    d = scenario_defaults("all")
    # On a minute boundary: the scenario is then the same, relative to its start, on every
    # run (an unaligned start shifts the incidents against the background traffic, and a
    # few starts leave one too sparse to place).
    start = math.floor((time.time() - 86400) / 60) * 60
    records = generate(
        start_ts=start,
        rate=RATE,
        count=round(d["count"] / d["rate"] * RATE),
        scenario="all",
        burst_at_s=d["burst_at_s"],
    )
    logs = directory / "all-incidents.log"
    write_lines(logs, records)
    rules = directory / "rules.yaml"
    example = Path(__file__).resolve().parent.parent / "ops" / "rules.example.yaml"
    rules.write_text(example.read_text() + DEMO_RULES_EXTRA)
    return logs, rules


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "logradar", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def _children() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _hhmmss(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


class View:
    """The latest closed tumbling window per (service, level) and the recent alerts."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=12)
        self.windows = 0
        self.fired = 0

    def add(self, topic: str, doc: dict[str, Any]) -> None:
        if topic == "alerts":
            self.alerts.appendleft(doc)
            self.fired += doc.get("state") == "firing"
        elif doc.get("kind") == "tumbling":
            self.windows += 1
            key = (doc["service"], doc["level"])
            if doc["start"] >= self.latest.get(key, {}).get("start", -1):
                self.latest[key] = doc

    def render(self, metrics_url: str, started: float) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table

        counts = Table(title="last closed 1 min window per service and level", expand=True)
        for col in ("service", "window (UTC)", "level", "count"):
            counts.add_column(col, justify="right" if col == "count" else "left")
        for (service, level), doc in sorted(self.latest.items()):
            style = "bold red" if level in ("ERROR", "FATAL") else ""
            counts.add_row(service, _hhmmss(doc["start"]), level, str(doc["count"]), style=style)
        alerts = Table(title="alerts (newest first)", expand=True)
        for col in ("state", "rule", "service", "summary"):
            alerts.add_column(col)
        for a in self.alerts:
            colour = "red" if a.get("state") == "firing" else "green"
            alerts.add_row(
                f"[{colour}]{a.get('state')}[/]", a.get("rule"), a.get("service"), a.get("summary")
            )
        head = (
            f"logradar demo, {time.monotonic() - started:,.0f} s  |  windows closed: {self.windows}"
            f"  |  alerts: {self.fired}"
            f"  |  metrics: {metrics_url}  |  Ctrl-C stops everything"
        )
        return Group(Panel(head), counts, alerts)


def _start_broker(port: int) -> EmbeddedBroker:
    if wait_for_port("127.0.0.1", port, 0.2):
        port = free_port()
    return start_broker(port)


def run_demo(*, duration: float | None, port: int, speed: float) -> int:
    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=True)
    logs = Path(tempfile.mkdtemp(prefix="logradar-demo-"))
    broker = _start_broker(port)
    web_port = free_port()
    env = {
        **os.environ,
        **DEMO_ENV,
        "LOGRADAR_BROKER": broker.url,
        "LOGRADAR_WEB_PORT": str(web_port),
        "LOGRADAR_DATA_DIR": str(logs / "data"),
    }
    metrics_url = f"http://127.0.0.1:{web_port}/metrics"
    console.print(f"embedded broker on {broker.url}; logs in {logs}")
    scenario, rules = _scenario(logs)
    env["LOGRADAR_RULES"] = str(rules)
    started = time.monotonic()
    consumer = None
    try:
        ensure_topics(broker.bootstrap, TOPICS, 4)
        with _children() as procs:
            procs.append(_spawn(["worker", "--loglevel", "warn"], env, logs / "worker.log"))
            feed = ["replay", str(scenario), "--speed", str(speed), "--no-progress"]
            procs.append(_spawn(feed, env, logs / "replay.log"))
            consumer = make_consumer(broker.bootstrap, f"demo-view-{os.getpid()}")
            consumer.subscribe(["alerts", "logs.window-counts"])
            view = View()
            with Live(
                view.render(metrics_url, started), console=console, refresh_per_second=2
            ) as live:
                while duration is None or time.monotonic() - started < duration:
                    for msg in consumer.consume(500, 0.5):
                        value, topic = msg.value(), msg.topic()
                        if msg.error() is None and value and topic:
                            view.add(topic, orjson.loads(value))
                    live.update(view.render(metrics_url, started))
                    dead = [p for p in procs if p.poll() not in (None, 0)]
                    if dead:
                        console.print(f"a child exited ({dead[0].args!r}); see the logs in {logs}")
                        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if consumer is not None:
            consumer.close()
        broker.stop()
    console.print("demo stopped; broker, worker and generator are gone")
    return 0

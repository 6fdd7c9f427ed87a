"""Throughput benchmark on the embedded broker: `make bench` (`--quick`: 100,000 events).

One broker, one run, one table: logradar against the bare Python clients (the ceiling),
Quix Streams and Faust, in events per second, and the issue-5 targets as ratios.

Loads (produced first, read by every row that uses them):
  * bench.raw: N single-record events in mixed formats (JSON, logfmt, bracketed, syslog;
    ``logradar.generate``, 20 services; a quarter are JSON), 4 partitions;
  * bench.otlp: the same generator's events (N, at least 500,000) as OTLP
    ``ExportLogsServiceRequest`` values of 100 log records each (bench/otlp.py).

Every consumer, peers and logradar workers alike, is timed from its first batch to its
N-th record, and the records of that first batch are left out (bench/common.py,
``worker_rate``), so start-up, group joins and the first fetch never count. Each peer
runs as its own process (bench/peers/); Quix needs bench/.venv-quix (`make bench` builds
it), and its row is skipped with a reason when it is missing. The straightforward Faust
peer does ~1,000 events/s, so it is timed over the first 100,000 events (30,000 in
--quick). The optional measures (scale-out, latency, recovery, memory over many keys)
say how they were taken in their rows; --quick skips the long ones and says so.
`--profile DIR` records the worker with py-spy (bench/profile_summary.py reads it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / "peers"
QUIX_PYTHON = BENCH / ".venv-quix" / "bin" / "python"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from common import rss_bytes  # noqa: E402
from otlp import otlp_values  # noqa: E402

from logradar.broker import EmbeddedBroker, free_port, start_broker  # noqa: E402
from logradar.eventloop import resolve  # noqa: E402
from logradar.generate import generate  # noqa: E402
from logradar.kafka import ensure_topics, make_consumer, make_producer  # noqa: E402

PARTITIONS = 4
SERVICES = 20
PER_MESSAGE = 100  # OTLP log records per Kafka message
# Quix derives its changelog topics' retention from the source topic and reads it from
# the broker; Tansu returns only configs set explicitly, so the source topics set it.
TOPIC_CONFIG = {"retention.ms": str(7 * 24 * 3600 * 1000), "retention.bytes": "-1"}
COUNTED = ("logradar_events_total", "logradar_dead_letters_total", "logradar_late_events_total")


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    key: str
    what: str
    rate: float | None = None  # per second
    unit: str = "events/s"
    note: str = ""

    def cell(self) -> str:
        return f"{self.rate:,.0f}" if self.rate is not None else "skipped"


@dataclass
class Extra:
    """An optional measure that is not a rate (latency, memory, recovery, scale-out)."""

    key: str
    what: str
    value: str
    note: str = ""
    number: float | None = None


@dataclass
class Report:
    rows: dict[str, Row] = field(default_factory=dict)
    extras: dict[str, Extra] = field(default_factory=dict)

    def row(self, key: str, what: str, unit: str = "events/s") -> Row:
        self.rows[key] = Row(key, what, unit=unit)
        return self.rows[key]

    def rate(self, key: str) -> float | None:
        row = self.rows.get(key)
        return None if row is None else row.rate


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def measured(row: Row, fn: Callable[[], tuple[float, str]]) -> None:
    """Run one measurement into ``row``; a failure skips the row with its reason."""
    say(f"{row.key}: {row.what}")
    try:
        row.rate, row.note = fn()
        say(f"{row.key}: {row.rate:,.0f} {row.unit} {row.note}")
    except Exception as exc:  # a failed peer is a skipped row, never a made-up number
        row.rate, row.note = None, f"skipped: {type(exc).__name__}: {exc}"
        say(f"{row.key}: {row.note}")


# --------------------------------------------------------------------------- loads


def events(n: int, start_ts: float, services: int = SERVICES) -> Iterator[Any]:
    return generate(start_ts=start_ts, rate=200.0, count=n, services=services, seed=3)


def produce(bootstrap: str, topic: str, records: Iterator[tuple[bytes | None, bytes]]) -> int:
    producer = make_producer(bootstrap)
    n = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 10000 == 0:
            producer.poll(0)
    producer.flush()
    return n


def write_lines(path: Path, n: int, start_ts: float) -> None:
    with path.open("wb") as f:
        for rec in events(n, start_ts):
            f.write(rec.value + b"\n")


# --------------------------------------------------------------------------- processes


def run_peer(
    cmd: list[str],
    out: Path,
    log: Path,
    timeout: float,
    env: dict[str, str],
    profile: Path | None = None,
) -> dict:
    """Start a peer, wait for its result file, stop it; its log tail on failure.

    With ``profile``, py-spy records the peer from its start (start-up included, so
    compare its categories, not its sample count, with a worker's).
    """
    out.unlink(missing_ok=True)  # a --workdir kept from an earlier run holds its result
    proc = subprocess.Popen(  # noqa: S603
        cmd,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    spy = None
    deadline = time.monotonic() + timeout
    try:
        spy = Profiler(proc.pid, profile)  # in the try: a missing py-spy must not leak the peer
        while not out.exists():
            if proc.poll() is not None and not out.exists():
                raise RuntimeError(f"exited with {proc.returncode}: {tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no result in {timeout:.0f}s: {tail(log)}")
            time.sleep(0.1)
        return json.loads(out.read_text())
    finally:
        if spy is not None:
            spy.stop()
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tail(log: Path, lines: int = 6) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def metric_value(text: str, name: str) -> float:
    """Sum of every sample of ``name`` in Prometheus text (all label sets)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


class Worker:
    """One ``logradar worker`` process and its /metrics."""

    def __init__(self, bootstrap: str, topic: str, app_id: str, workdir: Path, **env: str):
        self.port = free_port()
        self.log = workdir / f"{app_id}-{self.port}.log"
        data = workdir / app_id
        self.env = {
            "LOGRADAR_BROKER": f"kafka://{bootstrap}",
            "LOGRADAR_APP_ID": app_id,
            "LOGRADAR_INPUT_TOPICS": topic,
            "LOGRADAR_WEB_PORT": str(self.port),
            "LOGRADAR_DATA_DIR": str(data),
            "LOGRADAR_COUNTS_TOPIC": f"{app_id}-counts",
            "LOGRADAR_ALERTS_TOPIC": f"{app_id}-alerts",
            "LOGRADAR_DEAD_LETTER_TOPIC": f"{app_id}-dlq",
            "LOGRADAR_SESSIONS_TOPIC": f"{app_id}-sessions",
            "LOGRADAR_TOPIC_PARTITIONS": str(PARTITIONS),
            **env,
        }
        self.started = time.perf_counter()
        self.ready_s: float | None = None  # spawn to /readyz, seconds
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "logradar", "worker", "--loglevel", "warn"],
            cwd=REPO,
            env={**os.environ, **self.env},
            stdout=open(self.log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def metrics(self) -> str | None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {self.proc.returncode}: {tail(self.log)}")
        try:
            return http_get(f"http://127.0.0.1:{self.port}/metrics")[1]
        except OSError:
            return None

    def counted(self) -> float | None:
        text = self.metrics()
        return None if text is None else sum(metric_value(text, n) for n in COUNTED)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited with {self.proc.returncode}: {tail(self.log)}")
        try:
            return http_get(f"http://127.0.0.1:{self.port}/readyz")[0] == 200
        except OSError:
            return False

    def rss(self) -> tuple[int, int]:
        return rss_bytes(self.proc.pid), rss_bytes(self.proc.pid, "VmHWM")

    def stop(self) -> None:
        stop(self.proc, 60)


class Profiler:
    """``py-spy record`` on a process, collapsed stacks, until stopped (no-op without a path)."""

    def __init__(self, pid: int, path: Path | None):
        self.proc = None
        if path is not None:
            spy = Path(sys.executable).with_name("py-spy")
            self.proc = subprocess.Popen(  # noqa: S603
                [str(spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "50"]
                + ["--nonblocking", "--idle", "--threads", "-o", str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def worker_rate(
    workers: list[Worker], n: int, timeout: float, *, profile: Path | None = None
) -> float:
    """Records/s of ``workers`` together, timed like the peers: from the moment every one
    of them has counted its first batch to the moment their counters reach ``n``, and
    the records counted by then left out. (From /readyz would add ~4 s of start-up
    before the first batch; the spawn-to-ready time is kept in ``Worker.ready_s``.)"""
    deadline = time.monotonic() + timeout
    t0 = c0 = None
    spy: Profiler | None = None
    done = 0.0
    try:
        while time.monotonic() < deadline:
            now = time.perf_counter()
            for w in workers:
                if w.ready_s is None and w.ready():
                    w.ready_s = now - w.started
            counts = [w.counted() for w in workers]
            if any(c is None for c in counts):
                time.sleep(0.05)
                continue
            done = sum(c or 0.0 for c in counts)
            now = time.perf_counter()
            if t0 is None and all(c for c in counts):
                t0, c0 = now, done
                spy = Profiler(workers[0].proc.pid, profile)
            if done >= n:
                if t0 is None or c0 is None or done - c0 < n / 3:
                    raise RuntimeError(f"{done - (c0 or done):.0f} of {n} after the first batch")
                return (done - c0) / (now - t0)
            # each scrape costs the worker a few ms of its one core: 4 a second, not 20
            time.sleep(0.25)
    finally:
        if spy is not None:
            spy.stop()
    raise RuntimeError(f"counted {done:.0f} of {n} in {timeout:.0f}s: {tail(workers[0].log)}")


# --------------------------------------------------------------------------- the rows


@dataclass
class Ctx:
    broker: EmbeddedBroker
    work: Path
    n: int
    otlp_records: int
    quick: bool
    profile_dir: Path | None
    report: Report
    start_ts: float = 0.0

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def app_id(self, name: str) -> str:
        return f"bench-{name}-{time.monotonic_ns() % 10**9}"

    def peer(self, name: str, cmd: list[str], timeout: float, **env: str) -> dict:
        out = self.work / f"{name}.json"
        profile = self.profile_dir / f"peer-{name}.txt" if self.profile_dir else None
        return run_peer(cmd, out, self.work / f"{name}.log", timeout, env, profile)

    def budget(self, rate_guess: float) -> float:
        """A generous time limit for reading ``n`` records at about ``rate_guess``/s."""
        return 180 + 4 * self.n / rate_guess


def bare(ctx: Ctx, decode: str, topic: str, n: int) -> tuple[float, str]:
    cmd = [sys.executable, str(PEERS / "bare_aiokafka.py"), "--bootstrap", ctx.bootstrap]
    cmd += ["--topic", topic, "--events", str(n), "--decode", decode]
    cmd += ["--out", str(ctx.work / f"aiokafka-{decode}.json")]
    res = ctx.peer(f"aiokafka-{decode}", cmd, ctx.budget(20_000))
    return res["rate"], ""


def confluent(ctx: Ctx) -> tuple[float, str]:
    cmd = [sys.executable, str(PEERS / "bare_confluent.py"), "--bootstrap", ctx.bootstrap]
    cmd += ["--topic", "bench.raw", "--events", str(ctx.n)]
    cmd += ["--out", str(ctx.work / "confluent.json")]
    return ctx.peer("confluent", cmd, ctx.budget(20_000))["rate"], ""


def quix(ctx: Ctx) -> tuple[float, str]:
    if not QUIX_PYTHON.exists():
        raise RuntimeError(f"{QUIX_PYTHON} missing: `make bench` builds it (quixstreams 3.28)")
    version = subprocess.run(  # noqa: S603
        [str(QUIX_PYTHON), "-c", "import quixstreams; print(quixstreams.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not version:
        raise RuntimeError(f"quixstreams is not importable in {QUIX_PYTHON.parent.parent}")
    cmd = [str(QUIX_PYTHON), str(PEERS / "quix_count.py"), "--bootstrap", ctx.bootstrap]
    cmd += ["--topic", "bench.raw", "--events", str(ctx.n)]
    cmd += ["--out", str(ctx.work / "quix.json")]
    return ctx.peer("quix", cmd, ctx.budget(5_000))["rate"], f"quixstreams {version}"


def event_loop() -> str:
    """The event loop a logradar worker runs here: LOGRADAR_EVENT_LOOP, ``auto`` resolved."""
    return resolve(os.environ.get("LOGRADAR_EVENT_LOOP", "auto"))  # type: ignore[arg-type]


def faust_peer(ctx: Ctx, name: str, n: int, rate_guess: float) -> tuple[float, str]:
    # Faust binds its web port (6066 by default) even with web_enabled=False: a free one,
    # so that another Faust app on this machine cannot fail the row
    cmd = [sys.executable, str(PEERS / f"{name}.py"), "worker", "-l", "warn"]
    cmd += ["--web-port", str(free_port())]
    out = ctx.work / f"{name}.json"
    env = {
        "BENCH_BOOTSTRAP": ctx.bootstrap,
        "BENCH_TOPIC": "bench.raw",
        "BENCH_EVENTS": str(n),
        "BENCH_OUT": str(out),
        "BENCH_LOOP": "uvloop" if event_loop() == "uvloop" else "aio",
    }
    res = ctx.peer(name, cmd, 180 + 4 * n / rate_guess, **env)
    note = "" if n == ctx.n else f"over the first {n:,} events"
    return res["rate"], note


def logradar_single(ctx: Ctx) -> tuple[float, str]:
    app_id = ctx.app_id("single")
    w = Worker(ctx.bootstrap, "bench.raw", app_id, ctx.work)
    profile = ctx.profile_dir / "worker-single.txt" if ctx.profile_dir else None
    try:
        rate = worker_rate([w], ctx.n, ctx.budget(2_000), profile=profile)
        rss, peak = w.rss()
        note = batch_note(w)
    finally:
        w.stop()
    mb = 1 << 20
    ctx.report.extras["memory"] = Extra(
        "memory",
        f"worker RSS after {ctx.n:,} single-record events ({SERVICES} services, ~5,000 users)",
        f"{rss / mb:,.0f} MB (peak {peak / mb:,.0f} MB)",
        number=rss / mb,
    )
    recovery(ctx, app_id, w.ready_s)
    return rate, note


def batch_note(w: Worker) -> str:
    """How many Kafka records the worker's batches held on average (its own metrics)."""
    text = w.metrics() or ""
    batches = metric_value(text, "logradar_batch_seconds_count")
    records = sum(metric_value(text, n) for n in COUNTED)
    return f"{records / batches:,.0f} records a batch" if batches else ""


def recovery(ctx: Ctx, app_id: str, fresh: float | None) -> None:
    """A new worker of the same app id after the single-record run: spawn to /readyz."""
    what = f"recovery: restart after {ctx.n:,} events, spawn to /readyz (changelog restore)"
    say(what)
    w = Worker(ctx.bootstrap, "bench.raw", app_id, ctx.work)
    try:
        deadline = time.monotonic() + 300
        while not w.ready():
            if time.monotonic() > deadline:
                raise RuntimeError("not ready in 300 s")
            time.sleep(0.05)
        took = time.perf_counter() - w.started
        note = "" if fresh is None else f"the same worker's first start, no state: {fresh:.1f} s"
        ctx.report.extras["recovery"] = Extra("recovery", what, f"{took:.1f} s", note, number=took)
    except Exception as exc:
        ctx.report.extras["recovery"] = Extra("recovery", what, f"skipped: {exc}")
    finally:
        w.stop()
    say(f"recovery: {ctx.report.extras['recovery'].value}")


def logradar_otlp(ctx: Ctx) -> tuple[float, str]:
    w = Worker(
        ctx.bootstrap,
        "bench.otlp",
        ctx.app_id("otlp"),
        ctx.work,
        LOGRADAR_INPUT_ENCODING="otlp_proto",
    )
    profile = ctx.profile_dir / "worker-otlp.txt" if ctx.profile_dir else None
    try:
        rate = worker_rate([w], ctx.otlp_records, ctx.budget(5_000), profile=profile)
        note = batch_note(w)
    finally:
        w.stop()
    return rate, note


def backtest_rate(ctx: Ctx) -> tuple[float, str]:
    path = ctx.work / "bench.log"
    write_lines(path, ctx.n, ctx.start_ts)
    cmd = [sys.executable, str(PEERS / "backtest_one_core.py"), str(path)]
    cmd += ["--out", str(ctx.work / "backtest.json")]
    res = ctx.peer("backtest", cmd, ctx.budget(5_000))
    return res["rate"], f"{res['events']:,} lines, pinned to CPU {res['cpu']}, keying in-process"


def memory_many_keys(ctx: Ctx, n: int = 200_000, services: int = 5_000) -> None:
    """Worker RSS after ``n`` single-record events over ``services`` distinct services."""
    what = f"worker RSS after {n:,} events over {services:,} distinct services"
    if ctx.quick:
        ctx.report.extras["memory_keys"] = Extra("memory_keys", what, "skipped in --quick")
        return
    say(what)
    topic = "bench.keys"
    try:
        ensure_topics(ctx.bootstrap, [topic], PARTITIONS, config=TOPIC_CONFIG)
        produce(
            ctx.bootstrap,
            topic,
            ((r.key, r.value) for r in events(n, ctx.start_ts, services=services)),
        )
        w = Worker(ctx.bootstrap, topic, ctx.app_id("keys"), ctx.work)
        try:
            worker_rate([w], n, 180 + 4 * n / 2_000)
            time.sleep(2)
            rss, peak = w.rss()
        finally:
            w.stop()
    except Exception as exc:
        ctx.report.extras["memory_keys"] = Extra("memory_keys", what, f"skipped: {exc}")
        return
    mb = 1 << 20
    value = f"{rss / mb:,.0f} MB (peak {peak / mb:,.0f} MB)"
    ctx.report.extras["memory_keys"] = Extra("memory_keys", what, value, number=rss / mb)
    say(f"memory: {value}")


def scale_out(ctx: Ctx) -> None:
    row = ctx.report.row("scale2", "2 logradar workers, one record per message (sum)")
    if ctx.quick:
        row.note = "skipped in --quick (needs a second full worker run)"
        return

    def two() -> tuple[float, str]:
        app_id = ctx.app_id("scale")
        ws = [Worker(ctx.bootstrap, "bench.raw", app_id, ctx.work) for _ in range(2)]
        try:
            rate = worker_rate(ws, ctx.n, ctx.budget(2_000))
        finally:
            for w in ws:
                w.stop()
        return rate, "timed from both workers' first batch"

    measured(row, two)


# --------------------------------------------------------------------------- latency


def broker_floor(bootstrap: str, rounds: int = 20) -> float:
    """Median produce -> consume time of one message through the broker, with the latency
    run's client settings (linger 5 ms; fetch wait 10 ms): the floor under any alert."""
    topic = "bench.floor"
    ensure_topics(bootstrap, [topic], 1)
    consumer = make_consumer(
        bootstrap, f"bench-floor-{time.monotonic_ns()}", **{"fetch.wait.max.ms": 10}
    )
    consumer.subscribe([topic])
    producer = make_producer(bootstrap, **{"linger.ms": 5})
    took: list[float] = []
    try:
        for _ in range(40):  # until assigned
            if consumer.assignment():
                break
            consumer.poll(0.25)
        for i in range(rounds):
            t = time.perf_counter()
            producer.produce(topic, b"x%d" % i)
            producer.poll(0)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                m = consumer.poll(0.01)
                if m is not None and not m.error() and m.value() == b"x%d" % i:
                    took.append(time.perf_counter() - t)
                    break
    finally:
        producer.flush()
        consumer.close()
    return statistics.median(took) if took else float("nan")


def latency(
    ctx: Ctx, bursts: int = 30, rate: float = 5000.0, every: float = 2.0, warmup: float = 30.0
) -> None:
    """Steady ``rate``/s live traffic; after ``warmup`` s (a fresh worker restores and adopts
    its partitions, blocking its loop for seconds: not the steady state), every ``every`` s
    a burst of 10 ERRORs of a new service.

    Latency = the alert for that service arriving on the alerts topic minus the moment
    the burst's 10th ERROR (the one that reaches the error_burst threshold) was produced.
    """
    what = (
        f"alert latency at {rate:,.0f} events/s steady input, {bursts} bursts after "
        f"{warmup:.0f} s warm-up: threshold-crossing event produced -> alert read"
    )
    if ctx.quick:
        ctx.report.extras["latency"] = Extra("latency", what, "skipped in --quick (~2 min)")
        return
    say(what)
    topic = "bench.live"
    ensure_topics(ctx.bootstrap, [topic], PARTITIONS, config=TOPIC_CONFIG)
    app_id = ctx.app_id("live")
    w = Worker(ctx.bootstrap, topic, app_id, ctx.work)
    alerts_topic = f"{app_id}-alerts"
    ensure_topics(ctx.bootstrap, [alerts_topic], PARTITIONS)
    received: dict[str, float] = {}
    sent: dict[str, float] = {}
    stop_reading = threading.Event()

    def read_alerts() -> None:
        consumer = make_consumer(
            ctx.bootstrap, f"bench-alerts-{time.monotonic_ns()}", **{"fetch.wait.max.ms": 10}
        )
        consumer.subscribe([alerts_topic])
        while not stop_reading.is_set():
            for m in consumer.consume(100, 0.05):
                if m.error() or not m.value():
                    continue
                doc = orjson.loads(m.value())
                if doc.get("rule") == "error_burst" and doc.get("state") == "firing":
                    received.setdefault(doc["service"], time.perf_counter())
        consumer.close()

    reader = threading.Thread(target=read_alerts, daemon=True)
    producer = make_producer(ctx.bootstrap, **{"linger.ms": 5})
    lat: list[float] = []
    try:
        deadline = time.monotonic() + 120
        while not w.ready():
            if time.monotonic() > deadline:
                raise RuntimeError("worker not ready in 120 s")
            time.sleep(0.2)
        reader.start()
        tick = 0.01
        per_tick = max(1, round(rate * tick))
        start = time.perf_counter()
        next_burst = start + warmup
        k = i = 0
        t = start
        while k < bursts or time.perf_counter() < next_burst:
            now = time.time()
            for _ in range(per_tick):
                svc = f"svc-{i % SERVICES}"
                line = orjson.dumps(
                    {"ts": now, "service": svc, "level": "info", "msg": f"request {i} ok"}
                )
                producer.produce(topic, line, svc.encode())
                i += 1
            if k < bursts and time.perf_counter() >= next_burst:
                svc = f"burst-{k}"
                for j in range(10):
                    line = orjson.dumps(
                        {"ts": time.time(), "service": svc, "level": "error", "msg": f"boom {j}"}
                    )
                    producer.produce(topic, line, svc.encode())
                sent[svc] = time.perf_counter()
                k += 1
                next_burst += every
            producer.poll(0)
            t += tick
            pause = t - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        producer.flush()
        achieved = i / (time.perf_counter() - start)
        wait_until = time.monotonic() + 15
        while len(received) < len(sent) and time.monotonic() < wait_until:
            time.sleep(0.1)
        in_order = [received[s] - sent[s] for s in sent if s in received]
        say("latency per burst, ms: " + " ".join(f"{x * 1000:.0f}" for x in in_order))
        lat = sorted(in_order)
    except Exception as exc:
        ctx.report.extras["latency"] = Extra("latency", what, f"skipped: {exc}")
        return
    finally:
        stop_reading.set()
        if reader.is_alive():
            reader.join(5)
        w.stop()
    if len(lat) < 20:
        value = f"skipped: only {len(lat)} of {len(sent)} alerts arrived"
        ctx.report.extras["latency"] = Extra("latency", what, value)
        return
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]
    value = f"p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, max {lat[-1] * 1000:,.0f} ms"
    floor = broker_floor(ctx.bootstrap)
    note = (
        f"{len(lat)} of {len(sent)} alerts; steady input achieved {achieved:,.0f} events/s; "
        f"one message produce -> consume through the broker alone: {floor * 1000:,.0f} ms"
    )
    ctx.report.extras["latency"] = Extra("latency", what, value, note, number=p99)
    say(f"latency: {value} ({note})")


# --------------------------------------------------------------------------- the table


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def verdict(value: float | None, goal: float, *, below: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value < goal if below else value >= goal
    return "PASS" if ok else "MISS"


def render(ctx: Ctx, produced: dict[str, float]) -> str:
    rep = ctx.report
    lines = [
        f"# logradar bench, {time.strftime('%Y-%m-%d %H:%M')}, os.cpu_count() = {os.cpu_count()}, "
        f"{platform.python_implementation()} {platform.python_version()}",
        f"events: {ctx.n:,} single-record in mixed formats (bench.raw) and "
        f"{ctx.otlp_records:,} OTLP log records in {produced['otlp_msgs']:,.0f} messages of "
        f"{PER_MESSAGE} (bench.otlp); {PARTITIONS} partitions; embedded broker (Tansu); "
        f"produced in {produced['raw_s']:.0f} s + {produced['otlp_s']:.0f} s; "
        f"{event_loop()} event loop in the worker and the Faust peers",
        "",
        "| # | what | rate | vs aiokafka ceiling | note |",
        "|---|---|---|---|---|",
    ]
    ceiling = {"json": rep.rate("aiokafka"), "otlp": rep.rate("aiokafka_otlp")}
    for i, row in enumerate(rep.rows.values(), 1):
        base = ceiling["otlp" if "otlp" in row.key else "json"]
        r = ratio(row.rate, base)
        rel = "" if row.key == "backtest" or r is None else f"{r:.1%}"
        rate = row.cell() + ("" if row.rate is None else f" {row.unit}")
        lines.append(f"| {i} | {row.what} | {rate} | {rel} | {row.note} |")
    if rep.extras:
        lines += ["", "| measure | value | note |", "|---|---|---|"]
        for e in rep.extras.values():
            lines.append(f"| {e.what} | {e.value} | {e.note} |")
    full = rep.rate("logradar")
    otlp = rep.rate("logradar_otlp")

    def extra(key: str) -> float | None:
        e = rep.extras.get(key)
        return None if e is None else e.number

    targets: list[tuple[str, float | None, str, str]] = []

    def add(name: str, value: float | None, goal: float, fmt: str, below: bool = False) -> None:
        shown = "n/a" if value is None else fmt.format(value)
        sign = "<" if below else ">="
        goal_text = fmt.format(goal)
        targets.append(
            (name, value, f"{shown} ({sign} {goal_text})", verdict(value, goal, below=below))
        )

    add(
        "full pipeline / Faust count-only agent",
        ratio(full, rep.rate("faust_count")),
        0.8,
        "{:.0%}",
    )
    add(
        "full pipeline / straightforward Faust",
        ratio(full, rep.rate("faust_windowed")),
        3,
        "{:.1f}x",
    )
    add("OTLP batched, records/s per worker", otlp, 200_000, "{:,.0f}")
    add("OTLP batched / Quix Streams", ratio(otlp, rep.rate("quix")), 5, "{:.1f}x")
    add(
        "OTLP batched / bare aiokafka over the OTLP topic",
        ratio(otlp, rep.rate("aiokafka_otlp")),
        0.5,
        "{:.0%}",
    )
    add("backtest, events/s on one core", rep.rate("backtest"), 500_000, "{:,.0f}")
    add("scale-out: 2 workers / 1", ratio(rep.rate("scale2"), full), 1.7, "{:.2f}x")
    add("alert latency p99, seconds", extra("latency"), 1.0, "{:.2f} s", below=True)
    add("recovery: restart to /readyz, seconds", extra("recovery"), 10.0, "{:.1f} s", below=True)
    mems = [m for m in (extra("memory"), extra("memory_keys")) if m is not None]
    add(
        "worker memory (RSS, the larger measure), MB",
        max(mems, default=None),
        300,
        "{:,.0f} MB",
        below=True,
    )
    lines += ["", "| target | measured (goal) | verdict |", "|---|---|---|"]
    for name, _value, text, v in targets:
        lines.append(f"| {name} | {text} | **{v}** |")
    passed = sum(t[3] == "PASS" for t in targets)
    missed = sum(t[3] == "MISS" for t in targets)
    lines += ["", f"targets: {passed} PASS, {missed} MISS, {len(targets) - passed - missed} n/a"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 events, skip the long rows")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="py-spy the logradar worker (single-record and OTLP) into DIR",
    )
    parser.add_argument("--only", default="", help="comma-separated row keys (debugging)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs and files here")
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 1_000_000)
    only = {k for k in args.only.split(",") if k}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    broker = start_broker()
    with tempfile.TemporaryDirectory(prefix="logradar-bench-") as tmp:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            tmp = str(args.workdir)
        start_ts = math.floor(time.time() / 60) * 60 - 6 * 3600
        ctx = Ctx(broker, Path(tmp), n, 0, args.quick, args.profile, Report(), start_ts)
        produced = {"raw_s": 0.0, "otlp_s": 0.0, "otlp_msgs": 0.0}
        try:
            ensure_topics(
                broker.bootstrap, ["bench.raw", "bench.otlp"], PARTITIONS, config=TOPIC_CONFIG
            )
            t = time.perf_counter()
            say(f"producing {n:,} single-record events to bench.raw")
            produce(
                broker.bootstrap, "bench.raw", ((r.key, r.value) for r in events(n, ctx.start_ts))
            )
            raw_s = time.perf_counter() - t
            # the worker's counters move once per batch (up to 2,000 messages = 200,000
            # records): fewer than ~5 batches cannot be timed, hence 500,000 in --quick
            otlp_n = max(n, 500_000)
            t = time.perf_counter()
            say(f"producing {otlp_n:,} events as OTLP, {PER_MESSAGE} records a message")
            counter = [0]

            def counted_values() -> Iterator[tuple[None, bytes]]:
                for value, records in otlp_values(events(otlp_n, ctx.start_ts), PER_MESSAGE):
                    counter[0] += records
                    yield None, value

            msgs = produce(broker.bootstrap, "bench.otlp", counted_values())
            ctx.otlp_records = counter[0]
            produced = {"raw_s": raw_s, "otlp_s": time.perf_counter() - t, "otlp_msgs": msgs}
            rep = ctx.report
            # ~1,000 events/s: capped so the row takes a minute or two, not a quarter hour
            windowed_n = min(n, 30_000 if args.quick else 100_000)
            plan: list[tuple[str, str, str, Callable[[], tuple[float, str]]]] = [
                (
                    "aiokafka",
                    "bare aiokafka getmany + orjson.loads (Python ceiling)",
                    "events/s",
                    lambda: bare(ctx, "json", "bench.raw", n),
                ),
                (
                    "confluent",
                    "bare confluent-kafka consume(10000) + orjson.loads",
                    "events/s",
                    lambda: confluent(ctx),
                ),
                (
                    "quix",
                    "Quix Streams: tumbling 10 s count per key",
                    "events/s",
                    lambda: quix(ctx),
                ),
                (
                    "faust_count",
                    "Faust agent that only counts (raw bytes, take(1000))",
                    "events/s",
                    lambda: faust_peer(ctx, "faust_count", n, 3_000),
                ),
                (
                    "faust_windowed",
                    "Faust straightforward: tumbling(60) + hopping(300, 60) tables, += 1 per event",
                    "events/s",
                    lambda: faust_peer(ctx, "faust_windowed", windowed_n, 500),
                ),
                (
                    "logradar",
                    "logradar worker, one record per message (full pipeline, default detectors)",
                    "events/s",
                    lambda: logradar_single(ctx),
                ),
                (
                    "logradar_otlp",
                    f"logradar worker, batched OTLP ({PER_MESSAGE} records a "
                    "message, LOGRADAR_INPUT_ENCODING=otlp_proto)",
                    "records/s",
                    lambda: logradar_otlp(ctx),
                ),
                (
                    "aiokafka_otlp",
                    "bare aiokafka getmany + protobuf FromString, every record "
                    "walked, over bench.otlp",
                    "records/s",
                    lambda: bare(ctx, "otlp", "bench.otlp", ctx.otlp_records),
                ),
                (
                    "backtest",
                    "backtest (logradar.backtest over a file of the same events, "
                    "no broker, one core)",
                    "events/s",
                    lambda: backtest_rate(ctx),
                ),
            ]
            for key, what, unit, fn in plan:
                if only and key not in only:
                    continue
                measured(rep.row(key, what, unit), fn)
            if not only or "scale2" in only:
                scale_out(ctx)
            if not only or "latency" in only:
                latency(ctx)
            if not only or "memory_keys" in only:
                memory_many_keys(ctx)
        finally:
            broker.stop()
    table = render(ctx, produced)
    table += f"\n\nbench took {time.monotonic() - started:.0f} s"
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()

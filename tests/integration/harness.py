"""Helpers for integration tests: logradar workers as real processes, topic readers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from logradar.broker import EmbeddedBroker, free_port
from logradar.kafka import ensure_topics, make_consumer

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Topics:
    input: str
    counts: str
    alerts: str
    dead_letter: str

    @classmethod
    def unique(cls, suffix: str) -> Topics:
        return cls(f"in-{suffix}", f"counts-{suffix}", f"alerts-{suffix}", f"dlq-{suffix}")

    def all(self) -> list[str]:
        return [self.input, self.counts, self.alerts, self.dead_letter]


@dataclass
class Worker:
    """One ``logradar worker`` process."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = field(default_factory=free_port)

    def start(self) -> Worker:
        env = {**os.environ, **self.env, "LOGRADAR_WEB_PORT": str(self.port)}
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "logradar", "worker", "--loglevel", "info"],
            cwd=REPO,
            env=env,
            stdout=open(self.log, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=5) as r:
            return orjson.loads(r.read())

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /status answers with at least one assigned partition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}: {self.tail()}")
            try:
                if self.status().get("assigned"):
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready in {timeout}s: {self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"worker did not stop in {timeout}s: {self.tail()}") from None


def worker_env(
    broker: EmbeddedBroker, topics: Topics, app_id: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    env = {
        "LOGRADAR_BROKER": broker.url,
        "LOGRADAR_APP_ID": app_id,
        "LOGRADAR_INPUT_TOPICS": topics.input,
        "LOGRADAR_COUNTS_TOPIC": topics.counts,
        "LOGRADAR_ALERTS_TOPIC": topics.alerts,
        "LOGRADAR_DEAD_LETTER_TOPIC": topics.dead_letter,
        "LOGRADAR_DATA_DIR": str(data_dir),
        "LOGRADAR_IDLE_FLUSH_S": "4",
        "LOGRADAR_SESSION_TIMEOUT_S": "10",
        "LOGRADAR_TOPIC_PARTITIONS": "4",
    }
    env.update(extra)
    return env


BURST_ONLY_RULES = """\
# Only the error-burst detector: the foundation tests check counts and bursts alone.
defaults:
  anomaly: {enabled: false}
  rate: {enabled: false}
templates: {enabled: false}
"""


def burst_only_rules(directory: Path) -> str:
    path = directory / "burst-only.yaml"
    path.write_text(BURST_ONLY_RULES)
    return str(path)


def create_topics(broker: EmbeddedBroker, topics: Topics, partitions: int = 4) -> None:
    ensure_topics(broker.bootstrap, topics.all(), partitions)


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 120.0,
    settle: float = 2.0,
) -> list[dict[str, Any]]:
    """Read JSON records of ``topic`` from the start with confluent-kafka (not Faust).

    Returns once ``until(records)`` holds and nothing new arrived for ``settle``
    seconds (so duplicates would show), or at ``timeout``.
    """
    consumer = make_consumer(bootstrap, f"reader-{topic}-{time.monotonic_ns()}")
    consumer.subscribe([topic])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msgs = consumer.consume(1000, 0.5)
            for msg in msgs:
                if msg.error():
                    continue
                records.append(orjson.loads(msg.value()))
            if msgs:
                last_new = time.monotonic()
            elif until(records) and time.monotonic() - last_new >= settle:
                break
    finally:
        consumer.close()
    return records


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``, from /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name:
                continue
            if labels and any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            total += sample.value
    return total


def read_all(bootstrap: str, topic: str, partitions: int = 4) -> list[Any]:
    """Every record of ``topic`` (confluent-kafka messages), until 2 s bring nothing new."""
    from confluent_kafka import TopicPartition

    consumer = make_consumer(bootstrap, f"dump-{time.monotonic_ns()}")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    found: list[Any] = []
    idle = 0
    try:
        while idle < 4:
            msgs = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            idle = 0 if msgs else idle + 1
            found.extend(msgs)
    finally:
        consumer.close()
    return found


def dump_topic(bootstrap: str, topic: str, path: Path, partitions: int = 4) -> int:
    """Write every record of ``topic`` as ``partition offset key value`` lines (diagnostics)."""
    lines = []
    for m in read_all(bootstrap, topic, partitions):
        key = (m.key() or b"").decode("utf-8", "replace").replace("\x1f", "|")
        value = (m.value() or b"").decode("utf-8", "replace")
        lines.append(f"{m.partition()} {m.offset()} {key} {value}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)

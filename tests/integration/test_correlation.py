"""Patterns and sessions across services on the embedded broker.

`checkout` and `payments` are keyed by service, so their events sit on
different partitions; the worker forwards the events the rules need to its
correlation topic keyed by ``order_id`` / ``user``, where they meet.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from logradar.kafka import make_producer
from tests.integration.harness import (
    Topics,
    Worker,
    create_topics,
    metric_value,
    read_topic,
    worker_env,
)

pytestmark = pytest.mark.integration

RULES = """\
defaults:
  burst: {enabled: false}
  anomaly: {enabled: false}
  rate: {enabled: false}
templates: {enabled: false}
patterns:
  - name: brute_force_login
    severity: high
    key: user
    within: 60s
    steps:
      - {service: auth, message: "login failed", count: 5}
      - {service: auth, message: "login succeeded"}
  - name: order_without_payment
    key: order_id
    steps:
      - {service: checkout, message: "order created"}
      - {absent: {service: payments, message: "payment captured"}, within: 2m}
sessions:
  - {key: user, timeout: 5m, long: 30m}
"""


def event(ts: float, service: str, message: str, **attrs: str) -> tuple[bytes, bytes]:
    doc = {"ts": ts, "service": service, "level": "info", "msg": message, **attrs}
    return service.encode(), orjson.dumps(doc)


def scenario(t0: float) -> list[tuple[bytes, bytes]]:
    records = []
    # 20 orders, each paid 10 s later, except o7
    for i in range(20):
        records.append(event(t0 + i * 10, "checkout", "order created", order_id=f"o{i}"))
        if i != 7:
            records.append(
                event(t0 + i * 10 + 10, "payments", "payment captured", order_id=f"o{i}")
            )
    # alice: 5 failures then a success within 60 s; bob: 4 failures, a success
    for i in range(5):
        records.append(event(t0 + 300 + i * 5, "auth", "login failed", user="alice"))
    records.append(event(t0 + 330, "auth", "login succeeded", user="alice"))
    for i in range(4):
        records.append(event(t0 + 400 + i * 5, "auth", "login failed", user="bob"))
    records.append(event(t0 + 425, "auth", "login succeeded", user="bob"))
    # carol stays active for 40 minutes (a long session); time moves on to close everything
    for minute in range(41):
        records.append(event(t0 + 600 + minute * 60, "auth", "token refreshed", user="carol"))
    records.append(event(t0 + 6000, "checkout", "heartbeat"))
    records.sort(key=lambda kv: orjson.loads(kv[1])["ts"])
    return records


def start_worker(broker: Any, unique: str, tmp_path: Path) -> tuple[Topics, Worker]:
    """Topics named after ``unique`` and a worker with RULES, its sessions to sessions-<unique>."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    topics = Topics.unique(unique)
    create_topics(broker, topics)
    env = worker_env(
        broker,
        topics,
        f"lr-{unique}",
        tmp_path / "w",
        LOGRADAR_RULES=str(rules),
        LOGRADAR_SESSIONS_TOPIC=f"sessions-{unique}",
    )
    return topics, Worker(env, tmp_path / "w.log").start()


def test_patterns_and_sessions_meet_across_partitions(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    topics, worker = start_worker(broker, unique, tmp_path)
    sessions_topic = f"sessions-{unique}"
    try:
        worker.wait_ready()
        producer = make_producer(broker.bootstrap)
        t0 = math.floor(time.time()) - 3 * 3600
        for key, value in scenario(t0):
            producer.produce(topics.input, value, key)
        producer.flush()
        alerts = read_topic(broker.bootstrap, topics.alerts, until=lambda g: len(g) >= 3)
        fired = sorted((a["rule"], a["extra_key"]) for a in map(_subject, alerts))
        assert fired == [
            ("brute_force_login", "alice"),
            ("long_session", "carol"),
            ("order_without_payment", "o7"),
        ]
        sessions = read_topic(broker.bootstrap, sessions_topic, until=lambda g: len(g) >= 3)
        by_user = {s["key_value"]: s for s in sessions}
        assert set(by_user) == {"alice", "bob", "carol"}
        assert by_user["carol"]["events"] == 41
        assert by_user["alice"]["events"] == 6
    finally:
        worker.stop()


def test_a_payment_read_before_its_order_still_counts(
    broker: Any, unique: str, tmp_path: Path
) -> None:
    """The worker reads every payment before any order (CI once saw it happen by chance).

    The payments are produced and counted first; the orders come after. Each
    order is paid 10 s after it was created, except o7, so only o7 may fire.
    Each service gets a partition of its own: on a shared one, the orders would
    arrive behind the payments' watermark, late, and be dropped as such.
    """
    topics, worker = start_worker(broker, unique, tmp_path)
    try:
        worker.wait_ready()
        producer = make_producer(broker.bootstrap)
        t0 = math.floor(time.time()) - 3 * 3600
        records = scenario(t0)
        payments = [(k, v) for k, v in records if k == b"payments"]
        rest = [(k, v) for k, v in records if k != b"payments"]
        partition = {b"checkout": 0, b"payments": 1, b"auth": 2}
        for key, value in payments:
            producer.produce(topics.input, value, key, partition=partition[key])
        producer.flush()
        deadline = time.monotonic() + 60
        while metric_value(worker.metrics(), "logradar_events_total") < len(payments):
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.2)
        for key, value in rest:
            producer.produce(topics.input, value, key, partition=partition[key])
        producer.flush()
        alerts = read_topic(broker.bootstrap, topics.alerts, until=lambda g: len(g) >= 3)
        fired = sorted((a["rule"], a["key_value"]) for a in alerts)
        assert fired == [
            ("brute_force_login", "alice"),
            ("long_session", "carol"),
            ("order_without_payment", "o7"),
        ]
    finally:
        worker.stop()


def _subject(alert: dict[str, Any]) -> dict[str, Any]:
    return {**alert, "extra_key": alert.get("key_value")}

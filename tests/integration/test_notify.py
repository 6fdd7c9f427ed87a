"""``logradar notify`` end to end: alerts topic on the embedded broker -> a real webhook."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from logradar.alerts import Alert
from logradar.broker import free_port
from logradar.kafka import ensure_topics, make_consumer, make_producer
from logradar.notify.runner import make_notifier, run
from logradar.notify.settings import NotifySettings
from logradar.settings import load_settings
from tests.integration.harness import REPO

pytestmark = pytest.mark.integration

SECRET = "e2e-secret"
T0 = 1_795_000_020


def alert(state: str) -> dict[str, Any]:
    return Alert(
        id=f"e2e-{state}",
        rule="error_burst",
        kind="burst",
        severity="high",
        state=state,  # type: ignore[arg-type]
        service="checkout",
        level="ERROR",
        window_start=T0,
        window_end=T0 + 60,
        event_time=T0 + 30,
        observed=42,
        expected=5,
        threshold=20,
        score=2.1,
        summary=f"checkout burst {state}",
        extra={"incident_window_start": T0},
    ).to_dict(detected_at=T0 + 61)


@dataclass
class Hook:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    port = free_port()
    h = Hook(f"http://127.0.0.1:{port}/hook")

    async def handle(request: web.Request) -> web.Response:
        h.bodies.append(await request.read())
        h.headers.append(dict(request.headers))
        return web.Response(status=h.status)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield h
    await runner.cleanup()


def produce(bootstrap: str, topic: str, docs: list[dict[str, Any]]) -> None:
    producer = make_producer(bootstrap)
    for doc in docs:  # one key: one partition, in order
        producer.produce(topic, orjson.dumps(doc), key=doc["service"].encode())
    assert producer.flush(30) == 0


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = make_consumer(bootstrap, group)
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


def read_all(bootstrap: str, topic: str, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    consumer = make_consumer(bootstrap, f"read-{topic}-{time.monotonic_ns()}")
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(orjson.loads(msg.value()))
    finally:
        consumer.close()
    return got


async def notify_cli(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "logradar",
        "notify",
        "--once",
        "--idle",
        "3",
        cwd=REPO,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_notify_command_delivers_each_state_once_and_commits(
    broker: Any, unique: str, hook: Hook
) -> None:
    alerts, dlq, app_id = f"alerts-{unique}", f"dlq-{unique}", f"notify-{unique}"
    ensure_topics(broker.bootstrap, [alerts, dlq], 2)
    firing, resolved = alert("firing"), alert("resolved")
    produce(broker.bootstrap, alerts, [firing, firing, resolved])
    env = {
        "LOGRADAR_BROKER": broker.url,
        "LOGRADAR_APP_ID": app_id,
        "LOGRADAR_ALERTS_TOPIC": alerts,
        "LOGRADAR_DEAD_LETTER_TOPIC": dlq,
        "LOGRADAR_NOTIFY_WEBHOOK_URL": hook.url,
        "LOGRADAR_NOTIFY_WEBHOOK_SECRET": SECRET,
    }

    code, out = await notify_cli(env)
    assert code == 0, out
    assert "handled 3 alert records, 0 dead letters" in out
    assert SECRET not in out
    assert [orjson.loads(b) for b in hook.bodies] == [firing, resolved]
    for body, headers in zip(hook.bodies, hook.headers, strict=True):
        signed = headers["X-Logradar-Timestamp"].encode() + b"." + body
        mac = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["X-Logradar-Signature"] == f"sha256={mac}"
    offsets = committed(broker.bootstrap, f"{app_id}-notify", alerts, 2)
    assert sorted(offsets.values()) == [3]  # all three records, on their one partition

    # A restart resumes at the committed offsets: nothing is sent again.
    code, out = await notify_cli(env)
    assert code == 0, out
    assert "handled 0 alert records" in out and len(hook.bodies) == 2


async def test_a_failed_delivery_is_dead_lettered_then_committed(
    broker: Any, unique: str, hook: Hook
) -> None:
    alerts, dlq, app_id = f"alerts-{unique}", f"dlq-{unique}", f"notify-{unique}"
    ensure_topics(broker.bootstrap, [alerts, dlq], 2)
    hook.status = 500
    firing = alert("firing")
    produce(broker.bootstrap, alerts, [firing])
    settings = load_settings(
        broker=broker.url, app_id=app_id, alerts_topic=alerts, dead_letter_topic=dlq
    )
    conf = NotifySettings(webhook_url=hook.url, attempts=3, backoff_s=0.05)
    stats = await run(settings, make_notifier(conf), once=True, idle_s=2)
    assert (stats.records, stats.dead_letters) == (1, 1)
    assert len(hook.bodies) == 3
    [dead] = read_all(broker.bootstrap, dlq, 1)
    assert dead["reason"] == "notify_failed" and dead["sink"] == "webhook"
    assert dead["alert_id"] == firing["id"] and dead["error"].startswith("HTTP 500")
    assert dead["topic"] == alerts and orjson.loads(dead["value"]) == firing
    assert sorted(committed(broker.bootstrap, f"{app_id}-notify", alerts, 2).values()) == [1]

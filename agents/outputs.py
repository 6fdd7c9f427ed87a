"""Sends a batch's outputs and waits until the broker has them.

Outputs go out *before* the batch's state records are written (the callers
persist after this returns). After a crash the state can therefore only lag
the outputs, never lead them: a window may be emitted a second time, with the
same id and the same count, but never lost. Messages are sent with
``force=True`` so Faust does not hold them back until the next offset commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import orjson

from logradar.processor import BatchResult
from streams.app import metrics
from streams.topics import alerts, correlate, counts, dead_letters, sessions


async def send(result: BatchResult) -> None:
    pending: list[Awaitable[Any]] = []

    async def put(topic: Any, key: bytes | None, value: bytes, **kw: Any) -> None:
        pending.append(await topic.send(key=key, value=value, force=True, **kw))

    for key, value in result.forward:
        await put(correlate, key, value)
    for partition, tick in result.ticks:
        await put(correlate, b"", tick, partition=partition)
    for record in result.dead_letters:
        await put(dead_letters, None, orjson.dumps(record))
    for wc in result.counts:
        await put(
            counts,
            f"{wc.kind}|{wc.service}|{wc.level}|{wc.start}".encode(),
            orjson.dumps(wc.to_dict()),
        )
    now = time.time()
    for alert in result.alerts:
        await put(alerts, alert.service.encode(), orjson.dumps(alert.to_dict(now)))
    for record in result.sessions:
        key = f"{record['key']}={record['key_value']}".encode()
        await put(sessions, key, orjson.dumps(record))
    if pending:
        started = time.perf_counter()
        await asyncio.gather(*pending)
        metrics.output_seconds.observe(time.perf_counter() - started)

"""Sends a batch's dead letters, window counts and alerts to their topics."""

from __future__ import annotations

import time

import orjson

from logradar.processor import BatchResult
from streams.topics import alerts, counts, dead_letters


async def send(result: BatchResult) -> None:
    for record in result.dead_letters:
        await dead_letters.send(key=None, value=orjson.dumps(record))
    for wc in result.counts:
        key = f"{wc.kind}|{wc.service}|{wc.level}|{wc.start}".encode()
        await counts.send(key=key, value=orjson.dumps(wc.to_dict()))
    now = time.time()
    for alert in result.alerts:
        await alerts.send(key=alert.service.encode(), value=orjson.dumps(alert.to_dict(now)))

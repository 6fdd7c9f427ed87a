"""Sends a batch's outputs and waits until the broker has them.

Outputs go out *before* the batch's state records are written (the callers
persist after this returns). After a crash the state can therefore only lag
the outputs, never lead them: a window may be emitted a second time, with the
same id and the same count, but never lost. They go straight to Faust's
producer (``streams/produce.py`` says why).
"""

from __future__ import annotations

import time

import orjson

from logradar.processor import BatchResult
from streams.app import metrics
from streams.produce import Batch
from streams.topics import alerts, correlate, counts, dead_letters, sessions


async def send(result: BatchResult) -> None:
    out = Batch()
    put = out.put
    name = correlate.get_topic_name()
    for key, value in result.forward:
        await put(name, key, value)
    for partition, tick in result.ticks:
        await put(name, b"", tick, partition=partition)
    name = dead_letters.get_topic_name()
    for record in result.dead_letters:
        await put(name, None, orjson.dumps(record))
    name = counts.get_topic_name()
    for wc in result.counts:
        await put(name, wc.key.encode(), orjson.dumps(wc.to_dict()))
    now = time.time()
    name = alerts.get_topic_name()
    for alert in result.alerts:
        await put(name, alert.service.encode(), orjson.dumps(alert.to_dict(now)))
    name = sessions.get_topic_name()
    for record in result.sessions:
        key = f"{record['key']}={record['key_value']}".encode()
        await put(name, key, orjson.dumps(record))
    if len(out):
        started = time.perf_counter()
        try:
            await out.wait()
        finally:
            metrics.output_seconds.observe(time.perf_counter() - started)

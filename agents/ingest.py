"""Consumes raw log topics in batches and hands them to the engine."""

from __future__ import annotations

import time
from typing import Any

from agents.outputs import send
from streams.app import app, metrics, settings
from streams.topics import raw_logs
from tables.state import complete, finish, persist, processor, records_of, step


@app.agent(raw_logs)
async def ingest(stream: Any) -> None:
    async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
        await finish(handle(events))


async def handle(events: list[Any]) -> None:
    async with step:
        started = time.perf_counter()
        result = processor.process(await complete(processor, records_of(events)))
        await send(result)
        await persist(result)
        metrics.batch_seconds.observe(time.perf_counter() - started)

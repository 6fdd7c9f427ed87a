"""Consumes forwarded events keyed by correlation value and runs patterns and sessions."""

from __future__ import annotations

from typing import Any

from agents.outputs import send
from streams.app import app, settings
from streams.topics import correlate
from tables.state import complete, correlation, finish, persist, records_of, step


@app.agent(correlate)
async def correlate_events(stream: Any) -> None:
    async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
        await finish(handle(events))


async def handle(events: list[Any]) -> None:
    async with step:
        result = correlation.process(await complete(correlation, records_of(events)))
        await send(result)
        await persist(result)

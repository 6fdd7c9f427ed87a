"""Closes the windows of partitions that have been idle for IDLE_FLUSH_S wall seconds."""

from __future__ import annotations

from faust.types import TP

from agents.outputs import send
from streams.app import app, settings
from tables.state import correlation, persist, processor, step


def caught_up(tp: str, offset: int) -> bool:
    """Nothing left to read on this partition after ``offset`` (as far as the consumer knows)."""
    topic, _, partition = tp.rpartition(":")
    try:
        highwater = app.consumer.highwater(TP(topic, int(partition)))
    except Exception:  # noqa: BLE001 - not assigned (any more): not ours to flush
        return False
    return highwater is None or offset + 1 >= highwater


@app.timer(interval=max(min(settings.idle_flush_s / 4, 5.0), 0.25))
async def flush_idle() -> None:
    async with step:
        result = processor.flush_idle(caught_up=caught_up)
        if result.state or result.counts or result.alerts or result.ticks:
            await send(result)
            await persist(result)
        result = correlation.advance_idle(settings.idle_flush_s)
        if result.state or result.alerts or result.sessions:
            await send(result)
            await persist(result)

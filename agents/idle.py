"""Closes the windows of partitions that have been idle for IDLE_FLUSH_S wall seconds.

Idle means no record for that long *and* nothing left to read (the consumer's
high watermark). Assigned partitions that send nothing at all (everything was
processed before a restart) are adopted, so what they left open closes too.
"""

from __future__ import annotations

import logging

from faust.types import TP

from agents.outputs import send
from logradar.processor import tp_name
from streams.app import app, settings
from streams.topics import correlate
from tables.state import (
    correlation,
    forget_prefetched,
    persist,
    prefetch,
    processor,
    step,
    unread_tails,
)

log = logging.getLogger(__name__)


def highwater(topic: str, partition: int) -> int | None:
    """Where the partition ends, as the consumer's last fetch saw it (None: not known)."""
    try:
        return app.consumer.highwater(TP(topic, partition))  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - not assigned (any more): not ours
        log.warning("no high watermark for %s[%d]: %r", topic, partition, exc)
        return None


def caught_up(tp: str, offset: int) -> bool:
    """Nothing left to read on this partition after ``offset`` (as far as the consumer knows)."""
    topic, _, partition = tp.rpartition(":")
    end = highwater(topic, int(partition))
    # None: no fetch answered yet, so the backlog is unknown
    return end is not None and offset + 1 >= end


# A partition quiet this long while the broker holds records past its state gets them read
# back (tables/state.py::unread_tails): longer than an idle flush, so a partition merely
# starved while a backlog is read unevenly is rarely read twice.
TAIL_QUIET_S = max(3 * settings.idle_flush_s, 10.0)


def unadopted() -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Assigned (source, correlation) partitions without a pipeline yet."""
    assigned = app.assignor.assigned_actives()
    inputs = set(settings.input_topics)
    name = correlate.get_topic_name()
    sources = [(tp.topic, tp.partition) for tp in assigned if tp.topic in inputs]
    sources = [(t, p) for t, p in sources if tp_name(t, p) not in processor.pipelines]
    matches = [(tp.topic, tp.partition) for tp in assigned if tp.topic == name]
    matches = [(t, p) for t, p in matches if tp_name(t, p) not in correlation.pipelines]
    return sources, matches


def settled() -> bool:
    """Assigned, not rebalancing, and every assigned partition's state restored (/readyz)."""
    if app.rebalancing or not app.tables.recovery.completed.is_set():
        return False
    sources, matches = unadopted()
    return not sources and not matches


async def adopt_assigned() -> None:
    """Build the pipelines of assigned partitions no record has reached yet.

    Their state is read ahead in worker threads, so the event loop (the web
    port, heartbeats, the agents) never waits for a changelog read here.
    """
    if app.rebalancing or not app.tables.recovery.completed.is_set():
        return
    sources, matches = unadopted()
    if not sources and not matches:
        return
    await prefetch(p for _t, p in sources + matches)
    try:
        processor.adopt(sources)
        correlation.adopt(matches)
    finally:
        forget_prefetched()


@app.task
async def adopt() -> None:
    """Restore newly assigned partitions soon after a rebalance: /readyz waits for it.

    Settled, it looks twice a second (a few set operations). Unsettled (a start, a
    restart, a rebalance) it looks every 50 ms until every assigned partition is
    adopted, so /readyz answers within ~50 ms of Faust's recovery. A Faust timer at that
    rate cost an idle worker ~0.5% of a core more than this loop's two looks a second.
    """
    while not app.should_stop:
        if settled():
            await app.sleep(0.5)
            continue
        async with step:
            await adopt_assigned()
        await app.sleep(0.05)


@app.timer(interval=max(min(settings.idle_flush_s / 4, 5.0), 0.25))
async def flush_idle() -> None:
    async with step:
        await adopt_assigned()
        for owner in (processor, correlation):
            tail = await unread_tails(owner, highwater, TAIL_QUIET_S)
            if tail:
                result = owner.process(tail)
                await send(result)
                await persist(result)
        result = processor.flush_idle(caught_up=caught_up)
        if result.state or result.counts or result.alerts or result.ticks:
            await send(result)
            await persist(result)
        result = correlation.advance_idle(settings.idle_flush_s)
        if result.state or result.alerts or result.sessions:
            await send(result)
            await persist(result)

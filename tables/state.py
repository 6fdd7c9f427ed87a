"""The state table and the processor that reads and writes it.

One changelog-backed table holds every partition's window buckets, watermark
and detector state, keyed ``<topic>:<partition>\\x1f...``. Writes go to the
changelog partition of the *source* partition, so a partition's state moves
with it when the group rebalances.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import faust
from faust.types import TP

from logradar.kafka import read_range
from logradar.processor import (
    BatchResult,
    CorrelationProcessor,
    Hole,
    Processor,
    RawRecord,
    tp_name,
)
from logradar.rules import load_rules
from streams.app import app, metrics, settings
from streams.produce import Batch

log = logging.getLogger(__name__)


def _restore_consumer(**conf: Any) -> Any:
    """A consumer for reading changelog partitions by assignment (it never commits)."""
    from logradar.kafka import make_consumer

    return make_consumer(
        settings.bootstrap_servers, f"{settings.app_id}-restore", **settings.kafka_config(), **conf
    )


def changelog_ends(tps: Iterable[TP]) -> dict[TP, int]:
    """Where each changelog partition ends, as the broker reports it (blocking: run in a thread).

    A partition the broker does not answer for is left out.
    """
    from confluent_kafka import KafkaException, TopicPartition

    tps = list(tps)
    if not tps:
        return {}
    consumer = _restore_consumer()
    ends: dict[TP, int] = {}
    try:
        for tp in tps:
            try:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=10
                )
            except KafkaException as exc:
                log.warning("no end offset for %s[%d]: %s", tp.topic, tp.partition, exc)
                continue
            ends[tp] = high
    finally:
        consumer.close()
    return ends


class StateTable(faust.Table):  # type: ignore[misc]  # Faust's classes are untyped here
    """Faust's changelog-backed table, without Faust's replay of it.

    Faust restores an assigned table partition by reading its changelog from
    ``persisted_offset(tp)``; an in-memory store has none, so Faust reads the
    whole partition into a dict before the worker may process anything. logradar
    never reads that dict: each pipeline is restored from its own read of the
    partition (``read_changelog``, in worker threads). So this table tells Faust
    the partition is already restored up to its end, and Faust's recovery has
    nothing to do. Measured on the embedded broker after 1,000,000 events, that
    replay was ~6 s of a 14 s restart.

    The end is asked from the broker on each rebalance, before Faust's recovery
    starts. When it cannot be had, Faust's own replay runs, as it would anyway.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ends: dict[TP, int] = {}

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        name = self.changelog_topic.get_topic_name()
        mine = [tp for tp in assigned if tp.topic == name]
        loop = asyncio.get_running_loop()
        self._ends = await loop.run_in_executor(None, changelog_ends, mine)

    def persisted_offset(self, tp: TP) -> int | None:
        end = self._ends.get(tp)
        return None if end is None else end - 1


state = app.tables.add(
    StateTable(
        app,
        name="state",
        default=None,
        beacon=app.tables.beacon,
        partitions=settings.topic_partitions,
        key_type=str,
        help="logradar window buckets, watermarks and detector state per source partition.",
    )
)


def read_changelog(partition: int) -> dict[str, Any]:
    """Every key's last value in one changelog partition, read to its true end.

    A partition's pipeline is restored from this, not from Faust's table (whose
    own replay :class:`StateTable` skips). A broker's high watermark cannot be
    trusted as the end: the embedded Tansu under-reports it
    (tests/integration/test_broker_quirks.py), and Faust's recovery, which
    stopped there, left records it had fetched past that point unapplied in its
    buffers. Reading the partition here, until a poll finds nothing more, gives
    the state as the last batch left it (the changelog holds one record per key
    per batch, so this is quick). ``logradar_changelog_tail_records_total``
    counts the records found past the end the broker reported at assignment.
    """
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

    topic = state.changelog_topic.get_topic_name()
    # where Faust's recovery started (StateTable: the end the broker reported at assignment)
    recovered_to = app.tables.recovery.active_offsets.get(TP(topic, partition), -1)
    consumer = _restore_consumer(**{"enable.partition.eof": True})
    latest: dict[str, Any] = {}
    beyond = 0
    loads_key, loads_value = app.serializers.loads_key, app.serializers.loads_value
    try:
        whole = TopicPartition(topic, partition)
        try:
            low, high = consumer.get_watermark_offsets(whole, timeout=30)
        except KafkaException:  # no changelog yet (a first start): no state
            return latest
        if high <= low:
            return latest
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        # Done when the reported end is reached, the partition's EOF has been seen, and two
        # more polls find nothing (past the end a broker may under-report).
        at_eof, quiet, last = False, 0, -1
        deadline = time.monotonic() + 120
        while quiet < 2:
            if time.monotonic() > deadline:
                raise RuntimeError(f"reading {topic}[{partition}] did not reach its end in 120 s")
            got = False
            for msg in consumer.consume(5000, 0.25):
                err = msg.error()
                if err is not None:
                    at_eof = at_eof or err.code() == KafkaError._PARTITION_EOF
                    continue
                got = True
                last = msg.offset()
                key = loads_key(state.key_type, msg.key(), serializer=state.key_serializer)
                raw = msg.value()
                if raw is None:
                    latest.pop(key, None)
                else:
                    latest[key] = loads_value(
                        state.value_type, raw, serializer=state.value_serializer
                    )
                if last > recovered_to:
                    beyond += 1
            if got:
                quiet = 0
            elif at_eof and last + 1 >= high:
                quiet += 1
    finally:
        consumer.close()
    if beyond:
        metrics.changelog_tail.inc(beyond)
    return latest


# Changelog partitions read ahead, off the event loop, by ``prefetch`` (agents/idle.py).
_prefetched: dict[int, dict[str, Any]] = {}


async def prefetch(partitions: Iterable[int]) -> None:
    """Read these changelog partitions in worker threads, for pipelines about to be built."""
    loop = asyncio.get_running_loop()
    todo = sorted(set(partitions) - _prefetched.keys())
    read = await asyncio.gather(*(loop.run_in_executor(None, read_changelog, p) for p in todo))
    _prefetched.update(zip(todo, read, strict=True))


def forget_prefetched() -> None:
    _prefetched.clear()


def records_of(events: Iterable[Any]) -> list[RawRecord]:
    """The Kafka records of a batch of Faust events, as the processors take them."""
    return [
        RawRecord(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
        for m in (e.message for e in events)
    ]


async def complete(
    owner: Processor | CorrelationProcessor, batch: list[RawRecord]
) -> list[RawRecord]:
    """``batch`` with any records the consumer skipped read back and put in their place.

    Faust's consumer can skip a record (``Processor.holes`` says how); a worker
    that trusted it would count one event fewer and never know. The missing
    offsets are read from the broker in worker threads. Pipelines not built yet
    are restored first, from changelogs read in threads too.
    """
    seen = {(r.topic, r.partition) for r in batch}
    new = {p for t, p in seen if tp_name(t, p) not in owner.pipelines}
    if new:
        await prefetch(new)
    try:
        holes = owner.holes(batch)
    finally:
        forget_prefetched()
    if not holes:
        return batch
    extra = await read_back(holes, "the consumer skipped")
    return sorted([*batch, *extra], key=lambda r: (r.topic, r.partition, r.offset))


async def read_back(holes: Iterable[Hole], why: str, to_end: bool = False) -> list[RawRecord]:
    """The records at these offsets, read from the broker in worker threads."""
    holes = list(holes)
    loop = asyncio.get_running_loop()
    reads = [
        loop.run_in_executor(
            None,
            partial(
                read_range,
                settings.bootstrap_servers,
                h.topic,
                h.partition,
                h.start,
                h.end,
                conf=settings.kafka_config(),
                to_end=to_end,
            ),
        )
        for h in holes
    ]
    extra: list[RawRecord] = []
    for hole, found in zip(holes, await asyncio.gather(*reads), strict=True):
        log.warning(
            "%s %s[%d] offsets %d..%d; read %d record(s) back from the broker",
            why,
            hole.topic,
            hole.partition,
            hole.start,
            hole.end - 1,
            len(found),
        )
        extra.extend(RawRecord(hole.topic, hole.partition, *f) for f in found)
    metrics.offsets_read_back.inc(len(extra))
    return extra


async def unread_tails(
    owner: Processor | CorrelationProcessor,
    highwater: Callable[[str, int], int | None],
    quiet_s: float,
) -> list[RawRecord]:
    """Records past the state of partitions quiet for ``quiet_s`` that the consumer never gave.

    A hole at the very end of a partition has no later record to reveal it
    (``complete``): the partition just goes quiet with records left, as the
    consumer's high watermark shows. Up to a batch of them is read back per call.
    A partition merely starved while a backlog is read unevenly is read back too;
    the consumer's copies of those records are then skipped as replays.
    """
    holes = []
    for topic, partition, offset in owner.quiet(quiet_s):
        end = highwater(topic, partition)
        if end is not None and offset + 1 < end:
            holes.append(
                Hole(topic, partition, offset + 1, min(end, offset + 1 + settings.batch_size))
            )
    if not holes:
        return []
    return await read_back(holes, f"no record for {quiet_s:.0f}s from", to_end=True)


def _items_for(partition: int) -> Iterable[tuple[str, Any]]:
    latest = _prefetched.get(partition)
    if latest is None:  # a first record arrived before the idle timer read ahead
        latest = read_changelog(partition)
    return list(latest.items())


processor = Processor(
    settings, metrics, _items_for, rules=load_rules(settings.rules) if settings.rules else None
)
correlation = CorrelationProcessor(
    processor.rules, metrics, _items_for, inputs=settings.input_topics
)


# Processing a batch, sending its outputs and persisting its state is one step: the
# agents and the idle timer take this lock for it, so state records of one key can
# never reach the changelog out of order.
step = asyncio.Lock()


async def finish(work: Awaitable[None]) -> None:
    """Run one batch to its end even if the agent is cancelled meanwhile, then re-raise.

    Faust's ``take_events`` acknowledges the batch it handed out when its agent
    exits, processed or not; a batch cut off mid-way (waiting for ``step``, or
    between its outputs and its state) would then be committed unprocessed.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def persist(result: BatchResult) -> None:
    """Write a result's state changes to the changelog; wait for it.

    Faust's own ``send_changelog`` queues records in its producer buffer, and the
    flush Faust runs before committing offsets gives up on that buffer after
    0.1 s (``ProducerBuffer.flush_atmost``), so offsets could be committed ahead
    of the state that includes them. Awaiting delivery here, before the batch's
    events are acknowledged, keeps state ahead of the committed offsets. Records
    go straight to Faust's producer, serialised as the table's changelog topic
    does (``streams/produce.py`` says why).

    Nothing is kept in the table's own dict (``state.data``): the pipelines hold the
    state, and a restore reads the changelog (:func:`read_changelog`). A copy there
    was never read; it held ~20 MB in the memory soak (10,000 keys), and Faust's
    in-memory store would not have dropped the keys of a partition revoked later.
    """
    if not result.state:
        return
    changelog = state.changelog_topic
    name = changelog.get_topic_name()
    key_serializer, value_serializer = state.key_serializer, state.value_serializer
    out = Batch()
    for partition, key, value in result.state:
        raw_key, _ = changelog.prepare_key(key, key_serializer)
        # a deletion is a tombstone (Faust's serializer would write ``null``), so the
        # compacted changelog drops the key and restores read less
        raw_value = None if value is None else changelog.prepare_value(value, value_serializer)[0]
        await out.put(name, raw_key, raw_value, partition)
    await out.wait()


@app.on_partitions_revoked.connect
async def _on_revoked(app: faust.App, revoked: set[Any], **_: Any) -> None:
    processor.forget((tp.topic, tp.partition) for tp in revoked)
    correlation.forget((tp.topic, tp.partition) for tp in revoked)

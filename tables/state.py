"""The state table and the processor that reads and writes it.

One changelog-backed table holds every partition's window buckets, watermark
and detector state, keyed ``<topic>:<partition>\\x1f...``. Writes go to the
changelog partition of the *source* partition, so a partition's state moves
with it when the group rebalances.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import faust
from faust.types import TP

from logradar.processor import BatchResult, CorrelationProcessor, Processor
from logradar.rules import load_rules
from streams.app import app, metrics, settings

state = app.Table(
    "state",
    default=None,
    partitions=settings.topic_partitions,
    key_type=str,
    help="logradar window buckets, watermarks and detector state per source partition.",
)


_completed: set[int] = set()


def _complete_changelog_tail(partition: int) -> int:
    """Apply changelog records past the point Faust's recovery stopped at; returns how many.

    Faust's recovery reads a changelog partition up to the broker's high
    watermark. A broker that under-reports it (the embedded Tansu does:
    tests/integration/test_broker_quirks.py) leaves the last records unread,
    and state would lag the committed source offsets. This reads on until the
    partition has nothing more, with a plain consumer, before the partition's
    state is first used. On Apache Kafka it finds nothing and costs one fetch.
    """
    from confluent_kafka import Consumer, TopicPartition

    topic = state.changelog_topic.get_topic_name()
    tp = TP(topic, partition)
    start = app.tables.recovery.active_offsets.get(tp, -1) + 1
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": f"{settings.app_id}-tail",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            **settings.kafka_config(),
        }
    )
    applied = 0
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        empty = 0
        while empty < 2:
            msgs = consumer.consume(1000, 0.25)
            if not msgs:
                empty += 1
                continue
            for msg in msgs:
                if msg.error() is not None:
                    continue  # partition EOF, or a transient error: the next poll decides
                empty = 0
                key = app.serializers.loads_key(
                    state.key_type, msg.key(), serializer=state.key_serializer
                )
                raw = msg.value()
                if raw is None:
                    state.data.pop(key, None)
                else:
                    state.data[key] = app.serializers.loads_value(
                        state.value_type, raw, serializer=state.value_serializer
                    )
                applied += 1
    finally:
        consumer.close()
    if applied:
        metrics.changelog_tail.inc(applied)
    return applied


def _items_for(partition: int) -> Iterable[tuple[str, Any]]:
    if partition not in _completed:
        _complete_changelog_tail(partition)
        _completed.add(partition)
    return list(state.data.items())


processor = Processor(
    settings, metrics, _items_for, rules=load_rules(settings.rules) if settings.rules else None
)
correlation = CorrelationProcessor(processor.rules, metrics, _items_for)


# Processing a batch, sending its outputs and persisting its state is one step: the
# agents and the idle timer take this lock for it, so state records of one key can
# never reach the changelog out of order.
step = asyncio.Lock()


async def persist(result: BatchResult) -> None:
    """Apply a result's state changes locally and write them to the changelog; wait for it.

    Faust's own ``send_changelog`` queues records in its producer buffer, and the
    flush Faust runs before committing offsets gives up on that buffer after
    0.1 s (``ProducerBuffer.flush_atmost``), so offsets could be committed ahead
    of the state that includes them. Awaiting delivery here, before the batch's
    events are acknowledged, keeps state ahead of the committed offsets.
    """
    data = state.data
    changelog = state.changelog_topic
    pending = []
    for partition, key, value in result.state:
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
        pending.append(
            await changelog.send(
                key=key,
                value=value,
                partition=partition,
                key_serializer=state.key_serializer,
                value_serializer=state.value_serializer,
                force=True,
            )
        )
    if pending:
        await asyncio.gather(*pending)


@app.on_partitions_revoked.connect
async def _on_revoked(app: faust.App, revoked: set[Any], **_: Any) -> None:
    processor.forget((tp.topic, tp.partition) for tp in revoked)
    correlation.forget((tp.topic, tp.partition) for tp in revoked)
    _completed.difference_update(tp.partition for tp in revoked)

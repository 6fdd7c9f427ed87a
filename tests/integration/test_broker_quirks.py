"""Minimal reproductions of where the embedded broker (Tansu) differs from Apache Kafka.

These tests pin the behaviour we work around; if Tansu changes, they fail and
the workaround can go.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import TopicPartition

from logradar.kafka import ensure_topics, make_consumer, make_producer

pytestmark = pytest.mark.integration


def test_high_watermark_is_the_base_offset_of_the_last_batch(broker: Any, unique: str) -> None:
    topic = f"hw-{unique}"
    ensure_topics(broker.bootstrap, [topic], 1)
    producer = make_producer(broker.bootstrap, **{"linger.ms": 200})
    for i in range(5):  # one batch of five records: offsets 0..4
        producer.produce(topic, f"r{i}".encode(), partition=0)
    producer.flush()
    consumer = make_consumer(broker.bootstrap, f"hw-{unique}")
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = []
    while len(seen) < 5:
        msgs = consumer.consume(10, 5.0)
        assert msgs, f"only {len(seen)} records readable"
        seen.extend(m.offset() for m in msgs if m.error() is None)
    consumer.close()
    assert seen == [0, 1, 2, 3, 4]
    # Apache Kafka reports 5 (last offset + 1). Tansu reports 1: the last batch's base
    # offset + 1, as if the batch held one record. A reader that stops at the high
    # watermark (Faust's changelog recovery does) misses records 1..4.
    assert (low, high) == (0, 1), f"Tansu fixed its high watermark? got {(low, high)}"


def test_fetch_responses_carry_the_true_high_watermark(broker: Any, unique: str) -> None:
    """Only ListOffsets under-reports: a fetch response's high watermark is right.

    So a consumer's own view after fetching (aiokafka's ``highwater(tp)``, which
    logradar's idle flush uses to tell a starved partition from an idle one) is
    exact, while ``end_offsets`` / ``get_watermark_offsets`` are not.
    """
    import asyncio

    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AioTP

    topic = f"hwf-{unique}"
    ensure_topics(broker.bootstrap, [topic], 1)
    producer = make_producer(broker.bootstrap)
    for _batch in range(3):  # three batches of five: offsets 0..14
        for i in range(5):
            producer.produce(topic, f"r{i}".encode(), partition=0)
        producer.flush()

    async def read() -> tuple[int | None, int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        tp = AioTP(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got = 0
        try:
            for _ in range(20):
                got += sum(len(m) for m in (await consumer.getmany(timeout_ms=500)).values())
                if got >= 15:
                    break
            return consumer.highwater(tp), (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()

    fetched, listed = asyncio.run(read())
    assert fetched == 15  # as Apache Kafka
    assert listed == 11, f"Tansu fixed ListOffsets? got {listed}"  # Kafka: 15


def test_a_fetch_is_held_for_its_max_wait_even_when_records_arrive(
    broker: Any, unique: str
) -> None:
    """Apache Kafka answers a fetch (min bytes 1) as soon as a record arrives; Tansu does not.

    Faust's consumer asks with ``fetch_max_wait_ms=1500``, so on Tansu records
    reached a worker in 1.5 s steps and alerts came ~1.3 s late; logradar sets
    LOGRADAR_FETCH_MAX_WAIT_MS (200 ms) instead (streams/app.py).
    """
    import asyncio
    import time

    from aiokafka import AIOKafkaConsumer

    topic = f"fw-{unique}"
    ensure_topics(broker.bootstrap, [topic], 1)
    producer = make_producer(broker.bootstrap, **{"linger.ms": 0})

    async def delay(wait_ms: int) -> float:
        """From producing one record to the consumer, which is already waiting in a fetch."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            group_id=None,
            auto_offset_reset="latest",
            fetch_max_wait_ms=wait_ms,
        )
        await consumer.start()
        try:
            await consumer.getmany(timeout_ms=200)  # assigned and fetching
            slowest = 0.0
            for _ in range(4):
                await asyncio.sleep(0.05)  # a fetch is in flight
                started = time.perf_counter()
                producer.produce(topic, b"x", partition=0)
                producer.flush()
                while not any((await consumer.getmany(timeout_ms=5000)).values()):
                    pass
                slowest = max(slowest, time.perf_counter() - started)
            return slowest
        finally:
            await consumer.stop()

    held = asyncio.run(delay(3000))
    short = asyncio.run(delay(100))
    assert short < 0.5
    assert held > 1.0, f"Tansu now answers fetches early? slowest delay {held:.2f}s"  # Kafka: ms


def _join_and_leave(bootstrap: str, topic: str, group: str, patch: bool) -> tuple[int, float]:
    """One member joins and stops cleanly; returns its generation and how long a second
    member then takes to be assigned partitions."""
    import asyncio
    import time

    from aiokafka import AIOKafkaConsumer

    from streams.app import leave_group_at_generation_zero

    async def member() -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            enable_auto_commit=False,
        )
        if patch:
            leave_group_at_generation_zero(consumer)
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        return consumer

    async def run() -> tuple[int, float]:
        first = await member()
        generation = first._coordinator.generation
        await first.stop()
        started = time.perf_counter()
        second = await member()
        took = time.perf_counter() - started
        await second.stop()
        return generation, took

    return asyncio.run(run())


def test_generations_start_at_zero_so_aiokafka_does_not_leave_the_group(
    broker: Any, unique: str
) -> None:
    """Apache Kafka's first generation is 1; aiokafka sends LeaveGroup only above 0.

    So on Tansu a cleanly stopped first-generation member stays in the group
    until its session times out, and its successor waits that long to join
    (a worker restart took ~28 s). streams/app.py::leave_group_at_generation_zero
    makes the worker leave anyway.
    """
    topic = f"lg-{unique}"
    ensure_topics(broker.bootstrap, [topic], 2)
    generation, waited = _join_and_leave(broker.bootstrap, topic, f"lg-a-{unique}", patch=False)
    assert generation == 0, f"Tansu now starts generations at {generation}?"
    assert waited > 10.0, f"the successor joined in {waited:.1f}s: Tansu dropped the member?"
    generation, waited = _join_and_leave(broker.bootstrap, topic, f"lg-b-{unique}", patch=True)
    assert generation == 0
    assert waited < 9.0, f"the successor still waited {waited:.1f}s"

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

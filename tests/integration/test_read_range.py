"""``read_range``: how a worker reads back records its consumer skipped, on a real broker."""

from __future__ import annotations

from typing import Any

import pytest

from logradar.kafka import ensure_topics, make_producer, read_range

pytestmark = pytest.mark.integration


def test_read_range_returns_exactly_the_offsets_asked_for(broker: Any, unique: str) -> None:
    topic = f"rr-{unique}"
    ensure_topics(broker.bootstrap, [topic], 2)
    producer = make_producer(broker.bootstrap, **{"linger.ms": 50})
    for i in range(30):  # several batches, so the range starts and ends inside them
        producer.produce(topic, f"v{i}".encode(), key=f"k{i}".encode(), partition=1)
        if i % 7 == 6:
            producer.flush()
    producer.flush()
    got = read_range(broker.bootstrap, topic, 1, 5, 23, timeout=30)
    assert [f.offset for f in got] == list(range(5, 23))
    assert [(f.key, f.value) for f in got] == [
        (f"k{i}".encode(), f"v{i}".encode()) for i in range(5, 23)
    ]
    assert all(f.timestamp is not None and f.timestamp > 1.7e9 for f in got)
    # the last record of the partition as the end: everything before it
    assert [f.offset for f in read_range(broker.bootstrap, topic, 1, 27, 29)] == [27, 28]
    # to the end of the partition (an end from a fetch response, no record there)
    tail = read_range(broker.bootstrap, topic, 1, 27, 30, timeout=30, to_end=True)
    assert [f.offset for f in tail] == [27, 28, 29]


def test_read_range_gives_up_with_a_clear_error_when_the_range_cannot_be_read() -> None:
    from logradar.broker import free_port

    nowhere = f"127.0.0.1:{free_port()}"
    with pytest.raises(RuntimeError, match=r"could not read t\[0\] offsets 3\.\.4 within 2s"):
        read_range(nowhere, "t", 0, 3, 5, timeout=2)

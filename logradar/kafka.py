"""Small confluent-kafka helpers shared by the CLI tools and the tests."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]


def make_producer(bootstrap: str, **conf: Any) -> Producer:
    """A producer tuned for throughput (lz4 off: the embedded broker stores as given)."""
    base = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 20,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 500000,
        "enable.idempotence": False,
        "acks": "all",
    }
    base.update(conf)
    return Producer(base)


def make_consumer(bootstrap: str, group: str, **conf: Any) -> Consumer:
    """A consumer that starts at the earliest offset and never commits."""
    base = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
    }
    base.update(conf)
    return Consumer(base)


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 4,
    config: dict[str, str] | None = None,
    timeout: float = 15.0,
    conf: Mapping[str, Any] | None = None,
) -> None:
    """Create any of ``topics`` that do not exist yet (existing ones are left as they are).

    ``conf`` adds client options (``Settings.kafka_config()``: TLS and SASL).
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, **(conf or {})})
    deadline = time.monotonic() + timeout
    wanted = set(topics)
    while True:
        existing = set(admin.list_topics(timeout=timeout).topics)
        missing = sorted(wanted - existing)
        if not missing:
            return
        futures = admin.create_topics(
            [NewTopic(t, partitions, 1, config=dict(config or {})) for t in missing]
        )
        for topic, fut in futures.items():
            try:
                fut.result(timeout)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc) and time.monotonic() > deadline:
                    raise RuntimeError(f"could not create topic {topic}: {exc}") from exc
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics not visible after {timeout}s: {missing}")
        time.sleep(0.2)


def topic_partitions(
    bootstrap: str, topic: str, timeout: float = 10.0, conf: Mapping[str, Any] | None = None
) -> int:
    """How many partitions ``topic`` has (0 when it does not exist)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **(conf or {})})
    meta = admin.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        return 0
    return len(meta.partitions)


class TopicLayoutError(RuntimeError):
    """The input topics' partition count does not match LOGRADAR_TOPIC_PARTITIONS."""


def wait_for_broker(
    bootstrap: str,
    *,
    timeout: float | None = None,
    log: Any = None,
    every: float = 5.0,
    conf: Mapping[str, Any] | None = None,
) -> None:
    """Block until the broker answers a metadata request, saying so every ``every`` seconds."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, **(conf or {})})
    started = time.monotonic()
    while True:
        try:
            admin.list_topics(timeout=every)
            return
        except KafkaException as exc:
            waited = time.monotonic() - started
            if timeout is not None and waited >= timeout:
                raise RuntimeError(f"broker {bootstrap} unreachable for {waited:.0f}s") from exc
            if log is not None:
                log(f"waiting for the broker at {bootstrap} ({waited:.0f}s so far): {exc}")


def broker_reachable(
    bootstrap: str, conf: Mapping[str, Any] | None = None, timeout: float = 3.0
) -> str | None:
    """None when the cluster answers a metadata request within ``timeout``, else why not."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, **(conf or {})})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        return str(exc.args[0] if exc.args else exc)
    return None


def prepare_topics(
    bootstrap: str,
    inputs: Iterable[str],
    outputs: Iterable[str],
    partitions: int,
    conf: Mapping[str, Any] | None = None,
) -> None:
    """Create missing topics; refuse inputs whose partition count differs from ``partitions``.

    Faust keeps each input partition's state on the changelog partition of the
    same number, so the two counts must match.
    """
    inputs, outputs = list(inputs), list(outputs)
    ensure_topics(bootstrap, [*inputs, *outputs], partitions, conf=conf)
    for topic in inputs:
        n = topic_partitions(bootstrap, topic, conf=conf)
        if n != partitions:
            raise TopicLayoutError(
                f"input topic {topic} has {n} partitions but LOGRADAR_TOPIC_PARTITIONS="
                f"{partitions}; set it to the input topics' partition count"
            )


class Fetched(NamedTuple):
    """One record read back by :func:`read_range`."""

    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None  # epoch seconds


def read_range(
    bootstrap: str,
    topic: str,
    partition: int,
    start: int,
    end: int,
    conf: Mapping[str, Any] | None = None,
    timeout: float = 60.0,
    *,
    to_end: bool = False,
) -> list[Fetched]:
    """The records of ``topic[partition]`` at offsets ``start`` up to (not including) ``end``.

    Offsets in the range that hold no record (transaction markers, compacted or
    expired records) are simply absent from the result. Reading stops at the first
    record at or past ``end``: the caller has seen the record at ``end``, so it
    exists. With ``to_end`` (``end`` is where the partition ends, from a fetch
    response) reading also stops at the end of the partition. It reads uncommitted
    records too, as Faust's consumer does. Raises ``RuntimeError`` when the range
    cannot be read within ``timeout`` seconds (the broker is unreachable).
    """
    from confluent_kafka import KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"logradar-read-range-{topic}",
            "enable.auto.commit": False,
            "enable.partition.eof": to_end,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_uncommitted",
            "log_level": 0,
            **(conf or {}),
        }
    )
    found: list[Fetched] = []
    deadline = time.monotonic() + timeout
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        while True:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"could not read {topic}[{partition}] offsets {start}..{end - 1} "
                    f"within {timeout:.0f}s"
                )
            for msg in consumer.consume(max(end - start, 1), 0.5):
                err = msg.error()
                if err is not None:
                    if to_end and err.code() == KafkaError._PARTITION_EOF:
                        return found
                    continue
                offset = msg.offset()
                if offset is None:
                    continue
                if offset >= end:
                    return found
                if offset >= start:
                    kind, ms = msg.timestamp()
                    ts = ms / 1000.0 if kind != 0 and ms >= 0 else None
                    found.append(Fetched(offset, msg.key(), msg.value(), ts))
    finally:
        consumer.close()
